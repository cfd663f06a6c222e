"""The gateway's routes: chat completions with images prepared, everything else under /v1 forwarded.

`POST /v1/chat/completions` reads the body within the limits, prepares its images with
`aprepare_messages` exactly as the library's clients do (same policy checks, same
budget, the rest of the body counted in it), then forwards the request, streamed or
not. Other `/v1/...` requests (`GET /v1/models`, ...) are forwarded as they came.
`GET /healthz` and `GET /metrics` need no key and say nothing secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import GeminiVisionError
from ..policy import ImagePolicy
from ..request.messages import image_slots
from ..request.prepare import aprepare_messages
from .accesslog import AccessRecord, log_access
from .auth import Authenticator
from .config import ServeConfig, check_exposure
from .limits import Admission, Ticket, read_body, request_cost
from .metrics import CONTENT_TYPE, Metrics
from .problems import GatewayError, error_response, from_library_error, from_upstream
from .streaming import ForwardedStream, StreamOutcome, prompt_tokens_of
from .upstream import Upstream, failure, response_headers

__all__ = ["ESTIMATE_HEADER", "Gateway", "app_from_environment", "create_app"]

#: Response header with the prompt tokens estimated before sending (images and text).
ESTIMATE_HEADER = "x-ogv-estimated-prompt-tokens"

log = logging.getLogger("openai_gemini_vision.serve")

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
#: nginx's status for a request whose client went away before the answer.
_CLIENT_GONE = 499

T = TypeVar("T")


class _ClientGone(Exception):
    """The client disconnected while its request was being prepared or forwarded."""


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """`work`'s result, or `_ClientGone` with `work` cancelled if the client leaves first.

    Only once the body has been read: until then the body's own reads notice a disconnect.
    """
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            raise _ClientGone from None
    return task.result()


def _image_urls(messages: Any) -> list[str]:
    """Every http(s) image URL in the messages (what preparation will fetch)."""
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        return []  # preparation refuses these, in its own words
    urls = []
    for slot in image_slots(messages):
        try:
            source = slot.source  # classified as preparation will classify it
        except GeminiVisionError:
            continue  # an unusable url: preparation refuses it, naming the part
        if source.kind == "http":
            urls.append(source.value)
    return urls


def _host(url: str) -> str:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.lower().rstrip(".")


def _shown_model(model: Any) -> str | None:
    """The model name as the access log may show it: printable and short, else None."""
    if isinstance(model, str) and model.isprintable() and len(model) <= 100:
        return model
    return None


class Gateway:
    """One app's state: config, keys, limits, upstream pool and metrics."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.auth = Authenticator(config)
        self.admission = Admission(
            config.max_in_flight, config.max_bytes_in_flight, config.queue_timeout
        )
        self.upstream = Upstream(config)
        self.metrics = Metrics()
        self.metrics.gauge(
            "ogv_requests_in_flight", "Requests being handled.", lambda: self.admission.requests
        )
        self.metrics.gauge(
            "ogv_bytes_in_flight",
            "Bytes reserved by requests in flight.",
            lambda: self.admission.bytes,
        )
        self._private_hosts = frozenset(h.lower().rstrip(".") for h in config.private_hosts)
        self._private_policy = config.policy.model_copy(
            update={"allow_private_urls": True, "allowed_hosts": self._private_hosts}
        )

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        """Open the upstream pool and size the image-work threads; close the pool at shutdown."""
        anyio.to_thread.current_default_thread_limiter().total_tokens = self.config.prepare_threads
        await self.upstream.start()
        try:
            yield
        finally:
            await self.upstream.close()

    def policy_for(self, urls: list[str]) -> ImagePolicy:
        """The strict policy, or the private hosts' one when every image URL names one of them."""
        if self._private_hosts and urls and all(_host(u) in self._private_hosts for u in urls):
            return self._private_policy
        return self.config.policy

    def _record(self, request: Request) -> AccessRecord:
        given = request.headers.get("x-request-id", "")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        return AccessRecord(id=request_id, method=request.method, path=request.url.path)

    def _finish(self, record: AccessRecord, started: float, route: str) -> None:
        record.duration_ms = (time.perf_counter() - started) * 1000
        self.metrics.request_done(route, record.status, record.duration_ms / 1000, record.bytes_out)
        self.metrics.bytes_in += record.bytes_in
        if record.tokens_reported is not None:
            self.metrics.tokens_reported += record.tokens_reported
        log_access(record, self.config.log_format)

    def _failed(self, exc: GatewayError, record: AccessRecord) -> Response:
        record.error = exc.code
        self.metrics.error(exc.status, exc.code)
        return exc.response({"x-request-id": record.id})

    async def handle(self, request: Request) -> Response:
        """Any request under /v1: authenticate, admit, read, then chat or forward."""
        record = self._record(request)
        started = time.perf_counter()
        chat = request.method == "POST" and request.url.path.rstrip("/") == "/v1/chat/completions"
        route = "/v1/chat/completions" if chat else "/v1/*"
        ticket: Ticket | None = None
        try:
            try:
                peer = request.client.host if request.client else None
                key = self.auth.upstream_key(request.headers, peer)
                ticket = await self.admission.enter()
                declared = request.headers.get("content-length")
                body = await read_body(
                    request.stream,
                    int(declared) if declared and declared.isdigit() else None,
                    self.config.max_body_bytes,
                    ticket.reserve,
                )
                record.bytes_in = len(body)
                work = (
                    self._chat(request, body, key, ticket, record)
                    if chat
                    else self._forward(request, body, key, record)
                )
                del body  # the coroutine holds it, and lets it go once parsed
                response = await _unless_disconnected(request, work)
            except GatewayError as exc:
                response = self._failed(exc, record)
            except _ClientGone:
                response = Response(status_code=_CLIENT_GONE)
                record.error = "client_disconnected"
            except Exception as exc:
                log.exception("request %s failed", record.id)
                problem = GatewayError(
                    500,
                    f"The gateway failed ({type(exc).__name__}); it was logged as request "
                    f"{record.id}.",
                    code="internal_error",
                )
                response = self._failed(problem, record)
            if isinstance(response, ForwardedStream):
                # The stream gives the slot back when it ends, however it ends.
                response.on_close = self._stream_closed(ticket, record, started, route)
                ticket = None
                record.status = response.status_code
                return response
            record.status = response.status_code
            record.bytes_out = len(response.body)
            self._finish(record, started, route)
            return response
        finally:
            # Synchronous, so that it also happens when this request is cancelled.
            if ticket is not None:
                ticket.close()

    def _stream_closed(
        self, ticket: Ticket | None, record: AccessRecord, started: float, route: str
    ) -> Callable[[StreamOutcome], None]:
        """What a forwarded stream does when it ends: give back its slot, count, log."""

        def closed(outcome: StreamOutcome) -> None:
            if ticket is not None:
                ticket.close()
            record.bytes_out = outcome.bytes_out
            record.tokens_reported = outcome.tokens_reported
            if outcome.error:
                record.error = outcome.error
                self.metrics.error(502, outcome.error)
            elif not outcome.completed:
                record.error = "client_disconnected"
            self._finish(record, started, route)

        return closed

    async def _chat(
        self, request: Request, body: bytes, key: str, ticket: Ticket, record: AccessRecord
    ) -> Response:
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise GatewayError(
                400,
                f"The request body is not valid JSON ({exc}). Send a chat-completion request "
                'as JSON: {"model": "...", "messages": [...]}.',
                code="invalid_json",
            ) from None
        if not isinstance(payload, dict) or not isinstance(payload.get("messages"), list):
            raise GatewayError(
                400,
                'A chat-completion request is a JSON object with a "messages" list: '
                '{"model": "...", "messages": [{"role": "user", "content": "..."}]}.',
                code="invalid_request",
                param="messages",
            )
        messages = payload["messages"]
        model = payload.get("model")
        record.model = _shown_model(model)
        stream = payload.get("stream") is True
        record.stream = stream
        urls = _image_urls(messages)
        policy = self.policy_for(urls)
        await ticket.reserve(request_cost(len(body), len(urls), policy.max_fetch_bytes))
        rest = {name: value for name, value in payload.items() if name != "messages"}
        extra = len(json.dumps(rest, ensure_ascii=False, separators=(",", ":")).encode())
        try:
            async with asyncio.timeout(self.config.request_timeout):
                prepared = await aprepare_messages(
                    messages,
                    model=model if isinstance(model, str) else None,
                    policy=policy,
                    extra_bytes=extra,
                )
        except TimeoutError:
            raise GatewayError(
                504,
                f"Preparing the images took over {self.config.request_timeout:g} s "
                "(--request-timeout). Send smaller images, or image URLs that answer sooner.",
                code="prepare_timeout",
            ) from None
        except (GeminiVisionError, TypeError) as exc:
            raise from_library_error(exc) from None
        estimate = prepared.estimate.total_tokens
        record.images = len(prepared.images)
        record.tokens_estimated = estimate
        self.metrics.prepared(prepared.images, estimate)
        # Unchanged messages (no image, or every image passed through as it came) are
        # forwarded as the client's own bytes: nothing serialized again.
        if prepared.messages != messages:
            payload["messages"] = prepared.messages
            # Only the body to send is left alive while it is built: the parsed input and
            # the decoded images go first (memory: see limits.BODY_COPIES).
            del prepared, messages, body
            body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        else:
            del prepared, messages
        del payload
        headers = {"x-request-id": record.id, ESTIMATE_HEADER: str(estimate)}
        upstream = await self.upstream.send(
            "POST", "chat/completions", query="", body=body, headers=request.headers, key=key
        )
        if stream and upstream.status < 400:
            headers.update(response_headers(upstream.headers))
            headers.setdefault("cache-control", "no-cache")
            headers["x-accel-buffering"] = "no"  # proxies in front: do not buffer the stream
            return ForwardedStream(upstream, self.upstream.name, headers)
        answer = await self._read(upstream, key)
        with contextlib.suppress(ValueError):
            record.tokens_reported = prompt_tokens_of(json.loads(answer))
        headers.update(response_headers(upstream.headers))
        return Response(answer, status_code=upstream.status, headers=headers)

    async def _read(self, upstream: aiohttp.ClientResponse, key: str) -> bytes:
        """The upstream's whole answer; its error statuses turned into readable errors."""
        answer: bytes | None = None
        try:
            answer = await upstream.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise failure(exc, self.upstream.name) from None
        finally:
            if answer is None:
                upstream.close()  # failed or cancelled: the connection cannot be reused
            else:
                upstream.release()
        if upstream.status >= 400:
            raise from_upstream(upstream.status, answer, key, upstream.headers)
        return answer

    async def _forward(
        self, request: Request, body: bytes, key: str, record: AccessRecord
    ) -> Response:
        path = request.url.path.removeprefix("/v1/")
        upstream = await self.upstream.send(
            request.method,
            path,
            query=request.url.query,
            body=body or None,
            headers=request.headers,
            key=key,
        )
        headers = {"x-request-id": record.id}
        if upstream.status < 400:
            headers.update(response_headers(upstream.headers))
            return ForwardedStream(upstream, self.upstream.name, headers)
        answer = await self._read(upstream, key)
        return Response(answer, status_code=upstream.status, headers=headers)

    async def healthz(self, _request: Request) -> Response:
        """Liveness: the process answers."""
        return JSONResponse({"status": "ok"})

    async def metrics_page(self, _request: Request) -> Response:
        """Every counter and gauge in Prometheus' text format."""
        return Response(self.metrics.render(), media_type=CONTENT_TYPE)

    async def not_found(self, request: Request) -> Response:
        """An OpenAI-shaped 404 for paths outside /v1."""
        return error_response(
            404,
            f"No route {request.url.path}: the gateway serves /v1/... (point the client's "
            "base URL at http://<host>:<port>/v1), /healthz and /metrics.",
            code="not_found",
        )


def create_app(config: ServeConfig | None = None, *, host: str | None = None) -> Starlette:
    """The gateway as an ASGI app, for uvicorn, hypercorn or any ASGI server.

    Args:
        config: everything the gateway is told; None reads GEMINI_API_KEY only.
        host: the address the server binds to, if known: without gateway keys, anything
            but loopback is refused (the app itself also serves only loopback peers then).
    """
    config = config or ServeConfig()
    check_exposure(config, host)
    gateway = Gateway(config)
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    app = Starlette(
        routes=[
            Route("/healthz", gateway.healthz, methods=["GET"]),
            Route("/metrics", gateway.metrics_page, methods=["GET"]),
            Route("/v1/{path:path}", gateway.handle, methods=methods),
            Route("/{path:path}", gateway.not_found, methods=methods),
        ],
        lifespan=gateway.lifespan,
    )
    app.state.gateway = gateway
    return app


def app_from_environment() -> Starlette:
    """The app of one `ogv serve --workers N` process, from the config its parent left."""
    app = create_app(ServeConfig.from_environment())
    logging.getLogger("openai_gemini_vision.serve").setLevel(logging.INFO)
    return app
