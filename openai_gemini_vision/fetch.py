"""The only place that opens a network connection for an image: limits, redirects, address checks.

An image URL in message JSON may come from a stranger, so a fetch must not become a way
into the machine's own network (server-side request forgery). Before any connection:

- only `http` and `https`; `allowed_hosts`, when set, must name the host;
- an IP literal, however it is spelled (`2130706433`, `0x7f.1`, `[::ffff:127.0.0.1]`),
  is checked as the address it means;
- a host name is resolved once, every address it resolves to must be global, and the
  connection goes to one of those very addresses (no second lookup that a rebinding
  DNS server could answer differently). This happens in the connection pool's network
  backend, so it holds for every connection httpx2 opens, redirects included.

`allow_private_urls=True` lifts the address checks (not the scheme or host checks).
Redirects are followed by hand, at most five, each hop checked like the first. The body
is read up to `max_fetch_bytes` and within `fetch_timeout` for the whole fetch. Proxies
from the environment are not used: a proxy would connect to addresses no one checked.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from typing import Any, TypeAlias
from urllib.parse import urljoin, urlsplit, urlunsplit

import anyio
import httpcore2
import httpx2

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
_IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
#: IPv6 prefixes that carry an IPv4 address a gateway will connect to.
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
_ALLOW_HINT = (
    "Image URLs may only reach public addresses; to fetch from your own network on "
    "purpose, pass ImagePolicy(allow_private_urls=True), ideally with allowed_hosts={...}."
)


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
    # byte cap before it is counted.
    "accept-encoding": "identity",
}


def public_url(url: str) -> str:
    """`url` without its query, fragment or credentials: safe for messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<an unparsable URL>"
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    try:
        port = parts.port
    except ValueError:  # an impossible port: leave it out of the name
        port = None
    if port is not None:
        netloc += f":{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


# --- address checks ---------------------------------------------------------------------


def _refusal(address: _IPAddress) -> str | None:
    """Why a connection to `address` is refused, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo:
            embedded = address.teredo[1]
        if embedded is None and any(address in net for net in _NAT64):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            reason = _refusal(embedded)
            return f"{reason}, inside the IPv6 address {address}" if reason else None
        if address.scope_id:
            return f"the link-local address {address}"
    for kind, test in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local (cloud metadata services live there)", address.is_link_local),
        ("multicast", address.is_multicast),
        ("site-local", isinstance(address, ipaddress.IPv6Address) and address.is_site_local),
        ("shared (carrier-grade NAT)", address in _SHARED),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("not globally routable", not address.is_global),
    ):
        if test:
            return f"the {kind} address {address}"
    return None


def _literal_address(host: str) -> _IPAddress | None:
    """The address an IP-literal host means, in any spelling inet_aton takes; else None."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if ":" in host:
        return None
    try:
        # "2130706433", "0x7f.1", "0177.0.0.1", "127.1": spellings C's resolver accepts.
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError, UnicodeError):
        return None


def _normal_host(host: str) -> str:
    return host.lower().rstrip(".")


def _check_url(url: str, policy: ImagePolicy, shown: str | None = None) -> None:
    """Scheme, host list and IP literals: what can be refused before any lookup.

    `shown` names the URL in messages (a redirect's names the first URL too).
    """
    shown = shown or public_url(url)
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError as exc:
        raise FetchError(f"{shown} is not a valid URL ({exc}).") from None
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise BlockedURLError(
            f"Cannot fetch {shown}: only http:// and https:// image URLs are fetched, "
            f"not {scheme or 'scheme-less'} ones. Send the image as a data: URL instead."
        )
    if not host:
        raise FetchError(f"The image URL {shown} has no host name. Write http(s)://host/path.")
    allowed = policy.allowed_hosts
    if allowed is not None and _normal_host(host) not in {_normal_host(h) for h in allowed}:
        raise BlockedURLError(
            f"Cannot fetch {shown}: {host} is not in ImagePolicy(allowed_hosts="
            f"{sorted(allowed)!r}). Add it there, or send the image as a data: URL."
        )
    literal = _literal_address(host)
    if literal is not None and not policy.allow_private_urls:
        reason = _refusal(literal)
        if reason:
            spelled = "" if host == str(literal) else f" ({host} is {literal} written another way)"
            raise BlockedURLError(f"Refused to fetch {shown}: {reason}{spelled}. {_ALLOW_HINT}")


class _Refused(Exception):
    """Raised inside the connection pool; turned into BlockedURLError with the URL."""


def _pick(host: str, infos: Iterable[tuple[Any, ...]], policy: ImagePolicy) -> list[str]:
    """The addresses to try for `host`, in the resolver's order; all must pass the checks."""
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise httpcore2.ConnectError(f"{host} resolved to no address")
    if not policy.allow_private_urls:
        for text in addresses:
            reason = _refusal(ipaddress.ip_address(text))
            if reason:
                raise _Refused(f"{host} resolves to {reason}")
    return addresses


def _unresolvable(host: str, exc: OSError) -> httpcore2.ConnectError:
    return httpcore2.ConnectError(f"cannot resolve {host}: {exc.strerror or exc}")


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
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise _unresolvable(host, exc) from None
        failure: Exception | None = None
        for address in _pick(host, infos, self._policy):
            try:
                return self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # _pick returns at least one address
        raise failure

    def connect_unix_socket(self, path: str, *args: Any, **kwargs: Any) -> Any:
        raise _Refused("image URLs cannot reach Unix sockets")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _AsyncGuardedBackend(httpcore2.AsyncNetworkBackend):
    """The async twin of `_GuardedBackend` (asyncio and trio, through anyio)."""

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
        try:
            # The blocking resolver in a worker thread: the one tests and users can patch.
            infos = await anyio.to_thread.run_sync(
                functools.partial(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
            )
        except OSError as exc:
            raise _unresolvable(host, exc) from None
        failure: Exception | None = None
        for address in _pick(host, infos, self._policy):
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(self, path: str, *args: Any, **kwargs: Any) -> Any:
        raise _Refused("image URLs cannot reach Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


# --- clients ----------------------------------------------------------------------------


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One verifying context for every fetch: building one reads the trust store."""
    return httpx2.create_ssl_context(trust_env=False)


def _limits(policy: ImagePolicy) -> httpx2.Limits:
    return httpx2.Limits(max_connections=policy.fetch_concurrency, keepalive_expiry=5.0)


def _client(policy: ImagePolicy) -> httpx2.Client:
    transport = httpx2.HTTPTransport(verify=_ssl_context(), trust_env=False, limits=_limits(policy))
    # httpx2's transports take no network backend, and the pool's is the one place
    # every connection is opened (redirect hops and keep-alive reconnects included).
    pool = transport._pool
    pool._network_backend = _GuardedBackend(pool._network_backend, policy)
    return httpx2.Client(transport=transport, trust_env=False, headers=_HEADERS)


def _async_client(policy: ImagePolicy) -> httpx2.AsyncClient:
    transport = httpx2.AsyncHTTPTransport(
        verify=_ssl_context(), trust_env=False, limits=_limits(policy)
    )
    pool = transport._pool
    pool._network_backend = _AsyncGuardedBackend(httpcore2.AnyIOBackend(), policy)
    return httpx2.AsyncClient(transport=transport, trust_env=False, headers=_HEADERS)


# --- one fetch --------------------------------------------------------------------------


class _Fetch:
    """The state of fetching one URL: the hop, the deadline, and what each answer means."""

    def __init__(self, url: str, policy: ImagePolicy) -> None:
        self.first = url
        self.url = url
        self.policy = policy
        self.deadline = time.monotonic() + policy.fetch_timeout
        self.seen = {url}

    def timeout(self) -> httpx2.Timeout:
        """What is left of `fetch_timeout`, for the next request's every step."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise self.timed_out()
        return httpx2.Timeout(left)

    def where(self) -> str:
        """The URL for messages: the first one, and the hop when a redirect led elsewhere."""
        shown = public_url(self.first)
        return (
            shown if self.url == self.first else f"{shown} (redirected to {public_url(self.url)})"
        )

    def timed_out(self) -> FetchError:
        return FetchError(
            f"Fetching {self.where()} took longer than ImagePolicy(fetch_timeout="
            f"{self.policy.fetch_timeout:g}) seconds. Raise fetch_timeout, or send the image "
            "as a data: URL."
        )

    def next_url(self, response: httpx2.Response) -> str | None:
        """Where a redirect leads (checked), None for a final answer; raises for errors."""
        status = response.status_code
        if status in _REDIRECTS and "location" in response.headers:
            target = urljoin(self.url, response.headers["location"])
            if target in self.seen:
                raise FetchError(
                    f"Fetching {self.where()} ran into a redirect loop at {public_url(target)}."
                )
            if len(self.seen) > MAX_REDIRECTS:
                raise FetchError(
                    f"Fetching {self.where()} was redirected more than {MAX_REDIRECTS} times; "
                    "give the image's final URL."
                )
            self.seen.add(target)
            self.url = target
            _check_url(target, self.policy, self.where())
            return target
        if not 200 <= status < 300:
            phrase = f" {response.reason_phrase}" if response.reason_phrase else ""
            raise FetchError(
                f"Fetching {self.where()} failed: HTTP {status}{phrase}. Check that the URL "
                "is right and publicly readable, or send the image as a data: URL."
            )
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.policy.max_fetch_bytes:
            raise self.too_big(f"declares {int(declared):,} bytes")
        return None

    def too_big(self, what: str) -> FetchError:
        return FetchError(
            f"The image at {self.where()} {what}, over ImagePolicy(max_fetch_bytes="
            f"{self.policy.max_fetch_bytes:,}). Raise max_fetch_bytes, or send a smaller image."
        )

    def add(self, body: bytearray, chunk: bytes) -> None:
        """Append a chunk of the body, within the byte cap and the deadline."""
        body += chunk
        if len(body) > self.policy.max_fetch_bytes:
            raise self.too_big("is larger than that")
        if time.monotonic() > self.deadline:
            raise self.timed_out()

    def failed(self, exc: Exception) -> FetchError:
        """A FetchError for what went wrong on the wire, naming the URL, never its query."""
        if isinstance(exc, _Refused):
            return BlockedURLError(f"Refused to fetch {self.where()}: {exc}. {_ALLOW_HINT}")
        if isinstance(exc, httpx2.TimeoutException | TimeoutError):
            return self.timed_out()
        if isinstance(exc, httpx2.InvalidURL):
            return FetchError(f"{self.where()} is not a valid URL ({exc}).")
        reason = str(exc) or type(exc).__name__
        return FetchError(
            f"Could not fetch {self.where()}: {reason}. Check the URL and the network, or "
            "send the image as a data: URL."
        )


_WIRE_ERRORS = (_Refused, httpx2.HTTPError, httpx2.InvalidURL, TimeoutError)


def _fetch_with(client: httpx2.Client, url: str, policy: ImagePolicy) -> bytes:
    _check_url(url, policy)
    state = _Fetch(url, policy)
    try:
        while True:
            with client.stream("GET", state.url, timeout=state.timeout()) as response:
                if state.next_url(response) is not None:
                    continue
                body = bytearray()
                for chunk in response.iter_bytes():
                    state.add(body, chunk)
                return bytes(body)
    except _WIRE_ERRORS as exc:
        raise state.failed(exc) from None


async def _afetch_with(client: httpx2.AsyncClient, url: str, policy: ImagePolicy) -> bytes:
    _check_url(url, policy)
    state = _Fetch(url, policy)
    try:
        with anyio.fail_after(policy.fetch_timeout):
            while True:
                async with client.stream("GET", state.url, timeout=state.timeout()) as response:
                    if state.next_url(response) is not None:
                        continue
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        state.add(body, chunk)
                    return bytes(body)
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
