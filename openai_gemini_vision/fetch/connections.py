"""The http clients image fetches run on: checked addresses only, and one deadline for all.

httpx2 opens every connection through its pool's network backend, redirect hops and
keep-alive reconnects included, so that is where the guard sits: the host is resolved
once, every address must be public (`addresses.refusal`, unless the policy allows
private ones), and the connection goes to one of those very addresses; no second lookup
that a rebinding DNS server could answer differently.

A fetch sets its deadline (`deadline()`); every lookup, connect, read, write and TLS
handshake of a synchronous fetch then gets only what is left of it. httpcore2 alone gives
each step the full timeout, so a server sending its headers a byte at a time could hold
a fetch for days. Async fetches are bounded by `anyio.fail_after` in `fetch`.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from importlib import metadata
from typing import Any

import anyio
import httpcore2
import httpx2

from ..policy import ImagePolicy
from .addresses import refusal

__all__ = ["Refused", "async_client", "client", "deadline", "left"]


class Refused(Exception):
    """An address the policy refuses, found inside the pool; `fetch` names the URL."""


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

#: The monotonic time the current fetch must end by; set per fetch, read by the streams.
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "openai_gemini_vision_fetch_deadline", default=None
)


@contextlib.contextmanager
def deadline(at: float) -> Iterator[None]:
    """Bound every network step of the fetch run inside to end by monotonic time `at`."""
    token = _DEADLINE.set(at)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def left(timeout: float | None, late: type[Exception] = httpcore2.ReadTimeout) -> float | None:
    """`timeout` cut to what is left of the current fetch's deadline; raises `late` past it."""
    end = _DEADLINE.get()
    if end is None:
        return timeout
    remaining = end - time.monotonic()
    if remaining <= 0:
        raise late("the fetch ran out of time")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore2.NetworkStream):
    """A connection whose every read, write and TLS handshake ends by the fetch's deadline."""

    def __init__(self, inner: httpcore2.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, left(timeout, httpcore2.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore2.NetworkStream:
        tls = self._inner.start_tls(ssl_context, server_hostname, left(timeout))
        return _DeadlineStream(tls)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


def _lookup(host: str, port: int) -> list[Any]:
    """getaddrinfo, with the errors of impossible names turned into ConnectError."""
    try:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:  # UnicodeError: a label over 63 characters
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise httpcore2.ConnectError(f"cannot resolve {host}: {reason}") from None


def _lookup_in_time(host: str, port: int, timeout: float | None) -> list[Any]:
    """`_lookup` on a thread of its own, given up on (not waited for) past `timeout`.

    A thread per lookup: one hanging resolver must not hold a pool that other fetches
    queue behind, and a daemon thread does not keep the interpreter from exiting.
    """
    result: list[Any] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            result.extend(_lookup(host, port))
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            failure.append(exc)

    thread = threading.Thread(target=run, name="ogv-resolve", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise httpcore2.ConnectTimeout(f"looking up {host} took too long")
    if failure:
        raise failure[0]
    return result


def _addresses(host: str, infos: Iterable[Any], policy: ImagePolicy) -> list[str]:
    """The addresses to try for `host`, in the resolver's order; all must be public."""
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise httpcore2.ConnectError(f"{host} resolved to no address")
    if not policy.allow_private_urls:
        for text in addresses:
            reason = refusal(ipaddress.ip_address(text))
            if reason:
                raise Refused(f"{host} resolves to {reason}")
    return addresses


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
        infos = _lookup_in_time(host, port, left(timeout, httpcore2.ConnectTimeout))
        failure: Exception | None = None
        for address in _addresses(host, infos, self._policy):
            wait = left(timeout, httpcore2.ConnectTimeout)  # past the deadline: stop here
            try:
                stream = self._inner.connect_tcp(address, port, wait, local_address, socket_options)
                return _DeadlineStream(stream)
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # _addresses returns at least one address
        raise failure

    def connect_unix_socket(self, path: str, *args: Any, **kwargs: Any) -> Any:
        raise Refused("image URLs cannot reach Unix sockets")

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
        raise Refused("image URLs cannot reach Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One verifying context for every fetch: building one reads the trust store."""
    return httpx2.create_ssl_context(trust_env=False)


def _guard(pool: Any, backend: Callable[[Any], Any]) -> None:
    """Put the guarded backend in the pool httpx2 made, or fail loudly, never open."""
    # httpx2's transports take no network backend; the pool's is where they connect.
    inner = getattr(pool, "_network_backend", None)
    if not isinstance(inner, httpcore2.NetworkBackend | httpcore2.AsyncNetworkBackend):
        raise RuntimeError(
            "This httpx2/httpcore2 version keeps its network backend elsewhere, so image "
            "URLs cannot be fetched safely; install the versions pyproject.toml names."
        )
    pool._network_backend = backend(inner)


def _options(policy: ImagePolicy) -> dict[str, Any]:
    # Keep-alive across the URLs of one request only: each fetch_many has its own pool.
    limits = httpx2.Limits(max_connections=policy.fetch_concurrency, keepalive_expiry=5.0)
    # trust_env=False: HTTP(S)_PROXY would connect to addresses no one checked.
    return {"verify": _ssl_context(), "trust_env": False, "limits": limits}


def client(policy: ImagePolicy) -> httpx2.Client:
    """An httpx2 client whose every connection is checked against `policy`."""
    transport = httpx2.HTTPTransport(**_options(policy))
    _guard(transport._pool, lambda inner: _GuardedBackend(inner, policy))
    return httpx2.Client(
        transport=transport, trust_env=False, headers=_HEADERS, timeout=policy.fetch_timeout
    )


def async_client(policy: ImagePolicy) -> httpx2.AsyncClient:
    """The async twin of `client`."""
    transport = httpx2.AsyncHTTPTransport(**_options(policy))
    _guard(transport._pool, lambda _: _AsyncGuardedBackend(httpcore2.AnyIOBackend(), policy))
    return httpx2.AsyncClient(
        transport=transport, trust_env=False, headers=_HEADERS, timeout=policy.fetch_timeout
    )
