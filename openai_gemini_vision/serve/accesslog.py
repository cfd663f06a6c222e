"""One access-log line per request, as text or JSON, on the `openai_gemini_vision.serve.access` logger.

A line holds what an operator needs to follow a request (its id, route, status, time,
images, bytes each way, tokens estimated and reported) and nothing a client would not
want in a log file: never a key, never a query string (where signed URLs carry theirs).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass

from .config import LogFormat

__all__ = ["ACCESS_LOGGER", "AccessRecord", "log_access"]

#: The logger access lines go to (INFO); `ogv serve` prints it on stderr.
ACCESS_LOGGER = logging.getLogger("openai_gemini_vision.serve.access")


@dataclass
class AccessRecord:
    """What one request did, filled in as it goes."""

    id: str
    method: str
    path: str
    """The route without its query string."""
    status: int = 0
    duration_ms: float = 0.0
    stream: bool = False
    model: str | None = None
    images: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    tokens_estimated: int | None = None
    tokens_reported: int | None = None
    error: str | None = None
    """The error code answered, if any (never its message: it may quote the request)."""


def _text(record: AccessRecord) -> str:
    fields = [
        f"id={record.id}",
        f"{record.method} {record.path}",
        f"status={record.status}",
        f"ms={record.duration_ms:.1f}",
        f"stream={'yes' if record.stream else 'no'}",
        f"model={record.model or '-'}",
        f"images={record.images}",
        f"in={record.bytes_in}",
        f"out={record.bytes_out}",
        f"tokens_est={'-' if record.tokens_estimated is None else record.tokens_estimated}",
        f"tokens_reported={'-' if record.tokens_reported is None else record.tokens_reported}",
    ]
    if record.error:
        fields.append(f"error={record.error}")
    return " ".join(fields)


def log_access(record: AccessRecord, form: LogFormat) -> None:
    """Write `record` as one line in `form` (nothing for "off")."""
    if form == "off" or not ACCESS_LOGGER.isEnabledFor(logging.INFO):
        return
    line = json.dumps(asdict(record), separators=(",", ":")) if form == "json" else _text(record)
    ACCESS_LOGGER.info(line)
