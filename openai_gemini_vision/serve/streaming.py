"""Server-sent events passed through chunk by chunk, and what the gateway learns on the way.

Each piece the upstream sends is written to the client as it arrives (aiohttp's
`iter_any` yields whatever bytes are there; nothing waits for a whole event or a
buffer to fill). A client that disconnects cancels the stream (Starlette watches for
`http.disconnect` while streaming) and the upstream connection is closed, not
returned to the pool, so the upstream sees its request cancelled. An upstream that
fails mid-stream ends the stream with an error event OpenAI's SDKs raise as an APIError.

Usage: Gemini puts `usage` on every chunk and only the last one counts (GEMINI_FACTS.md,
"Usage as the endpoint reports it"), so the reader keeps the last event that has one.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from .problems import sse_error_event
from .upstream import failure

__all__ = ["ForwardedStream", "StreamOutcome", "UsageReader", "prompt_tokens_of"]


def prompt_tokens_of(body: Any) -> int | None:
    """`usage.prompt_tokens` of a parsed completion or chunk, if it has one."""
    usage = body.get("usage") if isinstance(body, dict) else None
    tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    return tokens if isinstance(tokens, int) else None


class UsageReader:
    """Finds the last server-sent event carrying `usage` in a stream fed piece by piece."""

    def __init__(self) -> None:
        self._pending = b""
        self._last: bytes | None = None

    def feed(self, piece: bytes) -> None:
        """Take the next bytes of the stream."""
        if b"\r" in piece:
            piece = piece.replace(b"\r\n", b"\n")
        self._pending += piece
        if b"\n\n" not in self._pending:
            return
        *events, self._pending = self._pending.split(b"\n\n")
        for event in events:
            if b'"usage"' in event:
                self._last = event

    def prompt_tokens(self) -> int | None:
        """The prompt tokens of the last event that reported usage."""
        last = self._last
        if last is None and b'"usage"' in self._pending:
            last = self._pending
        if last is None:
            return None
        data = b"".join(line[5:].strip() for line in last.split(b"\n") if line.startswith(b"data:"))
        try:
            return prompt_tokens_of(json.loads(data))
        except ValueError:
            return None


class StreamOutcome:
    """How a forwarded stream ended: bytes sent, tokens reported, and why it stopped."""

    def __init__(self) -> None:
        self.bytes_out = 0
        self.tokens_reported: int | None = None
        self.completed = False
        self.error: str | None = None
        """The error code sent as the stream's last event, if the upstream failed."""


class ForwardedStream(StreamingResponse):
    """The upstream's event stream, forwarded as it arrives; `on_close` runs however it ends."""

    def __init__(
        self,
        upstream: aiohttp.ClientResponse,
        upstream_name: str,
        headers: dict[str, str],
        on_close: Callable[[StreamOutcome], None] | None = None,
    ) -> None:
        self._upstream = upstream
        self._upstream_name = upstream_name
        self.on_close = on_close
        """Called once with the outcome when the stream ends, however it ends."""
        self.outcome = StreamOutcome()
        self._usage = UsageReader()
        super().__init__(
            self._pieces(), status_code=upstream.status, headers=headers, media_type=None
        )

    async def _pieces(self) -> AsyncIterator[bytes]:
        outcome = self.outcome
        usage = self._usage
        try:
            async for piece in self._upstream.content.iter_any():
                usage.feed(piece)
                outcome.bytes_out += len(piece)
                yield piece
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            problem = failure(exc, self._upstream_name)
            outcome.error = problem.code
            event = sse_error_event(problem.status, problem.message, code=problem.code)
            outcome.bytes_out += len(event)
            yield event
        else:
            outcome.completed = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # Synchronous on purpose: this also runs when the request is cancelled.
            if self.outcome.completed:
                self._upstream.release()
            else:
                self._upstream.close()  # drop the connection: the upstream stops too
            self.outcome.tokens_reported = self._usage.prompt_tokens()
            if self.on_close is not None:
                self.on_close(self.outcome)
