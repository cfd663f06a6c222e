"""Captioning many image files with one prompt: bounded concurrency, resume, 429 back-off.

The engine behind `ogv caption`. Each file is read once (its sha256 is the resume key),
prepared in a worker thread, sent through the async client, and its answer appended to
the results file (`ledger.py`) the moment it arrives. A rerun skips what the file
already answers for the same bytes, prompt and model; identical files are asked about once.
"""

from __future__ import annotations

import asyncio
import glob
import hashlib
import os
import signal
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx2
import openai
from PIL import Image

from ..client import key_refused
from ..errors import GeminiVisionError
from ..images.source import Source
from ..policy import ImagePolicy
from ..request.prepare import prepare_messages
from .ledger import (
    Answered,
    LedgerWriter,
    Record,
    ResumeKey,
    blank_record,
    estimate_fields,
    read_ledger,
    succeeded,
)
from .limiter import AdaptiveLimiter

__all__ = [
    "IMAGE_FORMATS",
    "CaptionSummary",
    "Captioner",
    "FoundImages",
    "Outcome",
    "caption_messages",
    "error_text",
    "find_images",
    "is_image_file",
    "run_sync",
]

#: Formats recognised by their magic bytes when scanning folders (Pillow's names). Formats
#: Pillow opens without a signature (TGA, ...) are left out: any binary file could match.
IMAGE_FORMATS = (
    "PNG",
    "JPEG",
    "WEBP",
    "HEIF",
    "AVIF",
    "GIF",
    "BMP",
    "TIFF",
    "ICO",
    "JPEG2000",
    "PPM",
    "QOI",
)

Outcome = Literal["answered", "skipped", "reused", "failed"]

#: Errors no other image will escape (a bad key, a wrong model or endpoint, no network):
#: the run stops instead of writing the same failure for every image.
_FATAL = (
    openai.AuthenticationError,
    openai.PermissionDeniedError,
    openai.NotFoundError,
    openai.APIConnectionError,
)


def caption_messages(data: bytes, prompt: str, path: str) -> list[dict[str, Any]]:
    """The chat messages asking `prompt` about one image: online and batch send the same.

    The image is the file's bytes, read once by the caller, named by its path in errors.
    """
    image = Source("bytes", data, path)
    return [{"role": "user", "content": [image, {"type": "text", "text": prompt}]}]


def _stops_the_run(exc: openai.OpenAIError) -> bool:
    """Whether every other image would fail the same way: one of `_FATAL`, or a refused key
    (Gemini answers a wrong key with 400 API_KEY_INVALID, not 401)."""
    return isinstance(exc, _FATAL) or key_refused(exc)


def is_image_file(path: str | os.PathLike[str]) -> bool:
    """Whether the file starts like an image (header only; the extension does not matter)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path, formats=IMAGE_FORMATS):
                return True
    except Exception:  # noqa: BLE001 - whatever Pillow raises, a file it cannot open is no image
        return False


@dataclass
class FoundImages:
    """Image files found under the given paths, and files passed over as not images."""

    files: list[str] = field(default_factory=list)
    not_images: list[str] = field(default_factory=list)


def _expand(pattern: str) -> list[str]:
    if os.path.exists(pattern):
        return [pattern]
    # The shell expands globs before we see them, except when quoted or on Windows.
    if glob.has_magic(pattern):
        return sorted(glob.glob(pattern, recursive=True))
    return []


def _walk(folder: str) -> Iterator[str]:
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(names):
            yield os.path.join(root, name)


def find_images(paths: Iterable[str]) -> FoundImages:
    """Files, folders (recursively) and globs -> the image files among them, in a stable order.

    Raises FileNotFoundError naming the first path that matches nothing.
    """
    found = FoundImages()
    seen: set[str] = set()
    for pattern in paths:
        matches = _expand(pattern)
        if not matches:
            raise FileNotFoundError(f"No such file, folder or glob match: {pattern}")
        for match in matches:
            candidates = _walk(match) if os.path.isdir(match) else iter([match])
            for candidate in candidates:
                real = os.path.realpath(candidate)
                if real in seen:
                    continue
                seen.add(real)
                (found.files if is_image_file(candidate) else found.not_images).append(candidate)
    return found


@dataclass
class CaptionSummary:
    """How a run went, for the closing lines and the exit code."""

    total: int = 0
    answered: int = 0
    skipped: int = 0
    reused: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    """Path -> one-line error, for every image whose line records a failure."""
    throttled: int = 0
    """429 responses seen (each retried by the SDK while retries lasted)."""
    lowest_concurrency: int = 0
    interrupted: bool = False
    cut_bytes: int = 0
    """Bytes of a torn last line (left by a killed run) removed from the results file."""
    seconds: float = 0.0
    estimated_tokens: int = 0
    """Prompt tokens estimated before the calls this run made (images and text)."""
    reported_tokens: int = 0
    """`usage.prompt_tokens` Gemini reported for those calls."""

    def count_tokens(self, record: Record) -> None:
        """Add a billed line's estimate and reported usage to the run's totals."""
        estimate, usage = record.get("estimate") or {}, record.get("usage") or {}
        self.estimated_tokens += int(estimate.get("total_tokens") or 0)
        self.reported_tokens += int(usage.get("prompt_tokens") or 0)

    @property
    def done(self) -> int:
        """Images with an outcome so far."""
        return self.answered + self.skipped + self.reused + len(self.failed)


def _read(path: str) -> tuple[bytes, str]:
    data = Path(path).read_bytes()
    return data, hashlib.sha256(data).hexdigest()


def error_text(exc: BaseException) -> str:
    """An error line's text: the type and the message, on one line, without the place in
    the messages (the line names its file already). Batch lines use it too."""
    text = exc.message if isinstance(exc, GeminiVisionError) else str(exc)
    return f"{type(exc).__name__}: {' '.join(text.split())}"


class Captioner:
    """Asks one prompt about many image files and appends each answer to a JSONL file."""

    def __init__(
        self,
        *,
        client_factory: Callable[..., openai.AsyncOpenAI],
        prompt: str,
        model: str,
        out: Path,
        policy: ImagePolicy | None = None,
        backend: str | None = None,
        concurrency: int = 8,
        on_progress: Callable[[Outcome], None] | None = None,
    ) -> None:
        """Args:
        client_factory: builds the async client; called with `http_client=` so the
            captioner can watch every response (429s) including the SDK's retries.
        on_progress: called once per image as it finishes.
        """
        self.client_factory = client_factory
        self.prompt = prompt
        self.model = model
        self.out = out
        self.policy = policy
        self.backend = backend
        self.limiter = AdaptiveLimiter(concurrency)
        self.on_progress = on_progress
        self.summary = CaptionSummary(lowest_concurrency=concurrency)
        self._answered = Answered()
        self._inflight: dict[ResumeKey, asyncio.Future[Record | None]] = {}
        # Files claim their bytes in the order given, whichever read finished first, so
        # of two identical files the first listed is the one asked about.
        self._turn = 0
        self._turns = asyncio.Condition()
        self._tasks: list[asyncio.Task[None]] = []
        self._fatal: BaseException | None = None

    def request_stop(self) -> None:
        """Stop soon (Ctrl-C): cancel requests in flight; lines already answered still land."""
        self.summary.interrupted = True
        self._cancel_others()

    def _cancel_others(self) -> None:
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()

    async def run(self, files: list[str]) -> CaptionSummary:
        """Caption `files`; raises the first error that would fail every image."""
        started = time.perf_counter()
        self.summary.total = len(files)
        http_client = openai.DefaultAsyncHttpxClient(event_hooks={"response": [self._watch]})
        try:
            client = self.client_factory(http_client=http_client)
        except BaseException:
            await http_client.aclose()
            raise
        async with client:
            # Opened only once the client exists: a missing key leaves no file behind.
            writer = LedgerWriter(self.out)
            self.summary.cut_bytes = writer.cut_bytes
            self._answered = read_ledger(self.out)
            queue = enumerate(files)
            self._tasks = [
                asyncio.create_task(self._worker(queue, client, writer))
                for _ in range(self.limiter.maximum)
            ]
            try:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            finally:
                await writer.aclose()
                self.summary.seconds = time.perf_counter() - started
        if self._fatal is not None:
            raise self._fatal
        return self.summary

    async def _watch(self, response: httpx2.Response) -> None:
        if response.status_code == 429:
            self.summary.throttled += 1
            self.limiter.throttled()
            self.summary.lowest_concurrency = min(
                self.summary.lowest_concurrency, self.limiter.limit
            )
        elif response.is_success:
            self.limiter.succeeded()

    async def _worker(
        self, queue: Iterator[tuple[int, str]], client: openai.AsyncOpenAI, writer: LedgerWriter
    ) -> None:
        try:
            for index, path in queue:
                if self._fatal is not None or self.summary.interrupted:
                    return
                outcome = await self._one(index, path, client, writer)
                if outcome is not None and self.on_progress is not None:
                    self.on_progress(outcome)
        except Exception as exc:  # noqa: BLE001 - e.g. the results file cannot be written
            self._fatal = self._fatal or exc
            self._cancel_others()

    async def _one(
        self, index: int, path: str, client: openai.AsyncOpenAI, writer: LedgerWriter
    ) -> Outcome | None:
        try:
            data, sha256 = await asyncio.to_thread(_read, path)
        except OSError as exc:
            await self._take_turn(index, None)
            return await self._write(writer, self._record(path, None, error=error_text(exc)))
        key = (sha256, self.prompt, self.model)
        pending = await self._take_turn(index, key)
        if (path, key) in self._answered.paths:
            self.summary.skipped += 1
            return "skipped"
        while pending is None:  # the same bytes are answered, or being asked about
            earlier = self._answered.by_key.get(key)
            if earlier is not None:
                return await self._write(writer, self._reuse(path, earlier))
            asked = self._inflight.get(key)
            if asked is None:  # it failed: ask again
                pending = self._claim(key)
            else:
                await asked
        record: Record | None = None
        try:
            async with self.limiter:
                record = await self._ask(path, data, sha256, client)
            if record is None:
                return None
            return await self._write(writer, record)
        finally:
            pending.set_result(record if record is not None and succeeded(record) else None)
            del self._inflight[key]

    def _claim(self, key: ResumeKey) -> asyncio.Future[Record | None]:
        pending: asyncio.Future[Record | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = pending
        return pending

    async def _take_turn(
        self, index: int, key: ResumeKey | None
    ) -> asyncio.Future[Record | None] | None:
        """After the files listed before this one: claim `key` if it is new (its future)."""
        async with self._turns:
            await self._turns.wait_for(lambda: self._turn == index)
            self._turn += 1
            self._turns.notify_all()
            if key is None or key in self._inflight or key in self._answered.by_key:
                return None
            return self._claim(key)

    async def _ask(
        self, path: str, data: bytes, sha256: str, client: openai.AsyncOpenAI
    ) -> Record | None:
        messages = caption_messages(data, self.prompt, path)
        try:
            prepared = await asyncio.to_thread(
                prepare_messages,
                messages,
                model=self.model,
                policy=self.policy,
                backend=self.backend,
            )
        except Exception as exc:  # noqa: BLE001 - one bad image must not stop the others
            return self._record(path, sha256, error=error_text(exc))
        base = self._record(path, sha256)
        base["estimate"] = estimate_fields(prepared.estimate)
        base["changes"] = [change for image in prepared.images for change in image.changes]
        try:
            response = await client.chat.completions.create(
                model=self.model,
                messages=prepared.messages,  # type: ignore[arg-type]
            )
        except openai.OpenAIError as exc:
            if not _stops_the_run(exc):
                return {**base, "error": error_text(exc)}
            self._fatal = self._fatal or exc
            self._cancel_others()
            return None
        choice = response.choices[0] if response.choices else None
        text = choice.message.content if choice is not None else None
        usage = response.usage.model_dump(mode="json") if response.usage else None
        if text is None:
            reason = choice.finish_reason if choice is not None else "no choices"
            return {**base, "usage": usage, "error": f"No text in the answer ({reason})."}
        return {**base, "text": text, "usage": usage}

    def _record(self, path: str, sha256: str | None, *, error: str | None = None) -> Record:
        return blank_record(
            path,
            sha256,
            model=self.model,
            prompt=self.prompt,
            backend=self.backend,
            error=error,
        )

    def _reuse(self, path: str, earlier: Record) -> Record:
        """A line for `path` carrying the answer already given for the same bytes.

        It was not billed: its `usage` is null (summing usage over the file counts each
        call once), and `same_as` names the line that was.
        """
        fields = ("sha256", "text", "estimate", "changes")
        record = self._record(path, None) | {name: earlier.get(name) for name in fields}
        record["same_as"] = earlier.get("path")
        return record

    async def _write(self, writer: LedgerWriter, record: Record) -> Outcome:
        # Counted before the await: a Ctrl-C arriving during the write cannot stop the
        # line from landing (see LedgerWriter.append), so the summary must include it.
        outcome = self._count(record)
        await writer.append(record)
        return outcome

    def _count(self, record: Record) -> Outcome:
        if succeeded(record):
            self._answered.add(record)
            if "same_as" in record:
                self.summary.reused += 1
                return "reused"
            self.summary.answered += 1
            self.summary.count_tokens(record)
            return "answered"
        self.summary.failed[str(record["path"])] = str(record["error"])
        return "failed"


def run_sync(captioner: Captioner, files: list[str]) -> CaptionSummary:
    """Run `captioner` to the end; Ctrl-C (SIGINT) stops it cleanly instead of raising."""
    return asyncio.run(_run_with_signals(captioner, files))


async def _run_with_signals(captioner: Captioner, files: list[str]) -> CaptionSummary:
    loop = asyncio.get_running_loop()

    def first_interrupt() -> None:
        captioner.request_stop()
        # A second Ctrl-C is someone who will not wait: Python's own KeyboardInterrupt.
        loop.remove_signal_handler(signal.SIGINT)

    try:
        loop.add_signal_handler(signal.SIGINT, first_interrupt)
    # pragma: no cover - Windows, or not the main thread: Ctrl-C raises as usual there
    except (NotImplementedError, RuntimeError):
        return await captioner.run(files)
    try:
        return await captioner.run(files)
    finally:
        loop.remove_signal_handler(signal.SIGINT)
