"""Forwarding to the upstream endpoint (Gemini's, or `--upstream URL`) with aiohttp.

The client was chosen by measurement (`bench/bench_upstream_client.py`, same fake
upstream, uvloop, this 2-core machine): aiohttp's ClientSession spent 0.26 ms of CPU
per request where httpx2's AsyncClient spent 1.70 ms, and answered one request at a
time in 0.68 ms median against 1.87 ms. httpx2's figure alone would be most of the
gateway's 2 ms budget for the latency it adds, so the gateway forwards with aiohttp
(the library's own clients keep httpx2, which openai ships).

Failures to reach the upstream become OpenAI-shaped 502s (unreachable, connection
reset) and 504s (no answer in time), never a traceback.
"""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp
from yarl import URL

from .config import ServeConfig
from .problems import GatewayError

__all__ = ["FORWARDED_REQUEST_HEADERS", "Upstream", "failure", "response_headers"]

#: Client headers passed upstream; everything else (the client's Authorization, cookies,
#: hop-by-hop headers, x-forwarded-*) stays at the gateway.
FORWARDED_REQUEST_HEADERS = ("accept", "content-type", "openai-beta")

#: Upstream headers not passed back: the gateway sets its own framing, and aiohttp has
#: already decompressed the body.
_DROPPED_RESPONSE_HEADERS = frozenset(
    {
        "connection",
        "content-encoding",
        "content-length",
        "keep-alive",
        "transfer-encoding",
        "server",
        "date",
        "alt-svc",
        "set-cookie",
    }
)


def response_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The upstream's response headers a client may see."""
    return {
        name: value
        for name, value in headers.items()
        if name.lower() not in _DROPPED_RESPONSE_HEADERS
    }


def failure(exc: BaseException, upstream: str) -> GatewayError:
    """A 502 or 504 naming what went wrong with the upstream, for a transport error."""
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return GatewayError(
            504,
            f"The upstream {upstream} did not answer in time. Retry; if it keeps happening, "
            "the gateway's operator can raise --request-timeout.",
            code="upstream_timeout",
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        what = f"could not be reached ({exc.os_error.strerror or type(exc.os_error).__name__})"
    elif isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        what = "closed the connection before answering in full"
    else:
        what = f"failed ({type(exc).__name__})"
    return GatewayError(
        502,
        f"The upstream {upstream} {what}. Retry; if it keeps happening, the gateway's "
        "operator should check --upstream and the network.",
        code="upstream_unreachable",
    )


class Upstream:
    """One aiohttp session to the upstream, opened at startup and closed at shutdown."""

    def __init__(self, config: ServeConfig) -> None:
        self.base = config.upstream
        # Named without path or query in errors and logs.
        self.name = URL(config.upstream).origin().human_repr()
        self._config = config
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Open the connection pool (on the running loop)."""
        config = self._config
        connector = aiohttp.TCPConnector(
            # One connection per request in flight at most: the gateway's own bound.
            limit=config.max_in_flight,
            limit_per_host=0,
            ttl_dns_cache=60,
        )
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=config.connect_timeout,
            # Streams may take long in all; a silence this long between reads is a hang.
            sock_read=config.request_timeout,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            auto_decompress=True,
            # No cookies kept between clients' requests: they are strangers to each other.
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("User-Agent",),
        )

    async def close(self) -> None:
        """Close the pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(
        self,
        method: str,
        path: str,
        *,
        query: str,
        body: bytes | None,
        headers: Mapping[str, str],
        key: str,
    ) -> aiohttp.ClientResponse:
        """Send one request upstream and return its response once the headers arrived."""
        if self._session is None:
            raise GatewayError(
                503, "The gateway is starting or stopping; retry.", code="unavailable"
            )
        url = self.base + path + (f"?{query}" if query else "")
        sent = {name: headers[name] for name in FORWARDED_REQUEST_HEADERS if name in headers}
        sent["authorization"] = f"Bearer {key}"
        sent["user-agent"] = "openai-gemini-vision-gateway"
        try:
            return await self._session.request(
                method, url, data=body, headers=sent, allow_redirects=False
            )
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise failure(exc, self.name) from None
