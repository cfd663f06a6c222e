"""A loopback stand-in for Gemini's Files API and the batch endpoints of its compatible layer.

It speaks what GEMINI_FACTS.md ("Batch API through the OpenAI SDK") documents and what the
batch code assumes, so tests can drive whole runs:

- Files API (key in `x-goog-api-key`): the two-request resumable upload
  (`POST /upload/v1beta/files` with `X-Goog-Upload-Command: start`, answered with an
  `X-Goog-Upload-URL` carrying an `upload_id`; then `upload, finalize` to that address),
  `GET /v1beta/files` (paged), `GET /download/v1beta/files/<id>:download?alt=media`,
  `DELETE /v1beta/files/<id>`;
- batches (key as a Bearer token), under `/v1beta/openai/`: create, retrieve, cancel,
  list, in OpenAI's `Batch` shape with ids like `batches/<hex>`.

A job moves one state each time it is retrieved (validating -> in_progress -> the final
state); on completing, its output file holds one OpenAI batch output line per request,
answered like the chat fake (`describe_images`), except requests `reject` picks (a 400
inside the line) and those `drop` picks (no line at all). Final states are scriptable per
job (`finals`), as are upload failures (`fail_uploads`). Everything is held in memory and
bounded (`max_stored_bytes`), and nothing but 127.0.0.1 is listened on.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .fakegemini import _completion, describe_images

__all__ = ["FakeBatchGemini"]

OPENAI_PREFIX = "/v1beta/openai/"
_TERMINAL = ("completed", "failed", "expired", "cancelled")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


class FakeBatchGemini:
    """A threaded HTTP server on 127.0.0.1 playing Gemini's Files API and batch endpoints."""

    def __init__(
        self,
        *,
        api_key: str = "test-key",
        answer: Callable[[dict[str, Any]], str] = describe_images,
        steps: tuple[str, ...] = ("validating", "in_progress"),
        final: str = "completed",
        reject: Callable[[dict[str, Any]], bool] | None = None,
        drop: Callable[[dict[str, Any]], bool] | None = None,
        page_size: int = 100,
        max_stored_bytes: int = 256_000_000,
    ) -> None:
        """Args:
        steps: states a job shows, one per retrieve, before its final state.
        final: the final state of jobs not scripted with `finals` (completed, failed,
            expired, cancelled).
        reject: requests (bodies) answered with a 400 line in the output.
        drop: requests left out of the output file altogether.
        page_size: files per page of the files listing (small, to exercise paging).
        """
        self.api_key = api_key
        self.answer = answer
        self.steps = steps
        self.final = final
        self.finals: deque[str] = deque()
        """Final states for the next jobs created, in order (then `final`)."""
        self.reject = reject
        self.drop = drop
        self.page_size = page_size
        self.max_stored_bytes = max_stored_bytes
        self.fail_uploads = 0
        """The next this-many upload finalizations are answered 503 (after reading the bytes)."""
        self.files: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.created: list[str] = []
        """The input file of every job created, in order: a duplicate job shows here."""
        self.deleted: list[str] = []
        self.uploads: list[str] = []
        """The display name of every upload finalized, in order."""
        self.max_active = 0
        """The most jobs not yet finished at one time."""
        self.log: list[dict[str, Any]] = []
        """Every request: method, path (query included), headers."""
        self._sessions: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def origin(self) -> str:
        """`http://127.0.0.1:<port>`."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL: what `--base-url` / GEMINI_BASE_URL take."""
        return self.origin + OPENAI_PREFIX

    def __enter__(self) -> FakeBatchGemini:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def stored_bytes(self) -> int:
        """Bytes held by the files now stored."""
        return sum(len(f["data"]) for f in self.files.values())

    def jobs_on(self, input_file: str) -> list[str]:
        """Ids of every job created on `input_file`."""
        return [b["id"] for b in self.batches.values() if b["input_file_id"] == input_file]

    # -- files ------------------------------------------------------------------------

    def _store(
        self, data: bytes, display_name: str | None, mime: str, *, output: bool = False
    ) -> dict[str, Any]:
        # Batch output names are long on the real service (over 40 characters).
        token = secrets.token_hex(16 if output else 6)
        name = f"files/batch-output-{token}" if output else f"files/{token}"
        if self.stored_bytes() + len(data) > self.max_stored_bytes:
            raise _Refusal(429, "RESOURCE_EXHAUSTED", "File storage quota exceeded.")
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.files[name] = {
            "name": name,
            "displayName": display_name,
            "mimeType": mime,
            "sizeBytes": str(len(data)),
            "createTime": stamp,
            "updateTime": stamp,
            "uri": f"{self.origin}/v1beta/{name}",
            "state": "ACTIVE",
            "data": data,
        }
        return self.files[name]

    @staticmethod
    def _public(file: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in file.items() if key != "data" and value is not None}

    # -- batches ------------------------------------------------------------------------

    def _create(self, body: dict[str, Any]) -> dict[str, Any]:
        name = body.get("input_file_id")
        if name not in self.files:
            raise _Refusal(404, "NOT_FOUND", f"File {name} not found.")
        if body.get("endpoint") != "/v1/chat/completions" or body.get("completion_window") != "24h":
            raise _Refusal(400, "INVALID_ARGUMENT", "Unsupported endpoint or completion window.")
        requests = [json.loads(line) for line in self.files[name]["data"].splitlines() if line]
        job_id = f"batches/{secrets.token_hex(8)}"
        self.batches[job_id] = {
            "id": job_id,
            "object": "batch",
            "endpoint": body["endpoint"],
            "errors": None,
            "input_file_id": name,
            "completion_window": "24h",
            "status": "validating",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": int(time.time()),
            "request_counts": {"total": len(requests), "completed": 0, "failed": 0},
            "metadata": None,
            "_requests": requests,
            "_polls": 0,
            "_final": self.finals.popleft() if self.finals else self.final,
        }
        self.created.append(name)
        active = [j for j in self.batches.values() if j["status"] not in _TERMINAL]
        self.max_active = max(self.max_active, len(active))
        return self.batches[job_id]

    def _advance(self, job: dict[str, Any]) -> None:
        if job["status"] in ("completed", "failed", "expired", "cancelled"):
            return
        if job["status"] == "cancelling":
            self._finish(job, "cancelled")
            return
        job["_polls"] += 1
        if job["_polls"] < len(self.steps):
            job["status"] = self.steps[job["_polls"]]
        else:
            self._finish(job, job["_final"])

    def _finish(self, job: dict[str, Any], state: str) -> None:
        job["status"] = state
        job[f"{state}_at"] = int(time.time())
        if state == "failed":
            job["errors"] = {
                "object": "list",
                "data": [
                    {"code": "invalid_request", "message": "The input file is not valid JSONL."}
                ],
            }
            return
        if state != "completed":  # expired or cancelled before any request ran
            return
        lines = []
        counts = job["request_counts"]
        for number, request in enumerate(job["_requests"]):
            body = request["body"]
            if self.drop and self.drop(body):
                continue
            line: dict[str, Any] = {"id": f"batch_req_{number}", "custom_id": request["custom_id"]}
            if self.reject and self.reject(body):
                error = {
                    "code": 400,
                    "message": "Provided image is not valid.",
                    "status": "INVALID_ARGUMENT",
                }
                line["response"] = {
                    "status_code": 400,
                    "request_id": f"r{number}",
                    "body": {"error": error},
                }
                counts["failed"] += 1
            else:
                completion = _completion(body, self.answer(body))
                line["response"] = {
                    "status_code": 200,
                    "request_id": f"r{number}",
                    "body": completion,
                }
                counts["completed"] += 1
            line["error"] = None
            lines.append(json.dumps(line))
        output = self._store(
            ("\n".join(lines) + "\n").encode(), None, "application/jsonl", output=True
        )
        job["output_file_id"] = output["name"]

    @staticmethod
    def _public_job(job: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in job.items() if not key.startswith("_")}


class _Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _handler_for(fake: FakeBatchGemini) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read `fake.log`."""

        def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            self._send(status, json.dumps(body).encode(), headers)

        def _error(self, refusal: _Refusal) -> None:
            error = {"code": refusal.status, "message": refusal.message, "status": refusal.code}
            self._json(refusal.status, {"error": error})

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length", 0)))

        def _handle(self, method: str) -> None:
            raw = self._body() if method in ("POST", "DELETE") else b""
            parts = urlsplit(self.path)
            with fake._lock:
                fake.log.append(
                    {"method": method, "path": self.path, "headers": dict(self.headers)}
                )
            try:
                with fake._lock:
                    self._route(method, parts.path, parse_qs(parts.query), raw)
            except _Refusal as refusal:
                self._error(refusal)

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_DELETE(self) -> None:
            self._handle("DELETE")

        def _check_key(self, *, bearer: bool) -> None:
            given = (
                self.headers.get("Authorization", "").removeprefix("Bearer ")
                if bearer
                else self.headers.get("x-goog-api-key", "")
            )
            if given != fake.api_key:
                raise _Refusal(
                    400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key."
                )

        def _route(self, method: str, path: str, query: dict[str, list[str]], raw: bytes) -> None:
            if path == "/upload/v1beta/files" and "upload_id" in query:
                self._finalize(query["upload_id"][0], raw)
            elif path == "/upload/v1beta/files" and method == "POST":
                self._check_key(bearer=False)
                self._start(raw)
            elif path == "/v1beta/files" and method == "GET":
                self._check_key(bearer=False)
                self._list_files(query)
            elif path.startswith("/download/v1beta/files/") and path.endswith(":download"):
                self._check_key(bearer=False)
                name = unquote(path.removeprefix("/download/v1beta/").removesuffix(":download"))
                if name not in fake.files or query.get("alt") != ["media"]:
                    raise _Refusal(404, "NOT_FOUND", f"File {name} not found.")
                self._send(
                    200, fake.files[name]["data"], {"Content-Type": "application/octet-stream"}
                )
            elif path.startswith("/v1beta/files/") and method == "DELETE":
                self._check_key(bearer=False)
                name = unquote(path.removeprefix("/v1beta/"))
                if fake.files.pop(name, None) is None:
                    raise _Refusal(404, "NOT_FOUND", f"File {name} not found.")
                fake.deleted.append(name)
                self._json(200, {})
            elif path.startswith(OPENAI_PREFIX + "batches"):
                self._check_key(bearer=True)
                self._batches(
                    method, unquote(path.removeprefix(OPENAI_PREFIX + "batches")), query, raw
                )
            else:
                raise _Refusal(404, "NOT_FOUND", f"Not found: {method} {path}")

        def _start(self, raw: bytes) -> None:
            headers = self.headers
            if (
                headers.get("X-Goog-Upload-Protocol") != "resumable"
                or headers.get("X-Goog-Upload-Command") != "start"
            ):
                raise _Refusal(400, "INVALID_ARGUMENT", "Expected a resumable upload start.")
            size = int(headers.get("X-Goog-Upload-Header-Content-Length", "-1"))
            if size < 0 or size + fake.stored_bytes() > fake.max_stored_bytes:
                raise _Refusal(400, "INVALID_ARGUMENT", "Bad or too large upload.")
            meta = json.loads(raw or b"{}").get("file", {})
            upload_id = secrets.token_urlsafe(24)
            fake._sessions[upload_id] = {
                "size": size,
                "mime": headers.get("X-Goog-Upload-Header-Content-Type", ""),
                "display_name": meta.get("display_name") or meta.get("displayName"),
            }
            address = (
                f"{fake.origin}/upload/v1beta/files?upload_id={upload_id}&upload_protocol=resumable"
            )
            self._json(200, {}, {"X-Goog-Upload-URL": address, "X-Goog-Upload-Status": "active"})

        def _finalize(self, upload_id: str, raw: bytes) -> None:
            session = fake._sessions.pop(upload_id, None)
            if session is None:
                raise _Refusal(404, "NOT_FOUND", "No such upload session.")
            if fake.fail_uploads > 0:
                fake.fail_uploads -= 1
                raise _Refusal(503, "UNAVAILABLE", "The service is currently unavailable.")
            if (
                self.headers.get("X-Goog-Upload-Command") != "upload, finalize"
                or self.headers.get("X-Goog-Upload-Offset") != "0"
                or len(raw) != session["size"]
            ):
                raise _Refusal(400, "INVALID_ARGUMENT", "Upload does not match its start.")
            file = fake._store(raw, session["display_name"], session["mime"])
            fake.uploads.append(session["display_name"])
            self._json(200, {"file": fake._public(file)}, {"X-Goog-Upload-Status": "final"})

        def _list_files(self, query: dict[str, list[str]]) -> None:
            names = sorted(fake.files)
            start = int(query.get("pageToken", ["0"])[0])
            size = min(fake.page_size, int(query.get("pageSize", ["100"])[0]))
            page = names[start : start + size]
            body: dict[str, Any] = {"files": [fake._public(fake.files[n]) for n in page]}
            if start + size < len(names):
                body["nextPageToken"] = str(start + size)
            self._json(200, body)

        def _batches(self, method: str, rest: str, query: dict[str, list[str]], raw: bytes) -> None:
            if rest == "" and method == "POST":
                self._json(200, fake._public_job(fake._create(json.loads(raw))))
                return
            if rest == "" and method == "GET":
                jobs = list(reversed(fake.batches.values()))  # newest first, as OpenAI lists
                ids = [j["id"] for j in jobs]
                after = query.get("after", [None])[0]
                start = ids.index(after) + 1 if after in ids else 0
                limit = int(query.get("limit", ["20"])[0])
                page = jobs[start : start + limit]
                self._json(
                    200,
                    {
                        "object": "list",
                        "data": [fake._public_job(j) for j in page],
                        "first_id": page[0]["id"] if page else None,
                        "last_id": page[-1]["id"] if page else None,
                        "has_more": start + limit < len(jobs),
                    },
                )
                return
            job_id = rest.removeprefix("/")
            cancel = job_id.endswith("/cancel")
            job_id = job_id.removesuffix("/cancel")
            job = fake.batches.get(job_id)
            if job is None:
                raise _Refusal(404, "NOT_FOUND", f"Batch {job_id} not found.")
            if cancel and method == "POST":
                if job["status"] in ("completed", "failed", "expired", "cancelled"):
                    raise _Refusal(400, "FAILED_PRECONDITION", f"Batch {job_id} has finished.")
                job["status"] = "cancelling"
            elif method == "GET":
                fake._advance(job)
            else:
                raise _Refusal(404, "NOT_FOUND", f"Not found: {method} batches{rest}")
            self._json(200, fake._public_job(job))

    return Handler
