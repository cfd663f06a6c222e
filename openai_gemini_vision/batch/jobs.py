"""Batch jobs through the OpenAI client, as Google documents: create, retrieve, cancel, list.

Gemini's compatible endpoint serves `batches.create(input_file_id=<Files API name>,
endpoint="/v1/chat/completions", completion_window="24h")`, `batches.retrieve` and
`batches.cancel` (GEMINI_FACTS.md, "Batch API through the OpenAI SDK"). What the answers
hold beyond OpenAI's `Batch` shape is unconfirmed: the state names (Gemini's native API
calls them `BATCH_STATE_SUCCEEDED` ...), where a failure's reason sits, and whether
`batches.list` reports `input_file_id`. Each guess is made once, here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import openai

__all__ = ["ACTIVE", "TERMINAL", "JobView", "Jobs", "normal_status"]

#: States after which a job changes no more.
TERMINAL = frozenset({"completed", "failed", "cancelled", "expired"})
#: States of a job that still holds enqueued tokens.
ACTIVE = frozenset({"validating", "in_progress", "finalizing", "cancelling"})

# Gemini's native names, in case the compatible endpoint passes them through unchanged.
_NATIVE = {
    "pending": "validating",
    "running": "in_progress",
    "succeeded": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
    "expired": "expired",
    "unspecified": "validating",
}

#: What each state means, for people (status tables, failure lines).
_MEANING = {
    "failed": "the job failed",
    "expired": "the job did not finish within its 24-hour window",
    "cancelled": "the job was cancelled",
}


def normal_status(status: object) -> str:
    """OpenAI's name for a job's state, whichever spelling the endpoint used."""
    text = str(status or "").strip().lower()
    for prefix in ("batch_state_", "job_state_"):
        if text.startswith(prefix):
            return _NATIVE.get(text.removeprefix(prefix), text.removeprefix(prefix))
    return text or "validating"


@dataclass(frozen=True)
class JobView:
    """What the run needs to know about one batch job."""

    id: str
    status: str
    input_file_id: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    total: int = 0
    completed: int = 0
    failed: int = 0
    reason: str | None = None
    """Gemini's words for why the job failed, expired or was cancelled (None otherwise)."""

    @property
    def terminal(self) -> bool:
        """Whether the job will change no more."""
        return self.status in TERMINAL


def _reason(batch: Any, status: str) -> str | None:
    if status not in _MEANING:
        return None
    errors = getattr(getattr(batch, "errors", None), "data", None) or []
    said = [
        ": ".join(str(part) for part in (error.code, error.message) if part)
        for error in errors
        if getattr(error, "code", None) or getattr(error, "message", None)
    ]
    extra = getattr(batch, "model_extra", None) or {}
    error = extra.get("error")  # a Google-style {"error": {...}} beside OpenAI's fields
    if isinstance(error, dict) and error.get("message"):
        said.append(str(error["message"]))
    return f"{_MEANING[status]}: {'; '.join(said)}" if said else _MEANING[status]


def _view(batch: Any) -> JobView:
    status = normal_status(batch.status)
    counts = batch.request_counts
    return JobView(
        id=str(batch.id),
        status=status,
        input_file_id=batch.input_file_id,
        output_file_id=batch.output_file_id or None,
        error_file_id=batch.error_file_id or None,
        total=counts.total if counts else 0,
        completed=counts.completed if counts else 0,
        failed=counts.failed if counts else 0,
        reason=_reason(batch, status),
    )


class Jobs:
    """The batch endpoints of an OpenAI client pointed at Gemini."""

    #: The only endpoint a caption line uses.
    ENDPOINT: Final = "/v1/chat/completions"

    def __init__(self, client: openai.OpenAI) -> None:
        self.client = client

    def create(self, input_file: str) -> JobView:
        """Start a job on an uploaded file (`files/<id>`)."""
        return _view(
            self.client.batches.create(
                input_file_id=input_file, endpoint=self.ENDPOINT, completion_window="24h"
            )
        )

    def retrieve(self, job_id: str) -> JobView:
        """A job's state now."""
        return _view(self.client.batches.retrieve(job_id))

    def cancel(self, job_id: str) -> JobView:
        """Ask for a job to stop; it passes through `cancelling` to `cancelled`."""
        return _view(self.client.batches.cancel(job_id))

    def all(self, *, limit: int = 10_000) -> Iterator[JobView]:
        """The project's jobs as `batches.list` pages them, at most `limit`."""
        for count, batch in enumerate(self.client.batches.list(limit=100)):
            if count >= limit:
                return
            yield _view(batch)

    def find_by_input(self, input_file: str) -> JobView | None:
        """The job started on `input_file`, if one was (a run killed before saving its id)."""
        return next((job for job in self.all() if job.input_file_id == input_file), None)
