"""Gemini's Files API, as much of it as batch jobs need: upload, find, download, delete.

A batch job's input file must be uploaded through Gemini's own Files API: the OpenAI SDK's
`files.create` is not served on the compatible endpoint (GEMINI_FACTS.md, "Batch API
through the OpenAI SDK"). This module speaks that API with a small httpx2 client rather
than google-genai, Google's own client for it, because:

- the root comes from the OpenAI client's base URL, so `GEMINI_BASE_URL` / `--base-url`
  point chat, batches and files at one host (a test server included); google-genai takes
  its own base URL and API version, and 3.x defaults to `v1` paths where Google's REST docs
  show `v1beta`;
- the upload streams the file from disk with a known length, and the upload address (it
  carries its own credential) stays in one local variable, never in an error or a log;
- httpx2 is already a dependency; google-genai would add a large one for four requests.

Every path, header and field name of the protocol is in `FilesEndpoint` and the constants
below: they follow Google's REST reference and public client code, and none has been
checked against the live service, so a correction is a one-place edit.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx2
import openai

from ..errors import FilesAPIError, InvalidArgumentError

__all__ = [
    "JSONL_MIME_TYPE",
    "FilesAPI",
    "FilesEndpoint",
    "RemoteFile",
    "files_endpoint",
]

#: The MIME type Google's own batch sample gives its JSONL upload (`mime_type='jsonl'`).
JSONL_MIME_TYPE = "jsonl"
#: Statuses worth another try: rate limits and server trouble.
_RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})
_PAGE_SIZE = 100
_DOWNLOAD_CHUNK = 1 << 20
_VERSIONED_OPENAI_PATH = re.compile(r"^(?P<prefix>.*/)(?P<version>v\d+[a-z0-9]*)/openai/?$")

_HTTPCORE_LOGGERS = ("http11", "http2", "connection", "proxy", "socks")


class _HideUploadAddresses(logging.Filter):
    """Upload addresses must not reach a log: httpx2 logs each URL at INFO, httpcore2 the
    response headers (where the address comes back) at DEBUG."""

    _QUERY = re.compile(r"(upload_id=)[^&\s\"'\\]+")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "upload_id=" in record.msg:
            record.msg = self._QUERY.sub(r"\1<hidden>", record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                self._QUERY.sub(r"\1<hidden>", str(arg)) if "upload_id=" in str(arg) else arg
                for arg in record.args
            )
        return True


# Installed once, on the loggers of httpx2 and httpcore2 (a filter does not pass to child
# loggers): it only rewrites lines that hold an upload id.
for _name in ("httpx2", *(f"httpcore2.{part}" for part in _HTTPCORE_LOGGERS)):
    logging.getLogger(_name).addFilter(_HideUploadAddresses())


@dataclass(frozen=True)
class FilesEndpoint:
    """Where the Files API lives: the host (and any prefix) of the chat endpoint, and its version."""

    root: str
    """Scheme, host and path prefix, ending with "/": `https://generativelanguage.googleapis.com/`."""
    version: str
    """The API version taken from the base URL (`v1beta`, as Google's REST docs show)."""

    @property
    def upload_url(self) -> str:
        """Where a resumable upload starts."""
        return f"{self.root}upload/{self.version}/files"

    @property
    def list_url(self) -> str:
        """Where files are listed."""
        return f"{self.root}{self.version}/files"

    def resource_url(self, name: str) -> str:
        """A file's own address (`files/abc`), for deleting it."""
        return f"{self.root}{self.version}/{_file_name(name)}"

    def download_url(self, name: str) -> str:
        """Where a file's bytes are read (batch output files are read this way)."""
        return f"{self.root}download/{self.version}/{_file_name(name)}:download?alt=media"


def _file_name(name: str) -> str:
    """`files/<id>` for a file's name or bare id, quoted for a URL path."""
    name = name if name.startswith("files/") else f"files/{name}"
    return quote(name, safe="/-_.~")


def files_endpoint(base_url: str | httpx2.URL) -> FilesEndpoint:
    """The Files API beside an OpenAI-compatible base URL such as `.../v1beta/openai/`."""
    parts = urlsplit(str(base_url))
    match = _VERSIONED_OPENAI_PATH.match(parts.path)
    if not parts.scheme or not parts.netloc or match is None:
        raise InvalidArgumentError(
            f"Cannot find Gemini's Files API from the base URL {_public(str(base_url))}: batch "
            "jobs need a base URL ending in /<version>/openai/ (Gemini's is "
            "https://generativelanguage.googleapis.com/v1beta/openai/). Set --base-url or "
            "GEMINI_BASE_URL to such a URL."
        )
    root = urlunsplit((parts.scheme, parts.netloc, match["prefix"], "", ""))
    return FilesEndpoint(root=root, version=match["version"])


def _public(url: str) -> str:
    """A URL without its query (which may hold a key)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


@dataclass(frozen=True)
class RemoteFile:
    """One file in Gemini's Files API, as it describes it."""

    name: str
    """`files/<id>`: what `batches.create(input_file_id=...)` takes."""
    display_name: str | None = None
    size: int | None = None
    state: str | None = None
    """`PROCESSING`, `ACTIVE` or `FAILED`."""

    @classmethod
    def from_json(cls, data: Any) -> RemoteFile:
        """From the API's `File` object (`{"name", "displayName", "sizeBytes", "state", ...}`)."""
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            raise FilesAPIError(f"The Files API answered without a file name: {str(data)[:200]}")
        size = data.get("sizeBytes")
        return cls(
            name=data["name"],
            display_name=data.get("displayName"),
            size=int(size) if isinstance(size, str | int) and str(size).isdigit() else None,
            state=data.get("state"),
        )


def _reason(response: httpx2.Response) -> str:
    """Google's error message from a response body, else its status line."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, list) and body:
        body = body[0]
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    text = message if isinstance(message, str) else response.reason_phrase
    return f"{response.status_code} {text}".strip()


class FilesAPI:
    """A small client for Gemini's Files API; the key goes in `x-goog-api-key`, never the URL."""

    def __init__(
        self,
        endpoint: FilesEndpoint,
        api_key: str,
        *,
        http_client: httpx2.Client | None = None,
        timeout: float = 600.0,
        retries: int = 3,
        backoff: float = 1.0,
    ) -> None:
        """Args:
        timeout: seconds without progress before a request fails (an upload is up to 2 GB).
        retries: further tries of a request answered 429 / 5xx or cut off.
        backoff: seconds before the first retry, doubling each time.
        """
        self.endpoint = endpoint
        self._key = api_key
        self._http = http_client or httpx2.Client(timeout=timeout)
        self.retries = retries
        self.backoff = backoff

    @classmethod
    def for_client(cls, client: openai.OpenAI, **kwargs: Any) -> FilesAPI:
        """The Files API on the same host, with the same key, as an OpenAI client."""
        key = client.api_key if isinstance(client.api_key, str) else client._refresh_api_key()
        return cls(files_endpoint(client.base_url), key, **kwargs)

    def __repr__(self) -> str:
        return f"FilesAPI({self.endpoint.root}{self.endpoint.version})"

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> FilesAPI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _headers(self, **extra: str) -> dict[str, str]:
        return {"x-goog-api-key": self._key, **extra}

    def _send(
        self,
        what: str,
        request: httpx2.Request,
        *,
        stream: bool = False,
        allow: frozenset[int] = frozenset(),
    ) -> httpx2.Response:
        """Send with retries on 429 / 5xx / cut connections; raise FilesAPIError otherwise.

        A status in `allow` is returned as an answer rather than raised.
        """
        for attempt in range(self.retries + 1):
            try:
                response = self._http.send(request, stream=stream)
            except httpx2.TransportError as exc:
                if attempt < self.retries:
                    self._pause(attempt)
                    continue
                raise FilesAPIError(
                    f"{what} failed: {type(exc).__name__} reaching {self.endpoint.root}. Check "
                    "the network and --base-url / GEMINI_BASE_URL, then rerun the same command."
                ) from None
            if response.is_success or response.status_code in allow:
                return response
            if stream:
                response.read()
                response.close()
            if response.status_code in _RETRYABLE and attempt < self.retries:
                self._pause(attempt)
                continue
            raise FilesAPIError(f"{what} failed: {_reason(response)}. {_fix(response)}")
        raise AssertionError("unreachable")  # pragma: no cover

    def _pause(self, attempt: int) -> None:
        time.sleep(self.backoff * 2**attempt)

    def upload(
        self, path: Path, *, display_name: str, mime_type: str = JSONL_MIME_TYPE
    ) -> RemoteFile:
        """Upload a file in Google's two-request resumable protocol; returns the stored file."""
        size = path.stat().st_size
        what = f"Uploading {path.name} ({size:,} bytes) to the Files API"
        for attempt in range(self.retries + 1):
            start = httpx2.Request(
                "POST",
                self.endpoint.upload_url,
                headers=self._headers(
                    **{
                        "X-Goog-Upload-Protocol": "resumable",
                        "X-Goog-Upload-Command": "start",
                        "X-Goog-Upload-Header-Content-Length": str(size),
                        "X-Goog-Upload-Header-Content-Type": mime_type,
                    }
                ),
                json={"file": {"display_name": display_name}},
            )
            address = self._send(what, start).headers.get("x-goog-upload-url")
            if not address:
                raise FilesAPIError(
                    f"{what} failed: the answer to the upload's first request carried no "
                    "X-Goog-Upload-URL header. Check --base-url / GEMINI_BASE_URL."
                )
            try:
                return self._finish_upload(what, address, path, size)
            except _CutOff as cut:
                if attempt < self.retries:  # a new session: this one's offset is unknown
                    self._pause(attempt)
                    continue
                raise FilesAPIError(
                    f"{what} failed {self.retries + 1} times, last: {cut}. Rerun the same "
                    "command to upload again (nothing is submitted before an upload ends)."
                ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _finish_upload(self, what: str, address: str, path: Path, size: int) -> RemoteFile:
        # The address carries the session's credential: it is used here and nowhere else,
        # and no error below names it.
        with path.open("rb") as handle:
            request = httpx2.Request(
                "POST",
                address,
                headers=self._headers(
                    **{
                        "X-Goog-Upload-Offset": "0",
                        "X-Goog-Upload-Command": "upload, finalize",
                        "Content-Length": str(size),
                    }
                ),
                content=handle,  # streamed from disk in chunks, never held whole
            )
            try:
                response = self._http.send(request)
            except httpx2.TransportError as exc:
                raise _CutOff(f"{type(exc).__name__}, the connection was cut") from None
        if not response.is_success:
            if response.status_code in _RETRYABLE:
                raise _CutOff(_reason(response))
            raise FilesAPIError(f"{what} failed: {_reason(response)}. {_fix(response)}")
        body = response.json()
        return RemoteFile.from_json(body.get("file", body) if isinstance(body, dict) else body)

    def files(self) -> Iterator[RemoteFile]:
        """Every file the key's project holds, page by page."""
        token: str | None = None
        while True:
            params = {"pageSize": str(_PAGE_SIZE), **({"pageToken": token} if token else {})}
            request = httpx2.Request(
                "GET", self.endpoint.list_url, headers=self._headers(), params=params
            )
            body = self._send("Listing the Files API's files", request).json()
            for item in body.get("files") or ():
                yield RemoteFile.from_json(item)
            token = body.get("nextPageToken")
            if not token:
                return

    def find(self, display_name: str) -> RemoteFile | None:
        """The active file with this display name (an upload a killed run finished), if any."""
        for found in self.files():
            if found.display_name == display_name and found.state in (None, "ACTIVE"):
                return found
        return None

    def download(self, name: str, dest: Path) -> int:
        """Stream a file's bytes to `dest` (written whole or not at all); returns its size."""
        request = httpx2.Request("GET", self.endpoint.download_url(name), headers=self._headers())
        partial = dest.with_name(dest.name + ".part")
        response = self._send(f"Downloading {name}", request, stream=True)
        written = 0
        try:
            with partial.open("wb") as handle:
                for chunk in response.iter_bytes(_DOWNLOAD_CHUNK):
                    handle.write(chunk)
                    written += len(chunk)
                handle.flush()
                os.fsync(handle.fileno())
        except httpx2.TransportError as exc:
            partial.unlink(missing_ok=True)
            raise FilesAPIError(
                f"Downloading {name} failed part-way ({type(exc).__name__}); rerun the same "
                "command to download it again."
            ) from None
        finally:
            response.close()
        partial.replace(dest)
        return written

    def delete(self, name: str) -> bool:
        """Delete a file; False when it was already gone (404)."""
        request = httpx2.Request(
            "DELETE", self.endpoint.resource_url(name), headers=self._headers()
        )
        response = self._send(f"Deleting {name}", request, allow=frozenset({404}))
        return response.status_code != 404


class _CutOff(Exception):
    """The upload's second request did not finish; a new session must start."""


def _fix(response: httpx2.Response) -> str:
    """What to change, by status."""
    status = response.status_code
    if status in (400, 401, 403) and "key" in response.text.lower():
        return "Check GEMINI_API_KEY (or GOOGLE_API_KEY)."
    if status == 404:
        return "Check --base-url / GEMINI_BASE_URL: the Files API was not found there."
    if status == 429:
        return (
            "The Files API's quota was reached (20 GB stored per project): wait, or delete "
            "files, then rerun the same command."
        )
    return "Rerun the same command to try again."
