"""Image files -> OpenAI-format batch JSONL, cut into shards, written streaming.

Each distinct image not yet answered becomes one line
`{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body": {"model", "messages"}}`
whose messages are exactly what online captioning sends (`caption_messages`, then
`prepare_messages` with the same policy). A shard is closed before it would pass the file
size limit (2 GB) or the token budget, and a manifest beside it records which image each
request stands for (path, sha256, estimate, changes), so the merge writes lines that read
the same as online ones.

Memory stays flat: a few images are read, hashed and prepared at once in worker threads
(their order kept), and each line is written in pieces, the base64 payload encoded
straight from the image's bytes into the line, never built into a data URL string first.

Durability without waiting for the disk: a shard's JSONL is not fsync'd (10,000 photos
make 3.9 GB, and waiting for them to reach the disk cost more than the rest of the build);
its CRC-32 is recorded in the state with its size instead, and checked before it is
uploaded (`repair.shard_intact`). A process killed at any point leaves its writes in the page
cache, whole; only a system crash can tear an unsynced file, and then the check fails and
the shard is rebuilt from its manifest (`repair.rebuild_shard`), which is fsync'd with the copies
list and the folder before the state says "built". Preparing is deterministic, so the
rebuilt shard has the recorded CRC again, or the rebuild refuses it (a file changed since).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import secrets
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pybase64

try:
    # ISA-L's CRC-32: about 60 us over a 390 kB line where zlib's takes 190 us (it runs
    # once per line written); the same polynomial and values as zlib.crc32, used where
    # pyproject.toml installs no isal wheel.
    from isal.isal_zlib import crc32
except ImportError:  # pragma: no cover - platforms without an isal wheel
    from zlib import crc32

from ..caption.captioner import caption_messages, error_text
from ..caption.ledger import Record, blank_record, estimate_fields
from ..errors import InvalidArgumentError
from ..images.prepared import PreparedImage
from ..policy import ImagePolicy
from ..request.prepare import prepare_messages_as
from .results import Known
from .state import ShardState, _sync_folder

__all__ = [
    "BuildCounts",
    "ShardWriter",
    "build_shards",
    "custom_id",
    "prepared_line",
    "request_line",
]

#: Images in the pipeline at once (read, hashed, prepared, waiting to be written in order).
_WINDOW = 6
# Two threads overlap one image's hashing and encoding with another's reading and writing;
# hashlib, file I/O and Pillow's decoders release the GIL for large buffers.
_WORKERS = 2
_WRITE_BUFFER = 1 << 20
# Replaces each data URL while the rest of a line is serialized; random, so no prompt
# can contain it by accident.
_MARKER = f"ogv-image-{secrets.token_hex(16)}"


def custom_id(sha256: str, prompt: str, model: str) -> str:
    """A request's id: the image's sha256, then 12 hex digits of (prompt, model)."""
    return f"{sha256}-{_asked(prompt, model)}"


@functools.lru_cache(maxsize=16)  # one (prompt, model) per run: hashed once, not per image
def _asked(prompt: str, model: str) -> str:
    return hashlib.sha256(f"{prompt}\0{model}".encode()).hexdigest()[:12]


def request_line(
    identifier: str,
    model: str,
    messages: list[dict[str, Any]],
    images: list[PreparedImage] | None = None,
) -> list[bytes]:
    """One JSONL line in pieces whose concatenation is the line (newline included).

    The image parts' data URLs are base64 ASCII, which JSON leaves as it is: they are
    spliced in as bytes instead of passing through the JSON encoder. With `images`, the
    messages hold a marker (`prepare_messages_as`) at each image part's URL, in message
    order, and each payload is base64-encoded from the image's bytes straight into the
    line: the data URL string `prepare_messages` would build, and its copy into bytes,
    are never made (together about as long as encoding itself).
    """
    payloads: list[list[bytes]] = []
    if images is None:
        for message in messages:
            content = message.get("content")
            for part in content if isinstance(content, list) else ():
                image_url = part.get("image_url") if isinstance(part, dict) else None
                if isinstance(image_url, dict) and isinstance(image_url.get("url"), str):
                    payloads.append([image_url["url"].encode("ascii")])
                    part["image_url"] = {**image_url, "url": _MARKER}
    else:
        # data_url() of prepared.py, as bytes: "data:<mime>;base64,<standard base64>".
        payloads = [
            [f"data:{image.mime_type};base64,".encode("ascii"), pybase64.b64encode(image.data)]
            for image in images
        ]
    line = {
        "custom_id": identifier,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": model, "messages": messages},
    }
    text = json.dumps(line, ensure_ascii=False, separators=(",", ":"))
    around = text.split(_MARKER)
    pieces = [around[0].encode()]
    for payload, after in zip(payloads, around[1:], strict=True):
        pieces += [*payload, after.encode()]
    pieces[-1] += b"\n"
    return pieces


def prepared_line(
    path: str, data: bytes, sha256: str, *, prompt: str, model: str, policy: ImagePolicy | None
) -> tuple[list[bytes], int, Record]:
    """One image's request line in pieces, its estimated tokens, and its manifest line.

    The request is `caption_messages` prepared by `prepare_messages` (through
    `prepare_messages_as`): online captioning sends the same body. Raises what preparing
    raises (a truncated or damaged image, ...).
    """
    images: list[PreparedImage] = []

    def marker(image: PreparedImage) -> str:
        images.append(image)
        return _MARKER

    messages = caption_messages(data, prompt, path)
    prepared = prepare_messages_as(messages, marker, model=model, policy=policy)
    identifier = custom_id(sha256, prompt, model)
    manifest: Record = {
        "custom_id": identifier,
        "path": path,
        "sha256": sha256,
        "estimate": estimate_fields(prepared.estimate),
        "changes": [change for image in prepared.images for change in image.changes],
    }
    pieces = request_line(identifier, model, prepared.messages, images)
    return pieces, prepared.estimate.total_tokens, manifest


@dataclass
class BuildCounts:
    """What the build found, for the plan shown before anything is sent."""

    images: int = 0
    requests: int = 0
    copies: int = 0
    """Files identical to one being sent: they share its answer."""
    already: int = 0
    """Already answered in the results file for the same bytes, prompt and model."""
    reused: int = 0
    """Identical to a file already answered: written now with that answer (`same_as`)."""
    failed_earlier: int = 0
    """Their lines are errors; not sent again without --retry-failed."""
    unusable: int = 0
    """Unreadable or refused by preparation: written now as error lines."""
    tokens: int = 0
    bytes: int = 0

    def as_dict(self) -> dict[str, int]:
        """For the state file."""
        return dict(self.__dict__)


@dataclass
class _Prepared:
    """One image after the worker: what to do with it, and its line if it is to be sent."""

    path: str
    sha256: str | None = None
    outcome: str = "send"
    """send, already, reuse, failed_earlier, unusable."""
    error: str | None = None
    pieces: list[bytes] = field(default_factory=list)
    tokens: int = 0
    manifest: dict[str, Any] = field(default_factory=dict)


class ShardWriter:
    """Writes request lines into shard files, closing one before it passes either limit."""

    def __init__(self, folder: Path, *, run_id: str, max_bytes: int, max_tokens: int) -> None:
        self.folder = folder
        self.run_id = run_id
        self.max_bytes = max_bytes
        self.max_tokens = max_tokens
        self.shards: list[ShardState] = []
        self._jsonl: IO[bytes] | None = None
        self._manifest: IO[bytes] | None = None
        self._copies = (folder / "copies.jsonl").open("wb")
        self._shard_of: dict[str, ShardState] = {}

    def __contains__(self, identifier: str) -> bool:
        return identifier in self._shard_of

    def add(self, identifier: str, pieces: list[bytes], tokens: int, manifest: Record) -> None:
        """Append one request line (and its manifest line) to the current shard."""
        size = sum(len(piece) for piece in pieces)
        if size > self.max_bytes:
            raise InvalidArgumentError(
                f"{manifest['path']}: its request takes {size:,} bytes, more than the "
                f"{self.max_bytes:,} one batch input file may hold; raise the file limit."
            )
        if tokens > self.max_tokens:
            raise InvalidArgumentError(
                f"{manifest['path']}: its request is estimated at {tokens:,} tokens, over "
                f"--max-enqueued-tokens {self.max_tokens:,}; raise --max-enqueued-tokens."
            )
        shard = self.shards[-1] if self._jsonl is not None else None
        if (
            shard is None
            or shard.bytes + size > self.max_bytes
            or (shard.tokens + tokens > self.max_tokens)
        ):
            shard = self._next_shard()
        assert self._jsonl is not None
        assert self._manifest is not None
        checksum = shard.crc32 or 0
        for piece in pieces:
            self._jsonl.write(piece)
            checksum = crc32(piece, checksum)
        shard.crc32 = checksum
        self._manifest.write(json.dumps(manifest, ensure_ascii=False).encode() + b"\n")
        shard.requests += 1
        shard.images += 1
        shard.bytes += size
        shard.tokens += tokens
        self._shard_of[identifier] = shard

    def add_copy(self, identifier: str, path: str) -> None:
        """Another file with the same bytes as request `identifier`: it gets its answer too."""
        shard = self._shard_of[identifier]
        line = {"custom_id": identifier, "path": path, "shard": shard.index}
        self._copies.write(json.dumps(line, ensure_ascii=False).encode() + b"\n")
        shard.images += 1

    def _next_shard(self) -> ShardState:
        self._close_shard()
        index = len(self.shards)
        shard = ShardState(
            index=index,
            display_name=f"ogv-batch-{self.run_id}-{index:04d}",
            requests=0,
            images=0,
            bytes=0,
            tokens=0,
            crc32=0,
        )
        self._jsonl = (self.folder / shard.jsonl).open("wb", buffering=_WRITE_BUFFER)
        self._manifest = (self.folder / shard.manifest).open("wb", buffering=_WRITE_BUFFER)
        self.shards.append(shard)
        return shard

    def _close_shard(self) -> None:
        # The JSONL is left to the kernel's writeback: its CRC-32 in the state stands
        # for it (see the module's docstring). The manifest, a few hundred bytes a
        # request, is what a torn JSONL is rebuilt from: it is fsync'd.
        if self._jsonl is not None:
            self._jsonl.close()
        if self._manifest is not None:
            _close_synced(self._manifest)
        self._jsonl = self._manifest = None

    def close(self) -> list[ShardState]:
        """Close every file (manifests and copies fsync'd, and the folder); returns the shards."""
        self._close_shard()
        _close_synced(self._copies)
        _sync_folder(self.folder)  # the new files' names, before the state points at them
        return self.shards


def _close_synced(handle: IO[bytes]) -> None:
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()


class _Worker:
    """Reads, hashes and prepares one file: everything that needs no order."""

    def __init__(
        self,
        *,
        prompt: str,
        model: str,
        policy: ImagePolicy | None,
        known: Known,
        retry_failed: bool,
        already_written: set[str],
    ) -> None:
        self.prompt = prompt
        self.model = model
        self.policy = policy
        self.known = known
        self.retry_failed = retry_failed
        self.already_written = already_written

    def __call__(self, path: str) -> _Prepared:
        if path in self.already_written:  # a line this run wrote before it was stopped
            return _Prepared(path, outcome="already")
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            return _Prepared(path, outcome="unusable", error=error_text(exc))
        sha256 = hashlib.sha256(data).hexdigest()
        key = (sha256, self.prompt, self.model)
        item = _Prepared(path, sha256)
        if (path, key) in self.known.answered.paths:
            item.outcome = "already"
        elif key in self.known.answered.by_key:
            item.outcome = "reuse"
        elif (path, key) in self.known.failed and not self.retry_failed:
            item.outcome = "failed_earlier"
        else:
            self._prepare(item, data)
        return item

    def _prepare(self, item: _Prepared, data: bytes) -> None:
        assert item.sha256 is not None
        try:
            item.pieces, item.tokens, item.manifest = prepared_line(
                item.path,
                data,
                item.sha256,
                prompt=self.prompt,
                model=self.model,
                policy=self.policy,
            )
        except Exception as exc:  # noqa: BLE001 - one bad image must not stop the others
            item.outcome, item.error = "unusable", error_text(exc)


def _in_order(work: Callable[[str], _Prepared], paths: Iterable[str]) -> Iterator[_Prepared]:
    """`work` over `paths` in a few threads, results in the paths' order, a bounded window."""
    with ThreadPoolExecutor(_WORKERS, thread_name_prefix="ogv-batch-build") as pool:
        pending: deque[Future[_Prepared]] = deque()
        for path in paths:
            pending.append(pool.submit(work, path))
            if len(pending) >= _WINDOW:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def build_shards(
    files: Iterable[str],
    *,
    prompt: str,
    model: str,
    policy: ImagePolicy | None,
    known: Known,
    writer: ShardWriter,
    write_line: Callable[[Record], None],
    retry_failed: bool = False,
    already_written: set[str] | None = None,
    on_image: Callable[[], None] | None = None,
) -> BuildCounts:
    """Write every image that needs asking into `writer`'s shards; returns what was found.

    Lines that need no job are written at once through `write_line`: files identical to
    one already answered (with `same_as`, as online) and files that cannot be sent.
    """
    counts = BuildCounts()
    work = _Worker(
        prompt=prompt,
        model=model,
        policy=policy,
        known=known,
        retry_failed=retry_failed,
        already_written=already_written or set(),
    )
    for item in _in_order(work, files):
        counts.images += 1
        if item.outcome == "send":
            identifier = item.manifest["custom_id"]
            if identifier in writer:
                writer.add_copy(identifier, item.path)
                counts.copies += 1
            else:
                writer.add(identifier, item.pieces, item.tokens, item.manifest)
                counts.requests += 1
                counts.tokens += item.tokens
                counts.bytes += sum(len(piece) for piece in item.pieces)
        elif item.outcome == "reuse":
            assert item.sha256 is not None
            earlier = known.answered.by_key[(item.sha256, prompt, model)]
            record = blank_record(item.path, None, model=model, prompt=prompt)
            # Not billed, as online: no usage; `same_as` names the line that was.
            for name in ("sha256", "text", "estimate", "changes"):
                record[name] = earlier.get(name)
            record["same_as"] = earlier.get("path")
            write_line(record)
            counts.reused += 1
        elif item.outcome == "unusable":
            write_line(
                blank_record(item.path, item.sha256, model=model, prompt=prompt, error=item.error)
            )
            counts.unusable += 1
        elif item.outcome == "already":
            counts.already += 1
        else:
            counts.failed_earlier += 1
        if on_image is not None:
            on_image()
    return counts
