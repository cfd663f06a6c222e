"""The only place that opens a network connection for an image: limits, redirects, address checks.

An image URL in message JSON may come from a stranger, so a fetch must not become a way
into the machine's own network (server-side request forgery). Before any connection:

- only `http` and `https`; `allowed_hosts`, when set, must name the host;
- the URL is read by httpx2's own parser, the one that connects, so no host can look
  different to the check than to the connection;
- an IP literal, however it is spelled (`2130706433`, `0x7f.1`, `[::ffff:127.0.0.1]`),
  is checked as the address it means (`addresses.refusal`);
- a host name is resolved once, every address it resolves to must be public, and the
  connection goes to one of those very addresses (no second lookup that a rebinding
  DNS server could answer differently). This happens in the connection pool's network
  backend, so it holds for every connection httpx2 opens, redirects included.

`allow_private_urls=True` lifts the address checks (not the scheme or host checks).
Redirects are followed by hand, at most five, each hop checked like the first. The body
is read up to `max_fetch_bytes`, uncompressed, and `fetch_timeout` bounds the whole
fetch: every lookup, connect, read and write gets only what is left of it. Proxies from
the environment are not used: a proxy would connect to addresses no one checked.
"""

from __future__ import annotations

import contextvars
import functools
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from importlib import metadata
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit, urlunsplit

import anyio
import httpcore2
import httpx2

from .addresses import literal_address, refusal
from .errors import BlockedURLError, FetchError
from .policy import ImagePolicy

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
_T = TypeVar("_T")


def _user_agent() -> str:
    try:
        version = metadata.version("openai-gemini-vision")
    except metadata.PackageNotFoundError:  # running from a source tree
        version = "0"
    return f"openai-gemini-vision/{version}"


_HEADERS = {
    "user-agent": _user_agent(),
    "accept": "image/*,*/*;q=0.8",
    # Images are compressed already; a compressed body could also inflate far past the
    # byte cap, or deflate to nothing while it streams forever.
    "accept-encoding": "identity",
}


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
    if literal is not None and not policy.allow_private_urls:
        reason = refusal(literal)
        if reason:
            raise BlockedURLError(f"Refused to fetch {shown}: {reason}. {_ALLOW_HINT}")
    return parsed


# Deadlines: what is left of fetch_timeout for each step, wherever the step happens.

#: The monotonic time the current fetch must end by; set per fetch, read by the streams.
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "openai_gemini_vision_fetch_deadline", default=None
)


def _left(timeout: float | None, late: type[Exception] = httpcore2.ReadTimeout) -> float | None:
    """`timeout` cut to what is left of the current fetch's deadline; raises `late` past it."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise late("the fetch ran out of time")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore2.NetworkStream):
    """A connection whose every read, write and TLS handshake ends by the fetch's deadline.

    httpcore2 gives each step the full timeout; without this a server sending its
    headers one byte at a time could hold a synchronous fetch for days.
    """

    def __init__(self, inner: httpcore2.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(timeout, httpcore2.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore2.NetworkStream:
        tls = self._inner.start_tls(ssl_context, server_hostname, _left(timeout))
        return _DeadlineStream(tls)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


# The network backends: the one place every connection of a fetch is opened.


class _Refused(Exception):
    """Raised inside the connection pool; turned into BlockedURLError with the URL."""


#: Lookups run here so that a slow resolver cannot outlast fetch_timeout.
_RESOLVER = ThreadPoolExecutor(4, thread_name_prefix="ogv-resolve")


def _lookup(host: str, port: int) -> list[Any]:
    """getaddrinfo, with the errors of impossible names turned into ConnectError."""
    try:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:  # UnicodeError: a label over 63 characters
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise httpcore2.ConnectError(f"cannot resolve {host}: {reason}") from None


def _addresses(host: str, infos: Iterable[Any], policy: ImagePolicy) -> list[str]:
    """The addresses to try for `host`, in the resolver's order; all must be public."""
    problem = _host_refusal(host, policy)
    if problem:
        raise _Refused(problem)
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise httpcore2.ConnectError(f"{host} resolved to no address")
    if not policy.allow_private_urls:
        for text in addresses:
            reason = refusal(ipaddress.ip_address(text))
            if reason:
                raise _Refused(f"{host} resolves to {reason}")
    return addresses


def _first_that_connects(addresses: list[str], connect: Callable[[str], _T]) -> _T:
    failure: Exception | None = None
    for address in addresses:
        try:
            return connect(address)
        except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
            failure = exc
    assert failure is not None  # _addresses returns at least one address
    raise failure


class _GuardedBackend(httpcore2.NetworkBackend):
    """httpcore2's network backend, connecting only to addresses that passed the checks."""

    def __init__(self, inner: httpcore2.NetworkBackend, policy: ImagePolicy) -> None:
        self._inner = inner
        self._policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.NetworkStream:
        lookup = _RESOLVER.submit(_lookup, host, port)
        try:
            infos = lookup.result(_left(timeout, httpcore2.ConnectTimeout))
        except FutureTimeout:
            raise httpcore2.ConnectTimeout(f"looking up {host} took too long") from None

        def connect(address: str) -> httpcore2.NetworkStream:
            wait = _left(timeout, httpcore2.ConnectTimeout)
            stream = self._inner.connect_tcp(address, port, wait, local_address, socket_options)
            return _DeadlineStream(stream)

        return _first_that_connects(_addresses(host, infos, self._policy), connect)

    def connect_unix_socket(self, path: str, *args: Any, **kwargs: Any) -> Any:
        raise _Refused("image URLs cannot reach Unix sockets")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _AsyncGuardedBackend(httpcore2.AsyncNetworkBackend):
    """The async twin of `_GuardedBackend`; `anyio.fail_after` bounds the whole fetch."""

    def __init__(self, inner: httpcore2.AsyncNetworkBackend, policy: ImagePolicy) -> None:
        self._inner = inner
        self._policy = policy

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        # The blocking resolver in a worker thread, left behind if the fetch times out.
        lookup = functools.partial(_lookup, host, port)
        infos = await anyio.to_thread.run_sync(lookup, abandon_on_cancel=True)
        failure: Exception | None = None
        for address in _addresses(host, infos, self._policy):
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # _addresses returns at least one address
        raise failure

    async def connect_unix_socket(self, path: str, *args: Any, **kwargs: Any) -> Any:
        raise _Refused("image URLs cannot reach Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One verifying context for every fetch: building one reads the trust store."""
    return httpx2.create_ssl_context(trust_env=False)


def _guard(pool: Any, backend: Callable[[Any], Any]) -> None:
    """Put the guarded backend in the pool httpx2 made, or fail loudly, never open."""
    # httpx2's transports take no network backend, and the pool's is the one place
    # every connection is opened (redirect hops and keep-alive reconnects included).
    inner = getattr(pool, "_network_backend", None)
    if not isinstance(inner, httpcore2.NetworkBackend | httpcore2.AsyncNetworkBackend):
        raise RuntimeError(
            "This httpx2/httpcore2 version keeps its network backend elsewhere, so image "
            "URLs cannot be fetched safely; install the versions pyproject.toml names."
        )
    pool._network_backend = backend(inner)


def _transport_options(policy: ImagePolicy) -> dict[str, Any]:
    # Keep-alive across the URLs of one request only: each fetch_many has its own pool.
    limits = httpx2.Limits(max_connections=policy.fetch_concurrency, keepalive_expiry=5.0)
    return {"verify": _ssl_context(), "trust_env": False, "limits": limits}


def _client(policy: ImagePolicy) -> httpx2.Client:
    transport = httpx2.HTTPTransport(**_transport_options(policy))
    _guard(transport._pool, lambda inner: _GuardedBackend(inner, policy))
    return httpx2.Client(
        transport=transport, trust_env=False, headers=_HEADERS, timeout=policy.fetch_timeout
    )


def _async_client(policy: ImagePolicy) -> httpx2.AsyncClient:
    transport = httpx2.AsyncHTTPTransport(**_transport_options(policy))
    _guard(transport._pool, lambda _: _AsyncGuardedBackend(httpcore2.AnyIOBackend(), policy))
    return httpx2.AsyncClient(
        transport=transport, trust_env=False, headers=_HEADERS, timeout=policy.fetch_timeout
    )


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
        hop = _shown(self.url)
        return self.first if hop == self.first else f"{self.first} (redirected to {hop})"

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
        if isinstance(exc, _Refused):
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


# httpcore2's timeouts come from `_left` before a request starts; inside one, httpx2 maps them.
_WIRE_ERRORS = (
    _Refused,
    httpx2.HTTPError,
    httpx2.InvalidURL,
    httpcore2.TimeoutException,
    TimeoutError,
)


def _fetch_with(client: httpx2.Client, url: str, policy: ImagePolicy) -> bytes:
    state = _Fetch(url, policy)
    token = _DEADLINE.set(state.deadline)
    try:
        while True:
            with client.stream("GET", state.url, timeout=_left(None)) as response:
                if state.follow(response):
                    continue
                state.check_final(response)
                # Joined once at the end: growing one buffer copies the body again.
                return b"".join([state.count(chunk) for chunk in response.iter_raw()])
    except _WIRE_ERRORS as exc:
        raise state.failed(exc) from None
    finally:
        _DEADLINE.reset(token)


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
    with _client(policy) as client:
        return _fetch_with(client, url, policy)


async def afetch_image(url: str, policy: ImagePolicy) -> bytes:
    """Async `fetch_image`."""
    async with _async_client(policy) as client:
        return await _afetch_with(client, url, policy)


def fetch_many(urls: Sequence[str], policy: ImagePolicy) -> dict[str, bytes | Exception]:
    """Fetch distinct URLs concurrently (at most `policy.fetch_concurrency` at once).

    Each URL maps to its bytes or to the FetchError it raised; one failure does not
    stop the others.
    """
    distinct = list(dict.fromkeys(urls))

    def one(client: httpx2.Client, url: str) -> bytes | Exception:
        try:
            return _fetch_with(client, url, policy)
        except FetchError as exc:
            return exc

    with _client(policy) as client:
        if len(distinct) <= 1:
            return {url: one(client, url) for url in distinct}
        workers = min(policy.fetch_concurrency, len(distinct))
        with ThreadPoolExecutor(workers, thread_name_prefix="ogv-fetch") as pool:
            results = pool.map(functools.partial(one, client), distinct)
            return dict(zip(distinct, results, strict=True))


async def afetch_many(urls: Sequence[str], policy: ImagePolicy) -> dict[str, bytes | Exception]:
    """Async `fetch_many`."""
    distinct = list(dict.fromkeys(urls))
    results: dict[str, bytes | Exception] = {}
    limiter = anyio.CapacityLimiter(policy.fetch_concurrency)

    async def one(client: httpx2.AsyncClient, url: str) -> None:
        async with limiter:
            try:
                results[url] = await _afetch_with(client, url, policy)
            except FetchError as exc:
                results[url] = exc

    async with _async_client(policy) as client, anyio.create_task_group() as group:
        for url in distinct:
            group.start_soon(one, client, url)
    return {url: results[url] for url in distinct}
