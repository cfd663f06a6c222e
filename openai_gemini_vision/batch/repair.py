"""A shard torn by a system crash, found before it is uploaded and written again.

The build leaves each shard's JSONL to the kernel's writeback and records its size and
CRC-32 in the state (`build.py` says why); its manifest is fsync'd. Before a shard is
uploaded, `shard_intact` reads it back; a torn one is rebuilt from its manifest with the
very preparation the build used, which gives the same bytes, or the rebuild refuses.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

try:
    # The same CRC-32 as build.py's (ISA-L's, or zlib's where no isal wheel exists).
    from isal.isal_zlib import crc32
except ImportError:  # pragma: no cover - platforms without an isal wheel
    from zlib import crc32

from ..caption.captioner import error_text
from ..errors import BatchStateError
from ..policy import ImagePolicy
from .build import prepared_line
from .state import RunState, ShardState, _sync_folder

__all__ = ["rebuild_shard", "shard_intact"]

_BLOCK = 1 << 20


def shard_intact(folder: Path, shard: ShardState) -> bool:
    """Whether the shard's JSONL is the one built: its size and CRC-32 as recorded.

    Reads the file once (about a second for a 2 GB shard from the page cache, beside
    minutes of upload). A state without a CRC (written before it was recorded, when
    shards were fsync'd) is taken as intact.
    """
    if shard.crc32 is None:
        return True
    checksum, size = 0, 0
    try:
        with (folder / shard.jsonl).open("rb") as handle:
            while block := handle.read(_BLOCK):
                checksum = crc32(block, checksum)
                size += len(block)
    except FileNotFoundError:
        return False
    return (size, checksum) == (shard.bytes, shard.crc32)


def rebuild_shard(
    folder: Path,
    shard: ShardState,
    *,
    run: RunState,
    policy: ImagePolicy | None,
    results: Path,
) -> None:
    """Write a torn shard's JSONL again from its manifest: the same lines, or an error.

    Raises BatchStateError when a file is gone, changed or cannot be prepared any more,
    or the rebuilt file differs from the one built: the shard cannot be sent as planned
    (the message names `results`, the run's results file, in the fix).
    """
    target = folder / shard.jsonl
    temporary = target.with_name(target.name + ".rebuild")
    try:
        size, checksum = _write_again(
            folder / shard.manifest, temporary, run.prompt, run.model, policy
        )
        if (size, checksum) != (shard.bytes, shard.crc32):
            raise _Unrebuildable(str(folder / shard.manifest), "it prepares differently now")
    except _Unrebuildable as exc:
        temporary.unlink(missing_ok=True)
        raise BatchStateError(
            f"Shard {shard.index} of the batch run was lost in a system crash before it was "
            f"uploaded, and cannot be written again as it was built: {exc.path}: {exc.why}. "
            f"Stop the run with `ogv batch cancel {results}`, then run the same caption "
            "command again: the images not yet answered are built anew."
        ) from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    os.replace(temporary, target)
    _sync_folder(folder)


class _Unrebuildable(Exception):
    def __init__(self, path: str, why: str) -> None:
        super().__init__(path, why)
        self.path, self.why = path, why


def _write_again(
    manifest: Path, out: Path, prompt: str, model: str, policy: ImagePolicy | None
) -> tuple[int, int]:
    """The lines of the manifest's requests written into `out` (fsync'd); size and CRC-32."""
    checksum, size = 0, 0
    with manifest.open("rb") as entries, out.open("wb") as handle:
        for raw in entries:
            entry = json.loads(raw)
            path = entry["path"]
            try:
                data = Path(path).read_bytes()
            except OSError as exc:
                raise _Unrebuildable(path, error_text(exc)) from None
            sha256 = hashlib.sha256(data).hexdigest()
            if sha256 != entry["sha256"]:
                raise _Unrebuildable(path, "its bytes changed since the build")
            try:
                pieces, _, _ = prepared_line(
                    path, data, sha256, prompt=prompt, model=model, policy=policy
                )
            except Exception as exc:  # noqa: BLE001 - named in the error, whatever it is
                raise _Unrebuildable(path, error_text(exc)) from None
            for piece in pieces:
                handle.write(piece)
                checksum = crc32(piece, checksum)
                size += len(piece)
        handle.flush()
        os.fsync(handle.fileno())
    return size, checksum
