"""The state file of a batch run: what was built, uploaded, submitted and merged.

It sits beside the results file (`captions.jsonl` -> `captions.jsonl.batch.json`), with the
shards in a folder beside it (`captions.jsonl.batch/`). Every step that reaches Gemini is
recorded before the next one starts, and the file is replaced atomically (written to a
temporary file, fsync'd, renamed, the folder fsync'd), so a run killed at any moment leaves
either the old state or the new one, never a torn one. It holds names and ids only: no key,
and never an upload address.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import IO, Any

from ..errors import BatchStateError

__all__ = [
    "PAUSE_VARIABLE",
    "STATE_VERSION",
    "RunState",
    "ShardState",
    "cancel_marker",
    "load_state",
    "pause_point",
    "run_lock",
    "save_state",
    "state_path",
    "work_dir",
]

STATE_VERSION = 1

#: Test hook: `OGV_BATCH_PAUSE_AT=<step>[:<n>]` stops the process dead the n-th time it
#: reaches a step (build, upload, create, wait, merge, cleanup), after printing a line to
#: stderr, so the kill tests can SIGKILL it exactly there. Unset, it costs one dict lookup.
PAUSE_VARIABLE = "OGV_BATCH_PAUSE_AT"
_reached: dict[str, int] = {}


def pause_point(step: str) -> None:
    """Where a test may stop the process dead (see PAUSE_VARIABLE); nothing otherwise."""
    wanted = os.environ.get(PAUSE_VARIABLE)
    if not wanted:
        return
    name, _, nth = wanted.partition(":")
    if name != step:
        return
    _reached[step] = _reached.get(step, 0) + 1
    if _reached[step] == int(nth or 1):
        sys.stderr.write(f"ogv: paused at {step} ({PAUSE_VARIABLE})\n")
        sys.stderr.flush()
        threading.Event().wait()  # until the test kills the process


@dataclass
class ShardState:
    """One input file and the job that runs it.

    `status` moves built -> uploading -> uploaded -> submitting -> submitted -> finished
    -> merging -> merged -> done; or to dropped (cancelled before it was submitted).
    """

    index: int
    display_name: str
    """The name it is uploaded under, unique to this shard: how a killed upload is found."""
    requests: int
    images: int
    """Requests plus the identical files that share their answers."""
    bytes: int
    tokens: int
    """Estimated input tokens (what counts against the enqueued-token cap)."""
    status: str = "built"
    file: str | None = None
    """The Files API name of the uploaded input (`files/<id>`)."""
    job: str | None = None
    job_status: str | None = None
    completed: int = 0
    failed: int = 0
    reason: str | None = None
    output_files: list[str] = field(default_factory=list)
    crc32: int | None = None
    """CRC-32 of the input file as built: a file torn by a system crash is rebuilt before
    it is uploaded (None in states written before it was recorded: not checked)."""

    @property
    def jsonl(self) -> str:
        """The input file's name in the work folder."""
        return f"shard-{self.index:04d}.jsonl"

    @property
    def manifest(self) -> str:
        """Which image each request stands for, in the work folder."""
        return f"shard-{self.index:04d}.manifest.jsonl"


@dataclass
class RunState:
    """One batch run over one results file."""

    run_id: str
    prompt: str
    model: str
    detail: str
    inputs: list[str]
    """The PATH arguments, so `--resume` can rebuild a run stopped while building."""
    max_enqueued_tokens: int
    max_file_bytes: int
    retry_failed: bool = False
    phase: str = "building"
    """building -> built (awaiting confirmation) -> running -> done."""
    confirmed: bool = False
    shards: list[ShardState] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    """What the build found: images, distinct, already answered, failed earlier, ..."""
    version: int = STATE_VERSION

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunState:
        """From `to_json()`'s output; fields added by later versions are ignored."""
        known = {f.name for f in fields(cls)}
        shard_fields = {f.name for f in fields(ShardState)}
        values = {key: value for key, value in data.items() if key in known}
        values["shards"] = [
            ShardState(**{key: value for key, value in shard.items() if key in shard_fields})
            for shard in data.get("shards", [])
        ]
        return cls(**values)


def state_path(out: Path) -> Path:
    """`captions.jsonl` -> `captions.jsonl.batch.json`."""
    return out.with_name(out.name + ".batch.json")


def work_dir(out: Path) -> Path:
    """`captions.jsonl` -> `captions.jsonl.batch/`: shards, manifests, downloaded outputs."""
    return out.with_name(out.name + ".batch")


def cancel_marker(out: Path) -> Path:
    """A file whose presence asks the run to submit nothing more (`ogv batch cancel`)."""
    return work_dir(out) / "cancel-requested"


def load_state(out: Path) -> RunState | None:
    """The run recorded beside `out`, or None when there is none."""
    path = state_path(out)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            raise ValueError("unknown version")
        return RunState.from_json(data)
    except (ValueError, TypeError) as exc:
        raise BatchStateError(
            f"{path} is not a batch state file this version can read ({exc}). If no batch "
            f"run is under way for {out}, delete {path} and run the command again."
        ) from None


def save_state(out: Path, state: RunState) -> None:
    """Replace the state file atomically: the old one or the new one survives any kill."""
    path = state_path(out)
    data = json.dumps(state.to_json(), indent=1, ensure_ascii=False).encode()
    fd, temporary = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems that refuse fsync on folders
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def run_lock(out: Path) -> Iterator[None]:
    """Hold the run's lock: two processes never work on one run at once.

    An advisory `flock` on the results file itself (no lock file to leave behind), released
    by the kernel when the process dies, so a killed run never leaves a stale lock.
    """
    handle: IO[bytes] = out.open("ab")
    try:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no advisory locks, no check
            yield
            return
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BatchStateError(
                f"Another ogv process is working on the batch run of {out}. Wait for it to "
                f"finish, or stop it (Ctrl-C), then rerun; `ogv batch status {out}` shows "
                "its jobs meanwhile."
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()
