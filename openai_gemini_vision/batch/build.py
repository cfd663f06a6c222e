"""Image files -> OpenAI-format batch JSONL, cut into shards, written streaming.

Each distinct image not yet answered becomes one line
`{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body": {"model", "messages"}}`
whose messages are exactly what online captioning sends (`caption_messages`, then
`prepare_messages` with the same policy). A shard is closed before it would pass the file
size limit (2 GB) or the token budget, and a manifest beside it records which image each
request stands for (path, sha256, estimate, changes), so the merge writes lines that read
the same as online ones.

Memory stays flat: a few images are read, hashed and prepared at once in worker threads
(their order kept), and each line is written in pieces, the base64 payload straight from
the prepared data URL, never copied into one big string.
"""

from __future__ import annotations

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

from ..caption.captioner import caption_messages
from ..caption.ledger import Record, blank_record, estimate_fields
from ..errors import InvalidArgumentError
from ..policy import ImagePolicy
from ..request.prepare import prepare_messages
from .results import Known
from .state import ShardState

__all__ = ["BuildCounts", "ShardWriter", "build_shards", "custom_id", "request_line"]

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
    asked = hashlib.sha256(f"{prompt}\0{model}".encode()).hexdigest()[:12]
    return f"{sha256}-{asked}"


def request_line(identifier: str, model: str, messages: list[dict[str, Any]]) -> list[bytes]:
    """One JSONL line in pieces whose concatenation is the line (newline included).

    The image parts' data URLs are base64 ASCII, which JSON leaves as it is: they are
    spliced in as bytes instead of passing through the JSON encoder.
    """
    urls: list[str] = []
    for message in messages:
        content = message.get("content")
        for part in content if isinstance(content, list) else ():
            image_url = part.get("image_url") if isinstance(part, dict) else None
            if isinstance(image_url, dict) and isinstance(image_url.get("url"), str):
                urls.append(image_url["url"])
                part["image_url"] = {**image_url, "url": _MARKER}
    line = {
        "custom_id": identifier,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": model, "messages": messages},
    }
    text = json.dumps(line, ensure_ascii=False, separators=(",", ":"))
    around = text.split(_MARKER)
    pieces = [around[0].encode()]
    for url, after in zip(urls, around[1:], strict=True):
        pieces += [url.encode("ascii"), after.encode()]
    pieces[-1] += b"\n"
    return pieces


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


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


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
        for piece in pieces:
            self._jsonl.write(piece)
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
        )
        self._jsonl = (self.folder / shard.jsonl).open("wb", buffering=_WRITE_BUFFER)
        self._manifest = (self.folder / shard.manifest).open("wb", buffering=_WRITE_BUFFER)
        self.shards.append(shard)
        return shard

    def _close_shard(self) -> None:
        for handle in (self._jsonl, self._manifest):
            if handle is not None:
                handle.flush()
                os.fsync(handle.fileno())
                handle.close()
        self._jsonl = self._manifest = None

    def close(self) -> list[ShardState]:
        """Close every file (fsync'd); returns the shards written."""
        self._close_shard()
        self._copies.flush()
        os.fsync(self._copies.fileno())
        self._copies.close()
        return self.shards


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
            return _Prepared(path, outcome="unusable", error=_error_text(exc))
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
        messages = caption_messages(data, self.prompt, item.path)
        try:
            prepared = prepare_messages(messages, model=self.model, policy=self.policy)
        except Exception as exc:  # noqa: BLE001 - one bad image must not stop the others
            item.outcome, item.error = "unusable", _error_text(exc)
            return
        assert item.sha256 is not None
        identifier = custom_id(item.sha256, self.prompt, self.model)
        item.pieces = request_line(identifier, self.model, prepared.messages)
        item.tokens = prepared.estimate.total_tokens
        item.manifest = {
            "custom_id": identifier,
            "path": item.path,
            "sha256": item.sha256,
            "estimate": estimate_fields(prepared.estimate),
            "changes": [change for image in prepared.images for change in image.changes],
        }


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
