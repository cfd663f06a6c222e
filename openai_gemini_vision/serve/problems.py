"""Every error the gateway answers with, in OpenAI's shape: `{"error": {message, type, param, code}}`.

OpenAI's SDKs read exactly these fields (openai-python's `APIStatusError.body`,
openai-node's `APIError.error`), so a client sees the gateway's refusals as it sees
OpenAI's: a 400 for a bad image names the part (`param: "messages[0].content[1]"`) and
the fix, a 413 the budget, a 429 when the gateway is full carries `Retry-After`.
Gemini's own errors keep their status; their bodies (often `[{"error": {...}}]`) are
unwrapped and made readable by the clients' own `readable_error`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any, cast

from starlette.responses import Response

from ..client import readable_error
from ..errors import GeminiVisionError, RequestTooLargeError

__all__ = [
    "GatewayError",
    "error_body",
    "error_response",
    "from_library_error",
    "from_upstream",
    "sse_error_event",
]

#: OpenAI's error types by status (https://platform.openai.com/docs/guides/error-codes).
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}


class GatewayError(Exception):
    """An answer the gateway gives instead of forwarding: a status and OpenAI's error fields."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.headers = dict(headers or {})

    def response(self, extra_headers: Mapping[str, str] | None = None) -> Response:
        """This error as an HTTP response."""
        return error_response(
            self.status,
            self.message,
            code=self.code,
            param=self.param,
            headers={**self.headers, **(extra_headers or {})},
        )


def _type(status: int) -> str:
    return _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")


def error_body(
    status: int, message: str, *, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """OpenAI's error object for `status`."""
    return {"error": {"message": message, "type": _type(status), "param": param, "code": code}}


def error_response(
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A JSON response holding OpenAI's error object."""
    body = json.dumps(error_body(status, message, code=code, param=param)).encode()
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def sse_error_event(status: int, message: str, *, code: str | None = None) -> bytes:
    """A server-sent event that OpenAI's SDKs raise as an APIError mid-stream."""
    return b"data: " + json.dumps(error_body(status, message, code=code)).encode() + b"\n\n"


def from_library_error(exc: Exception) -> GatewayError:
    """A 400 (or 413 over budget) for an error preparing the request's images."""
    if isinstance(exc, GeminiVisionError):
        status = 413 if isinstance(exc, RequestTooLargeError) else 400
        # The part goes in `param`; the message keeps it too, for clients that show only text.
        return GatewayError(
            status, str(exc), code=_code(type(exc).__name__), param=exc.where or None
        )
    # A stray TypeError from a message shape the library did not expect.
    return GatewayError(400, f"The messages could not be read: {exc}", code="invalid_messages")


#: Codes that read better than the class name alone.
_CODES = {"FetchError": "fetch_failed"}


def _code(name: str) -> str:
    """`ImageTooLargeError` -> `image_too_large`, `BlockedURLError` -> `blocked_url`."""
    if name in _CODES:
        return _CODES[name]
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
    return words.lower().removesuffix("_error")


def from_upstream(
    status: int, raw: bytes, key: str | None, headers: Mapping[str, str] | None = None
) -> GatewayError:
    """Gemini's error answer, its status kept, its body unwrapped and made readable."""
    try:
        body: object = json.loads(raw)
    except ValueError:
        body = raw.decode("utf-8", "replace")[:2000]
    # The clients' reader wants a client for its key (to mask an echoed key) and its
    # retries (to word a 429); the gateway itself never retries.
    reader = cast(Any, SimpleNamespace(api_key=key, max_retries=0))
    message, unwrapped = readable_error(reader, f"Error code: {status}", body, status)
    if message == f"Error code: {status}" and body:
        # Not Gemini's error shape (a proxy's page, another service): show what came.
        shown = body if isinstance(body, str) else json.dumps(body)[:2000]
        message = f"Error code: {status} - {shown}"
        if key and len(key) >= 8:
            message = message.replace(key, "<api key>")
    error = unwrapped.get("error") if isinstance(unwrapped, Mapping) else None
    code = error.get("status") if isinstance(error, Mapping) else None
    # The upstream's advice on when to retry reaches the client (openai's SDKs honour both).
    given = headers or {}
    kept = {name: given[name] for name in ("retry-after", "retry-after-ms") if name in given}
    return GatewayError(
        status,
        message,
        code=code if isinstance(code, str) else None,
        headers=kept,
    )
