"""The plan of a whole request, shared by sending and estimating.

`plan_request` copies the messages and finds every image; `Loader` classifies, reads
and checks each distinct image once (one entry per image, every slot showing it
listed); `fit` shrinks the largest images until the serialized request fits the
budget. Sending (`prepare.py`) runs this with every image prepared; estimating
(`estimate.py`) runs the very same steps but leaves an image that goes as it is
unread beyond its header, and prepares one only when sending would change it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..errors import (
    FetchError,
    GeminiVisionError,
    MessageFormatError,
    RequestTooLargeError,
    TooManyImagesError,
)
from ..images.blob import Blob, MemoryBlob
from ..images.convert import encode_pil, shrink
from ..images.plan import ImagePlan, plan_source
from ..images.prepared import PreparedImage, encoded_length
from ..images.probe import ImageInfo
from ..images.source import Source
from ..policy import Detail, ImagePolicy
from .expand import expand_documents
from .messages import ImageSlot, copy_messages, image_slots, located

__all__ = [
    "GEMINI_MAX_IMAGES",
    "GEMINI_MAX_REQUEST_BYTES",
    "Entry",
    "Loader",
    "RequestPlan",
    "Use",
    "fit",
    "plan_request",
    "serialized_size",
]

# Gemini's image limits (https://ai.google.dev/gemini-api/docs/image-understanding): at
# most 3,600 image files per request, and inline data only while the whole request stays
# under 20 MB.
GEMINI_MAX_IMAGES = 3600
GEMINI_MAX_REQUEST_BYTES = 20_000_000

_DETAILS = frozenset({"auto", "low", "high"})


@dataclass
class RequestPlan:
    """Copied messages, their image slots, and the distinct http(s) URLs to fetch."""

    messages: list[dict[str, Any]]
    slots: list[ImageSlot]
    urls: list[str]
    pages: list[PreparedImage] = field(default_factory=list)
    """The pages and frames documents and videos became, kept alive while planned."""


def plan_request(
    messages: Iterable[Any],
    policy: ImagePolicy,
    *,
    model: str | None = None,
    backend: str | None = None,
) -> RequestPlan:
    """Copy the messages, turn bare strings in content lists into text parts, replace
    documents and videos by their pages and frames (sized for `model` on `backend`), and
    find the images."""
    copied = copy_messages(messages)
    for message in copied:
        content = message.get("content")
        if isinstance(content, list):
            # openai requires dict parts; a bare string in a list is meant as text.
            for index, part in enumerate(content):
                if isinstance(part, str):
                    content[index] = {"type": "text", "text": part}
    pages = expand_documents(copied, policy, model=model, backend=backend)
    slots = list(image_slots(copied))
    if len(slots) > policy.max_images:
        raise _too_many(len(slots), policy)
    urls: dict[str, None] = {}
    for slot in slots:
        try:
            if slot.source.kind == "http":
                urls[slot.source.value] = None
        except GeminiVisionError:
            continue  # an unusable url: the loader raises it, located, in message order
    return RequestPlan(copied, slots, list(urls), pages)


def _too_many(count: int, policy: ImagePolicy) -> TooManyImagesError:
    raise_it = (
        f", or raise ImagePolicy(max_images=...) up to {GEMINI_MAX_IMAGES:,}"
        if policy.max_images < GEMINI_MAX_IMAGES
        else f" ({GEMINI_MAX_IMAGES:,} is Gemini's documented maximum per request)"
    )
    return TooManyImagesError(
        f"The request holds {count:,} images; ImagePolicy(max_images={policy.max_images}) "
        f"allows {policy.max_images:,}, {count - policy.max_images:,} too many. Send the "
        f"images over several requests{raise_it}.",
        limit=policy.max_images,
        actual=count,
    )


@dataclass
class Use:
    """One slot showing an image, and the source it was named by there."""

    slot: ImageSlot
    label: str


@dataclass
class Entry:
    """One distinct image and every slot that shows it.

    Sending prepares every entry; estimating keeps an image that goes as it is as its
    `plan` (header read, bytes counted, never decoded) and prepares the rest.
    """

    label: str
    image: PreparedImage | None = None
    plan: ImagePlan | None = None
    unsized: bool = False
    """An http(s) URL left unfetched: estimates stay offline."""
    uses: list[Use] = field(default_factory=list)
    spent: bool = False
    """`shrink` has nothing smaller to give."""
    shrunk: bool = False
    """The budget made this image smaller than planned."""

    @property
    def info(self) -> ImageInfo | None:
        """The header of the image as given (None for a PIL image or an unfetched URL)."""
        return self.plan.info if self.plan is not None else None

    def prepare(self) -> PreparedImage:
        """The image as sent, prepared now if it was only planned."""
        if self.image is None:
            if self.plan is None:
                raise RuntimeError("an unfetched URL has no image to prepare")
            try:
                self.image = self.plan.prepare()
            except GeminiVisionError as exc:
                raise exc.located(self.uses[0].slot.where) from None
        return self.image

    @property
    def mime_type(self) -> str:
        """The type as sent ("" when unknown)."""
        if self.image is not None:
            return self.image.mime_type
        return self.plan.mime_type if self.plan is not None else ""

    @property
    def size(self) -> tuple[int, int] | None:
        """Width and height as sent (None when unknown offline)."""
        if self.image is not None:
            return self.image.width, self.image.height
        return self.plan.target if self.plan is not None else None

    @property
    def byte_size(self) -> int:
        """Bytes as sent (0 when unknown offline)."""
        if self.image is not None:
            return self.image.byte_size
        return self.plan.blob.size if self.plan is not None else 0

    @property
    def encoded_size(self) -> int:
        """Characters of the data URL, computed without encoding (0 when unknown)."""
        if self.image is None and self.plan is None:
            return 0
        return encoded_length(self.mime_type, self.byte_size)

    @property
    def room(self) -> int:
        """Bytes this image takes in the serialized request, over all its slots."""
        return self.encoded_size * len(self.uses)


class Loader:
    """Loads each distinct image once: by its source, then (in-memory bytes) by content.

    `fetched` holds the bytes of every http(s) URL; with `lazy` (estimating) it is None,
    URLs stay unsized, and an image that goes as it is is only planned, from its header.
    Close it when done: a lazily planned file stays open until then.
    """

    def __init__(
        self,
        policy: ImagePolicy,
        fetched: Mapping[str, bytes | FetchError] | None,
        *,
        lazy: bool = False,
    ) -> None:
        self.policy = policy
        self.fetched = fetched
        self.lazy = lazy
        self.entries: list[Entry] = []
        self._by_source: dict[tuple[Any, ...], Entry] = {}
        # Bytes by length, compared only with the few of the same length: hashing them
        # as a dict key would read every byte (about 150 us for a 290 kB photo) for a
        # request that mostly holds one image.
        self._by_bytes: dict[tuple[int, Detail | None], list[tuple[bytes, Entry]]] = {}
        self._blobs: list[Blob] = []

    def add(self, slot: ImageSlot) -> None:
        """Find or load the slot's image and record that the slot shows it."""
        detail: Detail | None = slot.detail if slot.detail in _DETAILS else None  # type: ignore[assignment]
        try:
            source = slot.source
            key = None if source.kind == "bytes" else (source.key, detail)
            entry = self._by_source.get(key) if key is not None else None
            if entry is None:  # bytes are found again by content, in _load
                entry = self._load(source, detail)
                if key is not None:
                    self._by_source[key] = entry
        except (GeminiVisionError, TypeError) as exc:
            raise located(exc, slot.where) from None
        entry.uses.append(Use(slot, source.label))

    def _load(self, source: Source, detail: Detail | None) -> Entry:
        policy = self.policy
        if source.kind == "prepared":
            return self._new(Entry(source.label, image=source.value))
        if source.kind == "pil":
            image = encode_pil(source.value, detail=detail, policy=policy, source=source.label)
            return self._new(Entry(source.label, image=image))
        if source.kind == "http":
            if self.fetched is None:
                return self._new(Entry(source.label, unsized=True))
            result = self.fetched[source.value]  # plan_request listed every http(s) URL
            if isinstance(result, FetchError):
                raise result
            blob: Blob = MemoryBlob(result)
        else:
            try:
                blob = source.blob(policy, lazy=self.lazy)
            except GeminiVisionError as exc:
                raise exc.from_source(source.error_label) from None
            self._blobs.append(blob)
        by_content = source.kind in {"bytes", "data", "http", "stream"} and blob.complete
        if by_content:
            data = blob.all()
            for other, found in self._by_bytes.get((len(data), detail), ()):
                if other == data:
                    return found
        plan = plan_source(source, blob, detail=detail, policy=policy)
        entry = Entry(source.label, plan=plan)
        if not (self.lazy and plan.passthrough):
            entry.image = plan.prepare()
        if by_content:
            self._by_bytes.setdefault((len(blob.all()), detail), []).append((blob.all(), entry))
        return self._new(entry)

    def _new(self, entry: Entry) -> Entry:
        self.entries.append(entry)
        return entry

    def close(self) -> None:
        """Close every file a lazy plan kept open."""
        for blob in self._blobs:
            blob.close()


def _json_default(value: Any) -> Any:
    # The same extra type openai's own encoder (openai._utils._json) takes after its
    # transform has dumped pydantic models.
    if isinstance(value, datetime):
        return value.isoformat()
    raise MessageFormatError(
        f"The messages hold a {type(value).__name__}, which cannot be sent as JSON. Message "
        "fields take strings, numbers, lists and dicts; images go in a content list as a "
        "PIL image, pathlib.Path, bytes or an image_url part."
    )


def serialized_size(messages: list[dict[str, Any]]) -> int:
    """Bytes of `messages` as openai serializes them: compact separators, UTF-8, no escaping."""
    text = json.dumps(messages, ensure_ascii=False, separators=(",", ":"), default=_json_default)
    return len(text.encode())


def empty_parts(plan: RequestPlan) -> int:
    """Put an image part with an empty URL in every slot; the serialized size without images.

    Data URLs hold only ASCII that JSON leaves unescaped, so each one adds exactly its
    length: the payload is counted without being encoded or serialized.
    """
    for slot in plan.slots:
        original = slot.content[slot.index]
        part: dict[str, Any] = {"type": "image_url", "image_url": {"url": ""}}
        if isinstance(original, dict):
            image_url = original.get("image_url")
            kept = dict(image_url) if isinstance(image_url, dict) else {}
            part = {**original, "image_url": {**kept, "url": ""}}
        slot.content[slot.index] = part
    return serialized_size(plan.messages)


def fit(entries: list[Entry], fixed: int, policy: ImagePolicy) -> None:
    """Shrink the image taking the most room until the request fits, or raise.

    An image only planned is prepared first: what is shrunk is what would be sent.
    """
    budget = policy.max_request_bytes
    total = fixed + sum(entry.room for entry in entries)
    if total > budget and policy.fit == "error":
        raise _too_large(entries, fixed, total, policy, shrunk=False)
    while total > budget:
        live = [entry for entry in entries if not entry.spent and not entry.unsized]
        if not live:
            raise _too_large(entries, fixed, total, policy, shrunk=True)
        entry = max(live, key=lambda e: e.room)
        current = entry.prepare()
        try:
            smaller = shrink(current, policy)
        except GeminiVisionError as exc:
            raise exc.located(entry.uses[0].slot.where) from None
        if smaller is None or smaller.encoded_size >= current.encoded_size:
            entry.spent = True
            continue
        total -= entry.room
        entry.image = smaller
        entry.shrunk = True
        total += entry.room


def _too_large(
    entries: list[Entry], fixed: int, total: int, policy: ImagePolicy, *, shrunk: bool
) -> RequestTooLargeError:
    budget = policy.max_request_bytes
    rows = sorted(
        ((entry, use) for entry in entries if not entry.unsized for use in entry.uses),
        key=lambda row: -row[0].encoded_size,
    )
    lines = []
    for entry, use in rows[:10]:
        width, height = entry.size or (0, 0)
        lines.append(
            f"  {use.slot.where}: {entry.mime_type} {width}x{height}, {entry.byte_size:,} "
            f"bytes ({entry.encoded_size:,} as a data URL) from {use.label or entry.label}"
        )
    if len(rows) > 10:
        lines.append(f"  ... and {len(rows) - 10:,} smaller images")
    how = " after shrinking every image as far as it goes" if shrunk else ""
    fixes = [
        "send fewer images per request",
        'ask for detail="low" (ImagePolicy(detail="low") or a part\'s image_url.detail)',
        "downscale the images before sending",
    ]
    if rows and not shrunk:
        fixes.insert(0, 'leave ImagePolicy(fit="shrink") to re-encode and downscale them')
    if budget < GEMINI_MAX_REQUEST_BYTES:
        fixes.append(f"raise ImagePolicy(max_request_bytes=...) up to {GEMINI_MAX_REQUEST_BYTES:,}")
    listing = "\n".join(lines) if lines else "  (no images)"
    return RequestTooLargeError(
        f"The request is {total:,} bytes serialized{how}, over max_request_bytes="
        f"{budget:,} by {total - budget:,}. Text and other fields take {fixed:,} bytes; the "
        f"images, largest first:\n{listing}\nTo fix: {'; '.join(fixes)}. Gemini refuses "
        f"requests over {GEMINI_MAX_REQUEST_BYTES:,} bytes, so the limit cannot go past that.",
        limit=budget,
        actual=total,
    )
