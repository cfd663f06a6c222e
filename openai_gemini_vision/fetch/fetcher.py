"""The only place that opens a network connection for an image: limits, redirects, address checks.

An image URL in message JSON may come from a stranger, so a fetch must not become a way
into the machine's own network (server-side request forgery). Before any connection:

- only `http` and `https`; `allowed_hosts`, when set, must name the host;
- the URL is read by httpx2's own parser, the one that connects, so no host can look
  different to the check than to the connection;
- an IP literal, however it is spelled (`2130706433`, `0x7f.1`, `[::ffff:127.0.0.1]`),
  is checked as the address it means (`addresses.refusal`); `localhost` and names under
  it, reserved for loopback by RFC 6761, are refused without asking the resolver;
- a host name is resolved once, every address it resolves to must be public, and the
  connection goes to one of those very addresses (no second lookup that a rebinding
  DNS server could answer differently). This happens in the connection pool's network
  backend, so it holds for every connection httpx2 opens, redirects included.

`allow_private_urls=True` lifts the address checks (not the scheme or host checks).
Redirects are followed by hand, at most five, each hop checked like the first. The body
is read up to `max_fetch_bytes`, uncompressed, and `fetch_timeout` bounds the whole
fetch. The clients it runs on, and the address guard inside them, are `connections`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urljoin, urlsplit, urlunsplit

import anyio
import httpcore2
import httpx2

from ..errors import BlockedURLError, FetchError
from ..policy import ImagePolicy
from . import connections
from .addresses import literal_address, refusal
from .connections import Refused

__all__ = [
    "MAX_REDIRECTS",
    "afetch_image",
    "afetch_many",
    "fetch_image",
    "fetch_many",
    "public_url",
]

#: Redirects followed for one image URL, each checked like the first request.
MAX_REDIRECTS = 5

_SCHEMES = frozenset({"http", "https"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_ALLOW_HINT = (
    "Image URLs may only reach public addresses; to fetch from your own network on "
    "purpose, pass ImagePolicy(allow_private_urls=True), ideally with allowed_hosts={...}."
)
_DATA_URL_HINT = "or send the image as a data: URL"


def public_url(url: str) -> str:
    """`url` without its query, fragment or credentials: safe for messages and logs."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return "<an unparsable URL>"
    netloc = f"[{host}]" if ":" in host else host
    try:
        port = parts.port
    except ValueError:  # an impossible port: leave it out of the name
        port = None
    if port is not None:
        netloc += f":{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _shown(url: httpx2.URL) -> str:
    """The URL as httpx2 will request it, without query, fragment or credentials."""
    return str(url.copy_with(userinfo=b"", query=None, fragment=None))


# The checks made before any connection, on the host as httpx2 parsed it.


def _parse(url: str) -> httpx2.URL:
    try:
        return httpx2.URL(url)
    except (httpx2.InvalidURL, ValueError, TypeError):
        # No parser text in the message: it can quote the URL's credentials.
        raise FetchError(
            f"The image URL {public_url(url)} is not a valid URL. Write "
            f"http(s)://host/path, {_DATA_URL_HINT}."
        ) from None


def _normal_host(host: str) -> str:
    """A host name compared case-blind, one trailing dot (the DNS root) dropped."""
    host = host.lower()
    return host[:-1] if host.endswith(".") else host


@functools.lru_cache(maxsize=64)
def _allowed(hosts: frozenset[str]) -> frozenset[str]:
    """`allowed_hosts` spelled as httpx2 spells hosts (IDNA, lower case)."""
    normal = set()
    for host in hosts:
        try:
            normal.add(_normal_host(httpx2.URL(f"http://{host}/").raw_host.decode("ascii")))
        except (httpx2.InvalidURL, ValueError, UnicodeError):
            normal.add(_normal_host(host))
    return frozenset(normal)


def _is_loopback_name(host: str) -> bool:
    """Whether `host` is localhost or a name under it, which RFC 6761 (6.3) reserves for
    loopback: refused as such, not left to whatever the resolver happens to answer."""
    name = _normal_host(host)
    return name == "localhost" or name.endswith(".localhost")


def _host_refusal(host: str, policy: ImagePolicy) -> str | None:
    """Why `host` (ASCII, as httpx2 connects to it) may not be fetched, or None."""
    if policy.allowed_hosts is not None and (
        _normal_host(host) not in _allowed(policy.allowed_hosts)
    ):
        return (
            f"{host} is not in ImagePolicy(allowed_hosts={sorted(policy.allowed_hosts)!r}); "
            f"add it there, {_DATA_URL_HINT}"
        )
    return None


def _check_url(url: str, policy: ImagePolicy, shown: str | None = None) -> httpx2.URL:
    """Scheme, host list and IP literals: what can be refused before any lookup.

    `shown` names the URL in messages (a redirect's names the first URL too).
    """
    try:
        parts = urlsplit(url)
        scheme, spelled = parts.scheme.lower(), parts.hostname or ""
    except ValueError:  # httpx2 will say it is invalid, below
        scheme, spelled = url.partition(":")[0].lower(), ""
    if scheme not in _SCHEMES:
        raise BlockedURLError(
            f"Cannot fetch {shown or public_url(url)}: only http:// and https:// image URLs "
            f"are fetched, not {scheme or 'scheme-less'} ones. Send the image as a data: URL "
            "instead."
        )
    literal = literal_address(spelled)
    reason = refusal(literal) if literal is not None and not policy.allow_private_urls else None
    if reason:  # before httpx2 parses it: it refuses some spellings (0177.0.0.1) as invalid
        also = "" if spelled == str(literal) else f" ({spelled} is {literal} written another way)"
        raise BlockedURLError(
            f"Refused to fetch {shown or public_url(url)}: {reason}{also}. {_ALLOW_HINT}"
        )
    parsed = _parse(url)
    shown = shown or _shown(parsed)
    host = parsed.raw_host.decode("ascii")
    if not host:
        raise FetchError(f"The image URL {shown} has no host name. Write http(s)://host/path.")
    literal = literal_address(host.strip("[]"))
    if literal is None and not all(0 < len(label) < 64 for label in _normal_host(host).split(".")):
        raise FetchError(
            f"The image URL {shown} has an impossible host name ({host[:80]!r}): each "
            f"dot-separated label takes 1 to 63 characters. Check the URL, {_DATA_URL_HINT}."
        )
    problem = _host_refusal(host, policy)
    if problem:
        raise BlockedURLError(f"Cannot fetch {shown}: {problem}.")
    if _is_loopback_name(host) and not policy.allow_private_urls:
        raise BlockedURLError(
            f"Refused to fetch {shown}: {host} is a name reserved for loopback (RFC 6761, "
            f"section 6.3: localhost and every name under it). {_ALLOW_HINT}"
        )
    if literal is not None and not policy.allow_private_urls:
        reason = refusal(literal)
        if reason:
            raise BlockedURLError(f"Refused to fetch {shown}: {reason}. {_ALLOW_HINT}")
    return parsed


# One fetch: the hops, what each answer means, and the body within the limits.


class _Fetch:
    """The state of fetching one URL: where it is, how many redirects, its deadline."""

    def __init__(self, url: str, policy: ImagePolicy) -> None:
        self.policy = policy
        self.first = public_url(url)
        self.url = _check_url(url, policy)
        self.redirects = 0
        self.received = 0
        self.seen = {str(self.url)}
        self.deadline = time.monotonic() + policy.fetch_timeout

    def where(self) -> str:
        """The URL for messages: the first one, and the hop when a redirect led elsewhere."""
        if self.redirects == 0:
            return self.first
        return f"{self.first} (redirected to {_shown(self.url)})"

    def follow(self, response: httpx2.Response) -> bool:
        """Move to where a redirect leads (checked) and say True; False for other answers."""
        location = response.headers.get("location")
        if response.status_code not in _REDIRECTS or location is None:
            return False
        try:
            target = urljoin(str(self.url), location)
        except ValueError:
            raise FetchError(
                f"Fetching {self.where()} was redirected to an unreadable Location; "
                f"give the image's final URL, {_DATA_URL_HINT}."
            ) from None
        self.redirects += 1
        if self.redirects > MAX_REDIRECTS:
            raise FetchError(
                f"Fetching {self.where()} was redirected more than {MAX_REDIRECTS} times; "
                f"give the image's final URL, {_DATA_URL_HINT}."
            )
        shown = f"{self.first} (redirected to {public_url(target)})"
        parsed = _check_url(target, self.policy, shown)
        if str(parsed) in self.seen:
            raise FetchError(
                f"Fetching {self.where()} ran into a redirect loop at {public_url(target)}; "
                f"give the image's final URL, {_DATA_URL_HINT}."
            )
        self.seen.add(str(parsed))
        self.url = parsed
        return True

    def check_final(self, response: httpx2.Response) -> None:
        """Refuse an error status, a compressed body, or a declared size over the cap."""
        status = response.status_code
        if not 200 <= status < 300:
            phrase = f" {response.reason_phrase}" if response.reason_phrase else ""
            raise FetchError(
                f"Fetching {self.where()} failed: HTTP {status}{phrase}. Check that the URL "
                f"is right and publicly readable, {_DATA_URL_HINT}."
            )
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in {"identity", ""}:
            raise FetchError(
                f"The server of {self.where()} sent the image compressed ({encoding}) though "
                "it was asked not to, so its size cannot be bounded; send the image as a "
                "data: URL."
            )
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.policy.max_fetch_bytes:
            raise self.too_big(f"declares {int(declared):,} bytes")

    def too_big(self, what: str) -> FetchError:
        return FetchError(
            f"The image at {self.where()} {what}, over ImagePolicy(max_fetch_bytes="
            f"{self.policy.max_fetch_bytes:,}). Raise max_fetch_bytes, or send a smaller image."
        )

    def count(self, chunk: bytes) -> bytes:
        """`chunk`, once it is counted within the byte cap."""
        self.received += len(chunk)
        if self.received > self.policy.max_fetch_bytes:
            raise self.too_big("is larger than that")
        return chunk

    def failed(self, exc: Exception) -> FetchError:
        """A FetchError for what went wrong on the wire, naming the URL, never its query."""
        if isinstance(exc, Refused):
            return BlockedURLError(f"Refused to fetch {self.where()}: {exc}. {_ALLOW_HINT}")
        if isinstance(exc, httpx2.TimeoutException | httpcore2.TimeoutException | TimeoutError):
            return FetchError(
                f"Fetching {self.where()} took longer than ImagePolicy(fetch_timeout="
                f"{self.policy.fetch_timeout:g}) seconds. Raise fetch_timeout, "
                f"{_DATA_URL_HINT}."
            )
        reason = (str(exc) or type(exc).__name__).rstrip(".")
        return FetchError(
            f"Could not fetch {self.where()}: {reason}. Check the URL and the network, "
            f"{_DATA_URL_HINT}."
        )


# httpcore2's timeouts come from `connections.left` before a request starts; inside one,
# httpx2 maps them.
_WIRE_ERRORS = (
    Refused,
    httpx2.HTTPError,
    httpx2.InvalidURL,
    httpcore2.TimeoutException,
    TimeoutError,
)


def _fetch_with(client: httpx2.Client, url: str, policy: ImagePolicy) -> bytes:
    state = _Fetch(url, policy)
    try:
        with connections.deadline(state.deadline):
            while True:
                timeout = connections.left(None)
                with client.stream("GET", state.url, timeout=timeout) as response:
                    if state.follow(response):
                        continue
                    state.check_final(response)
                    # Joined once at the end: growing one buffer copies the body again.
                    return b"".join([state.count(chunk) for chunk in response.iter_raw()])
    except _WIRE_ERRORS as exc:
        raise state.failed(exc) from None


async def _afetch_with(client: httpx2.AsyncClient, url: str, policy: ImagePolicy) -> bytes:
    state = _Fetch(url, policy)
    try:
        with anyio.fail_after(policy.fetch_timeout):
            while True:
                async with client.stream("GET", state.url) as response:
                    if state.follow(response):
                        continue
                    state.check_final(response)
                    return b"".join([state.count(chunk) async for chunk in response.aiter_raw()])
    except _WIRE_ERRORS as exc:
        raise state.failed(exc) from None


def fetch_image(url: str, policy: ImagePolicy) -> bytes:
    """GET an http(s) image URL within the policy's limits; raises FetchError / BlockedURLError."""
    with connections.client(policy) as client:
        return _fetch_with(client, url, policy)


async def afetch_image(url: str, policy: ImagePolicy) -> bytes:
    """Async `fetch_image`."""
    async with connections.async_client(policy) as client:
        return await _afetch_with(client, url, policy)


def fetch_many(urls: Sequence[str], policy: ImagePolicy) -> dict[str, bytes | FetchError]:
    """Fetch distinct URLs concurrently (at most `policy.fetch_concurrency` at once).

    Each URL maps to its bytes or to the FetchError it raised; one failure does not
    stop the others.
    """
    distinct = list(dict.fromkeys(urls))

    def one(client: httpx2.Client, url: str) -> bytes | FetchError:
        try:
            return _fetch_with(client, url, policy)
        except FetchError as exc:
            return exc

    with connections.client(policy) as client:
        if len(distinct) <= 1:
            return {url: one(client, url) for url in distinct}
        workers = min(policy.fetch_concurrency, len(distinct))
        with ThreadPoolExecutor(workers, thread_name_prefix="ogv-fetch") as pool:
            results = pool.map(functools.partial(one, client), distinct)
            return dict(zip(distinct, results, strict=True))


async def afetch_many(urls: Sequence[str], policy: ImagePolicy) -> dict[str, bytes | FetchError]:
    """Async `fetch_many`."""
    distinct = list(dict.fromkeys(urls))
    results: dict[str, bytes | FetchError] = {}
    limiter = anyio.CapacityLimiter(policy.fetch_concurrency)

    async def one(client: httpx2.AsyncClient, url: str) -> None:
        async with limiter:
            try:
                results[url] = await _afetch_with(client, url, policy)
            except FetchError as exc:
                results[url] = exc

    async with connections.async_client(policy) as client, anyio.create_task_group() as group:
        for url in distinct:
            group.start_soon(one, client, url)
    return {url: results[url] for url in distinct}
