"""A finished job's output -> one results line per image, answer or error.

The output file is OpenAI's batch output format, one line per request, in any order:
`{"custom_id", "response": {"status_code", "body": <chat.completion>}, "error"}`, where a
request that failed has an `error` object or a non-2xx `status_code` whose body holds the
error. Each line is joined to its image through the shard's manifest (read by offset, so a
shard of 100,000 requests costs a dictionary of offsets, not of records); identical files
get the same answer, as online. A request the output does not mention gets an error line
saying so, and so does every request of a job that failed or expired without output.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from openai.types import CompletionUsage

from ..caption.ledger import Record, blank_record, succeeded

__all__ = ["MergeCounts", "answer_of", "merge_shard"]

# What openai names an exception for each status, so a batch error line reads like the
# online one ("BadRequestError: Error code: 400 - ...").
_STATUS_NAMES = {
    400: "BadRequestError",
    401: "AuthenticationError",
    403: "PermissionDeniedError",
    404: "NotFoundError",
    409: "ConflictError",
    422: "UnprocessableEntityError",
    429: "RateLimitError",
}


@dataclass
class MergeCounts:
    """What one shard's merge wrote."""

    answered: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    """Path -> error, for every error line written."""
    missing: int = 0
    """Requests the output did not mention."""
    unknown: int = 0
    """Output lines whose custom_id is not one of this shard's requests (ignored)."""


def _message(error: Any) -> str:
    if isinstance(error, list) and error:
        error = error[0]
    if isinstance(error, dict) and "error" in error:
        error = error["error"]
    if isinstance(error, dict):
        parts = [str(error[name]) for name in ("code", "status") if error.get(name)]
        message = error.get("message")
        text = str(message) if message else json.dumps(error)[:300]
        return f"{' '.join(dict.fromkeys(parts))}: {text}" if parts else text
    return str(error)


def _usage(usage: Any) -> Any:
    """`usage` dumped as the online captioner dumps openai's own model, so lines read the same."""
    if not isinstance(usage, dict):
        return usage
    try:
        return CompletionUsage.model_validate(usage).model_dump(mode="json")
    except ValueError:  # not OpenAI's shape: kept as Gemini sent it
        return usage


def answer_of(line: dict[str, Any]) -> tuple[str | None, Any, str | None]:
    """(text, usage, error) of one output line; exactly one of text and error is set."""
    error = line.get("error")
    response = line.get("response")
    if error:
        return None, None, f"BatchRequestError: {' '.join(_message(error).split())}"
    if not isinstance(response, dict):
        return (
            None,
            None,
            "BatchRequestError: the output line holds neither a response nor an error.",
        )
    status = response.get("status_code")
    body = response.get("body")
    if isinstance(status, int) and not 200 <= status < 300:
        name = _STATUS_NAMES.get(
            status, "InternalServerError" if status >= 500 else "APIStatusError"
        )
        return None, None, f"{name}: Error code: {status} - {' '.join(_message(body).split())}"
    if not isinstance(body, dict):
        return None, None, "BatchRequestError: the response has no body."
    usage = _usage(body.get("usage"))
    choices = body.get("choices") or []
    choice = choices[0] if choices and isinstance(choices[0], dict) else None
    message = choice.get("message") if choice else None
    text = message.get("content") if isinstance(message, dict) else None
    if isinstance(text, str):
        return text, usage, None
    reason = choice.get("finish_reason") if choice else "no choices"
    return None, usage, f"No text in the answer ({reason})."


def _offsets(manifest: Path) -> dict[str, int]:
    """custom_id -> byte offset of its manifest line."""
    offsets: dict[str, int] = {}
    with manifest.open("rb") as handle:
        position = 0
        for raw in handle:
            offsets.setdefault(json.loads(raw)["custom_id"], position)
            position += len(raw)
    return offsets


def _copies(folder: Path, shard: int) -> dict[str, list[str]]:
    """custom_id -> the other paths with the same bytes, for one shard."""
    found: dict[str, list[str]] = {}
    try:
        handle = (folder / "copies.jsonl").open("rb")
    except FileNotFoundError:
        return found
    with handle:
        for raw in handle:
            line = json.loads(raw)
            if line.get("shard") == shard:
                found.setdefault(line["custom_id"], []).append(line["path"])
    return found


def _entry(handle: IO[bytes], offset: int) -> dict[str, Any]:
    handle.seek(offset)
    entry: dict[str, Any] = json.loads(handle.readline())
    return entry


def _output_lines(outputs: Iterable[Path]) -> Iterable[dict[str, Any]]:
    for path in outputs:
        with path.open("rb") as handle:
            for raw in handle:
                if not raw.strip():
                    continue
                try:
                    line = json.loads(raw)
                except ValueError:
                    continue  # not OpenAI's format: the request counts as missing
                if isinstance(line, dict):
                    yield line


def merge_shard(
    *,
    folder: Path,
    manifest: str,
    shard: int,
    outputs: list[Path],
    job: str,
    tag: dict[str, Any],
    prompt: str,
    model: str,
    write_line: Callable[[Record], None],
    skip_paths: set[str],
    missing_reason: str,
) -> MergeCounts:
    """Write one line per image of a shard; paths in `skip_paths` already have theirs.

    Args:
        tag: the `batch` field every line carries (`{"run", "job"}`).
        missing_reason: why a request without an output line has no answer.
    """
    counts = MergeCounts()
    offsets = _offsets(folder / manifest)
    copies = _copies(folder, shard)
    seen: set[str] = set()

    def write(entry: dict[str, Any], text: str | None, usage: Any, error: str | None) -> None:
        record = blank_record(entry["path"], entry["sha256"], model=model, prompt=prompt)
        record.update(
            text=text,
            usage=usage,
            estimate=entry.get("estimate"),
            changes=entry.get("changes") or [],
            error=error,
            batch=tag,
        )
        lines = [record]
        for path in copies.get(entry["custom_id"], []):
            copy = {**record, "path": path}
            if succeeded(record):  # asked once: the copy's line was not billed
                copy.update(same_as=entry["path"], usage=None)
            lines.append(copy)
        for line in lines:
            if line["path"] in skip_paths:
                continue
            write_line(line)
            if succeeded(line):
                counts.answered += 1
            else:
                counts.failed[line["path"]] = str(error)

    with (folder / manifest).open("rb") as handle:
        for line in _output_lines(outputs):
            identifier = line.get("custom_id")
            if not isinstance(identifier, str) or identifier not in offsets:
                counts.unknown += 1
                continue
            if identifier in seen:
                continue  # a repeated line: the first one counts
            seen.add(identifier)
            write(_entry(handle, offsets[identifier]), *answer_of(line))
        for identifier, offset in offsets.items():
            if identifier not in seen:
                counts.missing += 1
                error = (
                    f"BatchJobError: batch job {job} returned no answer for this image: "
                    f"{missing_reason}. Send it again with --retry-failed (or caption it "
                    "online, without --batch)."
                )
                write(_entry(handle, offset), None, None, error)
    return counts
