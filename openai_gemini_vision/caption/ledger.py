"""The JSON Lines results file of `ogv caption`: what is already answered, and safe appends.

One finished image is one line. Lines are appended with `write()` on an `O_APPEND`
descriptor and `fsync`'d before the image counts as done, so a kill (even SIGKILL) or a
power cut loses nothing already reported. Lines finishing at the same time share one
`write()` + `fsync()` (group commit), so a slow disk does not throttle the requests.

The only damage a kill can leave is a torn last line. `repair_tail` removes such a
fragment before the next append, so every later line starts on a line of its own and the
file stays valid JSON Lines; a last line that is complete JSON but only lacks its newline
is kept. Readers skip any line that is not a JSON object.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ..request.estimate import TokenEstimate
from ..token_rules import DEFAULT_BACKEND

__all__ = [
    "Answered",
    "LedgerWriter",
    "Record",
    "ResumeKey",
    "blank_record",
    "estimate_fields",
    "read_ledger",
    "repair_tail",
    "resume_key",
    "succeeded",
]

Record = dict[str, Any]
#: What makes two answers interchangeable: sha256 of the file's bytes, prompt, model.
ResumeKey = tuple[str, str, str]

# How far back to look for the last newline at once; answers are a few KB.
_TAIL_BLOCK = 64 * 1024


def blank_record(
    path: str,
    sha256: str | None,
    *,
    model: str,
    prompt: str,
    backend: str | None = None,
    error: str | None = None,
) -> Record:
    """A results line with every field present and nothing answered yet (online and batch)."""
    return {
        "path": path,
        "sha256": sha256,
        "model": model,
        "backend": backend or DEFAULT_BACKEND,
        "prompt": prompt,
        "text": None,
        "usage": None,
        "estimate": None,
        "changes": [],
        "error": error,
    }


def estimate_fields(estimate: TokenEstimate) -> dict[str, int]:
    """A line's `estimate`: what varies per image (the model, backend and rule notes are
    the run's, and the line's `model` and `backend` say them)."""
    return {
        "image_tokens": estimate.image_tokens,
        "text_tokens": estimate.text_tokens,
        "total_tokens": estimate.total_tokens,
    }


def resume_key(record: Record) -> ResumeKey | None:
    """(sha256, prompt, model) of a line, or None when the line lacks them."""
    values = (record.get("sha256"), record.get("prompt"), record.get("model"))
    if all(isinstance(value, str) for value in values):
        return values  # type: ignore[return-value]
    return None


def succeeded(record: Record) -> bool:
    """Whether a line is an answer (no error, some text)."""
    return record.get("error") is None and isinstance(record.get("text"), str)


@dataclass
class Answered:
    """What a results file already holds: the successful answers, by key and by path."""

    by_key: dict[ResumeKey, Record] = field(default_factory=dict)
    """The first successful line for each (sha256, prompt, model)."""
    paths: set[tuple[str, ResumeKey]] = field(default_factory=set)
    """(path, key) pairs that have a successful line: these are skipped on a rerun."""
    lines: int = 0
    unreadable: int = 0
    """Lines that were not JSON objects (torn by a kill, or edited by hand): ignored."""

    def add(self, record: Record) -> None:
        """Take note of one line; a success wins over any failure for the same image."""
        key = resume_key(record)
        if key is None or not succeeded(record):
            return
        self.by_key.setdefault(key, record)
        self.paths.add((str(record.get("path")), key))


def read_ledger(path: Path) -> Answered:
    """Every successful answer in the results file at `path` (empty when it does not exist)."""
    answered = Answered()
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return answered
    with handle:
        for raw in handle:
            if not raw.strip():
                continue
            answered.lines += 1
            try:
                record = json.loads(raw)
            except ValueError:
                answered.unreadable += 1
                continue
            if isinstance(record, dict):
                answered.add(record)
            else:
                answered.unreadable += 1
    return answered


def repair_tail(path: Path) -> int:
    """Make the file end with a newline; returns how many bytes of a torn last line were cut.

    A last line that parses as a JSON object only gets its newline; anything else after
    the last newline is the start of a line a kill interrupted, never reported as done.
    """
    try:
        handle = path.open("rb+")
    except FileNotFoundError:
        return 0
    with handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return 0
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return 0
        start = _last_line_start(handle, size)
        handle.seek(start)
        fragment = handle.read()
        try:
            whole = isinstance(json.loads(fragment), dict)
        except ValueError:
            whole = False
        if whole:
            handle.write(b"\n")
            cut = 0
        else:
            handle.truncate(start)
            cut = size - start
        handle.flush()
        os.fsync(handle.fileno())
        return cut


def _last_line_start(handle: BinaryIO, size: int) -> int:
    """Offset just after the last newline (0 if there is none)."""
    end = size
    while end > 0:
        begin = max(0, end - _TAIL_BLOCK)
        handle.seek(begin)
        block = handle.read(end - begin)
        newline = block.rfind(b"\n")
        if newline >= 0:
            return begin + newline + 1
        end = begin
    return 0


class LedgerWriter:
    """Appends lines to the results file; `await append(...)` returns once the line is on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.cut_bytes = repair_tail(path)
        """Bytes of a torn last line removed when the file was opened."""
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._pending: list[tuple[bytes, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def append(self, record: Record) -> None:
        """Write `record` as one line and fsync it.

        The write goes on even if the caller is cancelled meanwhile, so a line is never
        half-written and an answer that arrived is never lost.
        """
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((line, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await asyncio.shield(done)

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await asyncio.to_thread(self._write, b"".join(line for line, _ in batch))
            except OSError as exc:
                for _, done in batch:
                    done.set_exception(exc)
                continue
            for _, done in batch:
                done.set_result(None)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        os.fsync(self._fd)

    async def aclose(self) -> None:
        """Finish every pending line, then close the file."""
        while self._flusher is not None and not self._flusher.done():
            await asyncio.shield(self._flusher)
        os.close(self._fd)
