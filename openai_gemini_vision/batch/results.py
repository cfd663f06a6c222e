"""The results file seen from a batch run: what it already holds, and appending to it.

The file is the online captioner's ledger (`caption/ledger.py`), read and written the same
way: lines appended with `write()` on an `O_APPEND` descriptor and fsync'd, a torn last
line (left by a kill) cut before the first append. A batch line is an online line plus
`"batch": {"run": ..., "job": ...}`, which also lets a rerun tell which lines a run has
already written.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..caption.ledger import Answered, Record, ResumeKey, repair_tail, resume_key, succeeded

__all__ = ["Known", "LineAppender", "batch_tag", "scan_results"]

# Lines are fsync'd in groups of this many (and at every close): one fsync per line would
# bound a merge of 100,000 answers by the disk's flush rate.
_GROUP = 256


def batch_tag(record: Record) -> dict[str, Any] | None:
    """A line's `batch` field (`{"run", "job"}`), or None for an online line."""
    tag = record.get("batch")
    return tag if isinstance(tag, dict) else None


@dataclass
class Known:
    """What a results file holds for one prompt and model."""

    answered: Answered = field(default_factory=Answered)
    failed: set[tuple[str, ResumeKey]] = field(default_factory=set)
    """(path, key) pairs whose lines are all errors."""
    written: dict[str, set[str]] = field(default_factory=dict)
    """Paths that lines of a batch run hold, by job id ("" for lines written before any job)."""


def scan_results(out: Path, *, prompt: str, model: str, run_id: str | None = None) -> Known:
    """Read the results file once: answers, failures, and the lines run `run_id` wrote."""
    known = Known()
    try:
        handle = out.open("rb")
    except FileNotFoundError:
        return known
    with handle:
        for raw in handle:
            try:
                record = json.loads(raw)
            except ValueError:
                continue  # torn by a kill, or edited by hand: the ledger's readers skip it too
            if not isinstance(record, dict):
                continue
            tag = batch_tag(record)
            if run_id is not None and tag is not None and tag.get("run") == run_id:
                known.written.setdefault(str(tag.get("job") or ""), set()).add(
                    str(record.get("path"))
                )
            key = resume_key(record)
            if key is None or key[1:] != (prompt, model):
                continue
            if succeeded(record):
                known.answered.add(record)
            else:
                known.failed.add((str(record.get("path")), key))
    known.failed -= known.answered.paths
    return known


class LineAppender:
    """Appends whole lines to the results file, fsync'd in groups and on close."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.cut_bytes = repair_tail(path)
        """Bytes of a torn last line removed when the file was opened."""
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._unsynced = 0
        self.lines = 0

    def append(self, record: Record) -> None:
        """Write one line (in one `write()`, so a kill never interleaves two)."""
        view = memoryview((json.dumps(record, ensure_ascii=False) + "\n").encode())
        while view:
            view = view[os.write(self._fd, view) :]
        self.lines += 1
        self._unsynced += 1
        if self._unsynced >= _GROUP:
            self.sync()

    def sync(self) -> None:
        """Make every line so far durable."""
        if self._unsynced:
            os.fsync(self._fd)
            self._unsynced = 0

    def close(self) -> None:
        """Sync and close."""
        if self._fd < 0:
            return
        try:
            self.sync()
        finally:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> LineAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
