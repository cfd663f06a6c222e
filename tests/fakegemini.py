"""A loopback stand-in for Gemini's OpenAI-compatible chat endpoint, for tests and benchmarks.

It answers `POST /v1beta/openai/chat/completions` in the shapes of the real recordings in
`../shared/reference/cassettes/` (GEMINI_FACTS.md, "Response shapes"): no
`system_fingerprint`, streamed chunks without `id` and with `usage` on every chunk, errors
as a JSON array `[{"error": {...}}]`. It can wait before answering, answer the next few
requests with a scripted status (429, 500, ...) or fault (a reset connection, no answer,
a stream that stalls or breaks), reject a bad key the way Gemini does, counts how many
requests were in flight at once, and records requests whose client went away.

    with FakeGemini(latency=0.1) as fake:
        client = OpenAI(api_key="k", base_url=fake.base_url)

Run it alone for a benchmark: `python tests/fakegemini.py --latency 0.1` prints its base URL.
"""

from __future__ import annotations

import argparse
import base64
import json
import select
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from openai_gemini_vision.images.prepared import payload_placeholder

__all__ = ["BREAK", "HANG", "RESET", "STALL", "FakeGemini", "images_in"]

PREFIX = "/v1beta/openai/"

#: Faults `FakeGemini.script` takes besides statuses.
RESET = "reset"
"""Read the request, then reset the connection (TCP RST) without answering."""
HANG = "hang"
"""Never answer, until `release()` (then answer normally) or the client goes away."""
STALL = "stall"
"""Stream: send the headers and first chunk, then wait as HANG does before the rest."""
BREAK = "break"
"""Stream: send the headers and first chunk, wait as STALL does, then close the connection
mid-body instead of going on. (The wait lets a test see the first chunk arrive: a client
may drop bytes it had not read yet when the connection fails.)"""

#: Longest a held request waits for `release()`: a test that forgets still ends.
HOLD_LIMIT = 60.0

MODELS = {
    "object": "list",
    "data": [
        {"id": "models/gemini-2.5-flash", "object": "model", "owned_by": "google"},
        {"id": "models/gemini-2.5-pro", "object": "model", "owned_by": "google"},
    ],
}

# Gemini's own error texts (GEMINI_FACTS.md, "Errors" and "Limits").
_STATUS_TEXT = {
    400: ("INVALID_ARGUMENT", "Provided image is not valid."),
    429: ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
    500: ("INTERNAL", "An internal error has occurred."),
    503: ("UNAVAILABLE", "The model is overloaded. Please try again later."),
}


def images_in(body: dict[str, Any]) -> list[tuple[str, bytes]]:
    """(mime type, bytes) of every data-URL image in a chat request body, in order."""
    found = []
    for message in body.get("messages", []):
        content = message.get("content")
        for part in content if isinstance(content, list) else ():
            url = part.get("image_url", {}).get("url", "") if isinstance(part, dict) else ""
            if url.startswith("data:") and ";base64," in url:
                head, payload = url[5:].split(";base64,", 1)
                found.append((head, base64.b64decode(payload)))
    return found


def describe_images(body: dict[str, Any]) -> str:
    """The default answer: names each image it received by its placeholder."""
    shown = [payload_placeholder(mime, data) for mime, data in images_in(body)]
    return f"I see {len(shown)} image(s): {', '.join(shown)}."


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 drops the SYNs of a burst of new connections,
    # and each dropped one costs the client a 1 s retransmit.
    request_queue_size = 256


class FakeGemini:
    """A threaded HTTP server on 127.0.0.1:<free port> speaking Gemini's chat-completions dialect."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        answer: Callable[[dict[str, Any]], str] = describe_images,
        api_key: str | None = None,
        retry_after_ms: int | None = 5,
        reject: Callable[[dict[str, Any]], bool | str] | None = None,
    ) -> None:
        """Args:
        latency: seconds to wait before every answer.
        answer: the reply text for a request body.
        api_key: when set, any other key gets Gemini's 400 API_KEY_INVALID.
        retry_after_ms: sent as `retry-after-ms` on scripted errors so clients retry fast
            (the real service sends none; this only keeps tests short). None: no header.
        reject: requests for which it answers 400 "Provided image is not valid.", or
            the message it returns (e.g. Gemini's "Unknown name ...: Cannot find field.").
        """
        self.latency = latency
        self.answer = answer
        self.api_key = api_key
        self.retry_after_ms = retry_after_ms
        self.reject = reject
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.authorizations: list[str | None] = []
        """The Authorization header of every chat request, in order."""
        self.cancelled = 0
        """Held requests (HANG, STALL) whose client closed the connection first."""
        self.held = 0
        """Requests now waiting in HANG or STALL."""
        self._released = threading.Event()
        self._stopping = threading.Event()
        self._changed = threading.Condition()
        self._script: deque[int | str] = deque()
        self._files: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _handler_for(self))
        # A short poll so that leaving the `with` block does not wait half a second.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        """The URL to pass as `base_url` / `--base-url` / GEMINI_BASE_URL."""
        return f"http://127.0.0.1:{self._server.server_address[1]}{PREFIX}"

    def script(self, *statuses: int | str) -> None:
        """Answer the next requests with these statuses or faults, in order, then normally."""
        with self._lock:
            self._script.extend(statuses)

    def release(self) -> None:
        """Let every held request (HANG, STALL), now and later, go on normally."""
        self._released.set()

    def wait_for(self, condition: Callable[[FakeGemini], bool], timeout: float = 30.0) -> bool:
        """Wait until `condition(self)` holds (checked whenever a request changes state)."""
        with self._changed:
            return self._changed.wait_for(lambda: condition(self), timeout)

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def serve(self, path: str, data: bytes) -> str:
        """Serve `data` at GET `path` (an image URL for the client to fetch); returns its URL."""
        self._files[path] = data
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def __enter__(self) -> FakeGemini:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _begin(self, body: dict[str, Any], authorization: str | None) -> None:
        with self._lock:
            self.requests.append(body)
            self.authorizations.append(authorization)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self._notify()

    def _end(self, status: int) -> None:
        with self._lock:
            self.in_flight -= 1
            self.statuses.append(status)
        self._notify()

    def _hold(self, connection: socket.socket) -> bool:
        """Wait for `release()`; False (and counted as cancelled) if the client left first."""
        with self._lock:
            self.held += 1
        self._notify()
        try:
            deadline = time.monotonic() + HOLD_LIMIT
            while time.monotonic() < deadline and not self._stopping.is_set():
                if self._released.wait(0.01):
                    return True
                if _closed_by_peer(connection):
                    with self._lock:
                        self.cancelled += 1
                    return False
            return False
        finally:
            with self._lock:
                self.held -= 1
            self._notify()

    def _scripted(self) -> int | str | None:
        with self._lock:
            return self._script.popleft() if self._script else None


def _closed_by_peer(connection: socket.socket) -> bool:
    """Whether the other end closed or reset the connection (nothing more will come)."""
    readable, _, _ = select.select([connection], [], [], 0)
    if not readable:
        return False
    try:
        return connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def _reset(connection: socket.socket) -> None:
    """Close with a TCP RST instead of a FIN: SO_LINGER on, with a zero timeout."""
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()


def _error_body(status: int, message: str | None = None, reason: str | None = None) -> bytes:
    code, text = _STATUS_TEXT.get(status, ("UNKNOWN", "Error."))
    error: dict[str, Any] = {"code": status, "message": message or text, "status": code}
    if reason:
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason}]
    return json.dumps([{"error": error}]).encode()


def _usage(body: dict[str, Any], text: str) -> dict[str, int]:
    # Not Gemini's arithmetic: a number that moves with the input, for the CLI to display.
    prompt = 258 * len(images_in(body)) + 4
    completion = max(1, len(text) // 4)
    return {
        "completion_tokens": completion,
        "prompt_tokens": prompt,
        "total_tokens": prompt + completion,
    }


def _chunks(text: str) -> Iterator[str]:
    words = text.split(" ")
    step = max(1, len(words) // 3)
    for start in range(0, len(words), step):
        piece = " ".join(words[start : start + step])
        yield piece if start + step >= len(words) else piece + " "


def _handler_for(fake: FakeGemini) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes: with Nagle's algorithm on, the body
        # waits for the client's delayed ACK (40 ms on Linux loopback) after each answer.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read what they need from the FakeGemini object."""

        def _send(
            self, status: int, payload: bytes, content_type: str = "application/json"
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            if status >= 400 and fake.retry_after_ms is not None:
                self.send_header("retry-after-ms", str(fake.retry_after_ms))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]  # a signed URL's query does not name the file
            if path == PREFIX + "models":
                self._send(200, json.dumps(MODELS).encode())
                return
            data = fake._files.get(path)
            if data is None:
                self._send(404, b"not found", "text/plain")
            else:
                self._send(200, data, "application/octet-stream")

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path != PREFIX + "chat/completions":
                self._send(404, _error_body(404, f"Not found: {self.path}"))
                return
            body = json.loads(raw)
            fake._begin(body, self.headers.get("Authorization"))
            try:
                time.sleep(fake.latency)
                status, write = self._reply(body)
            except BaseException:
                fake._end(500)
                raise
            if isinstance(status, str):
                self._fault(status, body)
                return
            # Counted before the first byte goes out: a client holding its answer must
            # find it in `statuses`, and must not find it still `in_flight`.
            fake._end(status)
            assert write is not None
            write()

        def _fault(self, fault: str, body: dict[str, Any]) -> None:
            """Misbehave as scripted; counted in `statuses` as 0 (no status was sent).

            A request answered in the end (HANG or STALL released) keeps its connection
            open, as a normal answer does; the others close it.
            """
            if fault == RESET:
                self.close_connection = True
                fake._end(0)
                _reset(self.connection)
                return
            if fault == HANG:
                if fake._hold(self.connection):
                    status, write = self._answer(body)
                    fake._end(status)
                    write()
                else:
                    self.close_connection = True
                    fake._end(0)
                return
            text = fake.answer(body)
            self._stream(body, text, fault=fault)

        def _reply(self, body: dict[str, Any]) -> tuple[int | str, Callable[[], None] | None]:
            """The status (or fault) of the answer to `body`, and how to write it."""
            scripted = fake._scripted()
            if isinstance(scripted, str):
                return scripted, None
            if scripted is not None:
                return scripted, lambda: self._send(scripted, _error_body(scripted))
            return self._answer(body)

        def _answer(self, body: dict[str, Any]) -> tuple[int, Callable[[], None]]:
            """The answer to `body` when nothing is scripted."""
            if fake.api_key and self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                message = "API key not valid. Please pass a valid API key."
                return 400, lambda: self._send(400, _error_body(400, message, "API_KEY_INVALID"))
            verdict = fake.reject(body) if fake.reject else False
            if verdict:
                message = verdict if isinstance(verdict, str) else None
                return 400, lambda: self._send(400, _error_body(400, message))
            text = fake.answer(body)
            if body.get("stream"):
                return 200, lambda: self._stream(body, text)
            return 200, lambda: self._send(200, json.dumps(_completion(body, text)).encode())

        def _stream(self, body: dict[str, Any], text: str, fault: str | None = None) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            pieces = list(_chunks(text))
            for number, piece in enumerate(pieces, 1):
                choice: dict[str, Any] = {
                    "delta": {"content": piece, "role": "assistant"},
                    "index": 0,
                }
                if number == len(pieces):
                    choice["finish_reason"] = "stop"
                chunk = {
                    "choices": [choice],
                    "created": int(time.time()),
                    "model": body.get("model", ""),
                    "object": "chat.completion.chunk",
                    "usage": _usage(body, "".join(pieces[:number])),
                }
                self._write_chunk(f"data: {json.dumps(chunk)}\n\n".encode())
                if number == 1 and fault == BREAK:
                    fake._hold(self.connection)
                    self.close_connection = True
                    fake._end(0)
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if number == 1 and fault == STALL and not fake._hold(self.connection):
                    self.close_connection = True
                    fake._end(0)
                    return
            if fault is not None:
                fake._end(200)
            self._write_chunk(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")

        def _write_chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

    return Handler


def _completion(body: dict[str, Any], text: str) -> dict[str, Any]:
    return {
        "choices": [
            {
                "finish_reason": "stop",
                "index": 0,
                "message": {"content": text, "role": "assistant"},
            }
        ],
        "created": int(time.time()),
        "id": f"fake-{time.monotonic_ns()}",
        "model": body.get("model", ""),
        "object": "chat.completion",
        "usage": _usage(body, text),
    }


def _main() -> None:
    parser = argparse.ArgumentParser(description="Serve a fake Gemini chat endpoint on loopback.")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds before each answer")
    args = parser.parse_args()
    with FakeGemini(latency=args.latency) as fake:
        print(fake.base_url, flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    _main()
