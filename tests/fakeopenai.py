"""A loopback stand-in for the mock server openai's generated chat-completion tests call.

openai's `tests/api_resources/chat/` tests send each chat-completions route a request and
check that the answer parses into the declared type; upstream they run against a mock
generated from OpenAI's OpenAPI spec (`scripts/mock`), which the source distribution does
not ship. This server answers those routes, and only those, with the smallest bodies the
types accept:

    POST   /chat/completions                       a ChatCompletion, or an SSE stream
    GET    /chat/completions                       a page of ChatCompletions
    GET    /chat/completions/{id}                  a ChatCompletion
    POST   /chat/completions/{id}                  a ChatCompletion (update)
    DELETE /chat/completions/{id}                  a ChatCompletionDeleted
    GET    /chat/completions/{id}/messages         a page of ChatCompletionStoreMessages

Anything else gets 404, so a test that strays from these routes fails instead of passing
on an answer meant for another.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeOpenAI"]

_COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1_700_000_000,
    "model": "gpt-6.2-astra",
    "choices": [
        {
            "index": 0,
            "finish_reason": "stop",
            "logprobs": None,
            "message": {"role": "assistant", "content": "Hello.", "refusal": None},
        }
    ],
}
_CHUNK: dict[str, Any] = {
    "id": "chatcmpl-1",
    "object": "chat.completion.chunk",
    "created": 1_700_000_000,
    "model": "gpt-6.2-astra",
    "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hello."}}],
}
_STORE_MESSAGE: dict[str, Any] = {"id": "msg-1", "role": "assistant", "content": "Hello."}


def _page(item: dict[str, Any]) -> dict[str, Any]:
    """A one-item cursor page, as openai's list routes answer."""
    return {
        "object": "list",
        "data": [item],
        "first_id": item["id"],
        "last_id": item["id"],
        "has_more": False,
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read outcomes, not access logs."""

    def _parts(self) -> list[str]:
        path = self.path.split("?", 1)[0].strip("/")
        return path.split("/")

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        return body if isinstance(body, dict) else {}

    def _json(self, status: int, value: object) -> None:
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self) -> None:
        events = [f"data: {json.dumps(_CHUNK)}\n\n", "data: [DONE]\n\n"]
        data = "".join(events).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self, method: str) -> None:
        parts = self._parts()
        body = self._body() if method == "POST" else {}
        if parts[:2] != ["chat", "completions"]:
            self._json(404, {"error": {"message": f"no route {method} /{'/'.join(parts)}"}})
        elif len(parts) == 2 and method == "POST" and body.get("stream"):
            self._stream()
        elif len(parts) == 2 and method == "POST":
            self._json(200, _COMPLETION)
        elif len(parts) == 2 and method == "GET":
            self._json(200, _page(_COMPLETION))
        elif len(parts) == 3 and method in ("GET", "POST"):
            self._json(200, {**_COMPLETION, "id": parts[2]})
        elif len(parts) == 3 and method == "DELETE":
            self._json(200, {"id": parts[2], "object": "chat.completion.deleted", "deleted": True})
        elif len(parts) == 4 and parts[3] == "messages" and method == "GET":
            self._json(200, _page(_STORE_MESSAGE))
        else:
            self._json(404, {"error": {"message": f"no route {method} /{'/'.join(parts)}"}})

    def do_GET(self) -> None:
        """Retrieve, list, and list messages."""
        self._route("GET")

    def do_POST(self) -> None:
        """Create (plain or streamed) and update."""
        self._route("POST")

    def do_DELETE(self) -> None:
        """Delete a stored completion."""
        self._route("DELETE")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that drops a kept-alive connection (a closed stream) is no error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeOpenAI:
    """The chat-completion routes above, on 127.0.0.1:<free port>, in a thread of their own."""

    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """Where openai's tests should send their requests (their TEST_API_BASE_URL)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeOpenAI:
        """Serve in the background; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
