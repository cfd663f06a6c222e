"""Walking OpenAI messages, rewriting image parts, and keeping the request within budget.

`prepare_messages` copies the messages (`messages.copy_messages`), finds every image
(`messages.image_slots`), loads each distinct image once (a URL is fetched once, equal
bytes are prepared once), fits the serialized request into `policy.max_request_bytes`
by shrinking the largest images first, and writes each image back as a data-URL part.
Everything that is not an image part is passed on as it came.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import anyio.to_thread
from PIL import Image
from pydantic import BaseModel, ConfigDict

from .. import fetch
from ..errors import (
    FetchError,
    GeminiVisionError,
    MessageFormatError,
    RequestTooLargeError,
    TooManyImagesError,
)
from ..fetch import public_url
from ..images.convert import shrink
from ..images.prepared import PreparedImage
from ..images.source import load_image, load_url_source, parse_data_url, prepare_bytes
from ..policy import DEFAULT_POLICY, Detail, ImagePolicy
from .estimate import TokenEstimate, estimate_prepared
from .messages import ImageSlot, copy_messages, image_slots, located, unusable_source

__all__ = ["DEFAULT_MODEL", "PreparedRequest", "aprepare_messages", "prepare_messages"]

#: The model whose token rules price an estimate when no model is named.
DEFAULT_MODEL = "gemini-2.5-flash"

# Gemini's image limits (https://ai.google.dev/gemini-api/docs/image-understanding): at
# most 3,600 image files per request, and inline data only while the whole request stays
# under 20 MB.
_GEMINI_MAX_IMAGES = 3600
_GEMINI_MAX_REQUEST_BYTES = 20_000_000

_DETAILS = frozenset({"auto", "low", "high"})


class PreparedRequest(BaseModel):
    """Messages ready to send, the images in them, and what the request will cost."""

    model_config = ConfigDict(frozen=True)

    messages: list[dict[str, Any]]
    images: list[PreparedImage]
    """One entry per image part, in message order (an image used twice is listed twice)."""
    request_bytes: int
    """Length of `messages` serialized as openai sends them (compact UTF-8 JSON), without
    the rest of the body (model, tools, ...): pass that as `extra_bytes` to budget it too."""
    estimate: TokenEstimate


@dataclass
class _Use:
    """One slot showing an image, and the source it was named by there."""

    slot: ImageSlot
    label: str


@dataclass
class _Entry:
    """One distinct image and every slot that shows it."""

    image: PreparedImage
    uses: list[_Use] = field(default_factory=list)
    spent: bool = False
    """`shrink_step` has nothing smaller to give."""

    @property
    def room(self) -> int:
        """Bytes this image takes in the serialized request, over all its slots."""
        return self.image.encoded_size * len(self.uses)


@dataclass
class _Plan:
    """Copied messages, their image slots, and the distinct http(s) URLs to fetch."""

    messages: list[dict[str, Any]]
    slots: list[ImageSlot]
    urls: list[str]


def _scheme(url: str) -> str:
    try:
        return urlsplit(url).scheme.lower()
    except ValueError:
        return ""


def _plan(messages: Iterable[Any], policy: ImagePolicy) -> _Plan:
    copied = copy_messages(messages)
    for message in copied:
        content = message.get("content")
        if isinstance(content, list):
            # openai requires dict parts; a bare string in a list is meant as text.
            for index, part in enumerate(content):
                if isinstance(part, str):
                    content[index] = {"type": "text", "text": part}
    slots = list(image_slots(copied))
    if len(slots) > policy.max_images:
        raise _too_many(len(slots), policy)
    urls = [
        url
        for url in dict.fromkeys(s.source for s in slots if isinstance(s.source, str))
        if _scheme(url) in {"http", "https"}
    ]
    return _Plan(copied, slots, urls)


def _too_many(count: int, policy: ImagePolicy) -> TooManyImagesError:
    raise_it = (
        f", or raise ImagePolicy(max_images=...) up to {_GEMINI_MAX_IMAGES:,}"
        if policy.max_images < _GEMINI_MAX_IMAGES
        else f" ({_GEMINI_MAX_IMAGES:,} is Gemini's documented maximum per request)"
    )
    return TooManyImagesError(
        f"The request holds {count:,} images; ImagePolicy(max_images={policy.max_images}) "
        f"allows {policy.max_images:,}, {count - policy.max_images:,} too many. Send the "
        f"images over several requests{raise_it}."
    )


class _Loader:
    """Loads each distinct image once: by source string or object, then by bytes."""

    def __init__(self, policy: ImagePolicy, fetched: Mapping[str, bytes | FetchError]) -> None:
        self.policy = policy
        self.fetched = fetched
        self.by_source: dict[tuple[Any, ...], tuple[_Entry, str]] = {}
        self.by_bytes: dict[tuple[bytes, Detail | None], _Entry] = {}
        self.entries: list[_Entry] = []

    def add(self, slot: ImageSlot) -> None:
        """Find or load the slot's image and record that the slot shows it."""
        detail: Detail | None = slot.detail if slot.detail in _DETAILS else None  # type: ignore[assignment]
        source = slot.source
        key = (type(source).__name__, _identity(source), detail)
        found = self.by_source.get(key)
        if found is None:
            try:
                found = self._load(source, detail)
            except (GeminiVisionError, TypeError) as exc:
                raise located(exc, slot.where) from None
            self.by_source[key] = found
        entry, label = found
        entry.uses.append(_Use(slot, label))

    def _load(self, source: Any, detail: Detail | None) -> tuple[_Entry, str]:
        policy = self.policy
        if isinstance(source, bytes | bytearray | memoryview):
            return self._from_bytes(bytes(source), detail, "bytes", None)
        if isinstance(source, os.PathLike | Image.Image):
            return self._new(load_image(source, detail=detail, policy=policy))
        if not isinstance(source, str):
            raise unusable_source(source)
        scheme = _scheme(source)
        if scheme == "data":
            mime, data = parse_data_url(source)
            return self._from_bytes(data, detail, "data URL", mime)
        if scheme in {"http", "https"}:
            result = self.fetched[source]  # _plan listed every http(s) URL to fetch
            if isinstance(result, FetchError):
                raise result
            return self._from_bytes(result, detail, public_url(source), None)
        return self._new(load_url_source(source, detail=detail, policy=policy))

    def _from_bytes(
        self, data: bytes, detail: Detail | None, label: str, declared: str | None
    ) -> tuple[_Entry, str]:
        entry = self.by_bytes.get((data, detail))
        if entry is None:
            image = prepare_bytes(
                data, detail=detail, policy=self.policy, source=label, declared_mime=declared
            )
            entry, _ = self._new(image)
            self.by_bytes[(data, detail)] = entry
        return entry, label

    def _new(self, image: PreparedImage) -> tuple[_Entry, str]:
        entry = _Entry(image)
        self.entries.append(entry)
        return entry, image.source


def _identity(source: Any) -> Any:
    """What makes two sources the same image: the string, the path, the bytes, the object."""
    if isinstance(source, str | bytes):
        return source
    if isinstance(source, os.PathLike):
        return os.fspath(source)
    if isinstance(source, bytearray | memoryview):
        return bytes(source)
    return id(source)  # a PIL image (alive in the messages for the whole call) or a stray


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


def _serialized_size(messages: list[dict[str, Any]]) -> int:
    """Bytes of `messages` as openai serializes them: compact separators, UTF-8, no escaping."""
    text = json.dumps(messages, ensure_ascii=False, separators=(",", ":"), default=_json_default)
    return len(text.encode())


def _part(slot: ImageSlot) -> dict[str, Any]:
    """The slot's part with an empty URL, keeping every other key the caller wrote."""
    original = slot.content[slot.index]
    if not isinstance(original, dict):
        return {"type": "image_url", "image_url": {"url": ""}}
    image_url = original.get("image_url")
    kept = dict(image_url) if isinstance(image_url, dict) else {}
    return {**original, "image_url": {**kept, "url": ""}}


def _build(
    plan: _Plan,
    fetched: Mapping[str, bytes | FetchError],
    policy: ImagePolicy,
    model: str | None,
    extra_bytes: int,
) -> PreparedRequest:
    """Load every image, fit the budget, and write the parts: the CPU-bound half."""
    loader = _Loader(policy, fetched)
    for slot in plan.slots:
        loader.add(slot)
    for slot in plan.slots:
        slot.replace(_part(slot))
    # Data URLs hold only ASCII that JSON leaves unescaped, so each one adds exactly its
    # length: the payload is counted without being encoded or serialized.
    skeleton = _serialized_size(plan.messages)
    _fit(loader.entries, skeleton + extra_bytes, policy)
    images: list[PreparedImage] = []
    uses = {id(use.slot): (entry, use) for entry in loader.entries for use in entry.uses}
    for slot in plan.slots:
        entry, use = uses[id(slot)]
        image = entry.image
        slot.content[slot.index]["image_url"]["url"] = image.data_url
        relabel = use.label and use.label != image.source
        images.append(image.model_copy(update={"source": use.label}) if relabel else image)
    request_bytes = skeleton + sum(entry.room for entry in loader.entries)
    sizes = [(image.width, image.height) for image in images]
    return PreparedRequest(
        messages=plan.messages,
        images=images,
        request_bytes=request_bytes,
        estimate=estimate_prepared(plan.messages, sizes, model or DEFAULT_MODEL),
    )


def _fit(entries: list[_Entry], fixed: int, policy: ImagePolicy) -> None:
    """Shrink the image taking the most room until the request fits, or raise."""
    budget = policy.max_request_bytes
    total = fixed + sum(entry.room for entry in entries)
    if total > budget and policy.fit == "error":
        raise _too_large(entries, fixed, total, policy, shrunk=False)
    while total > budget:
        live = [entry for entry in entries if not entry.spent]
        if not live:
            raise _too_large(entries, fixed, total, policy, shrunk=True)
        entry = max(live, key=lambda e: e.room)
        try:
            smaller = shrink(entry.image, policy)
        except GeminiVisionError as exc:
            raise located(exc, entry.uses[0].slot.where) from None
        if smaller is None or smaller.encoded_size >= entry.image.encoded_size:
            entry.spent = True
            continue
        total -= entry.room
        entry.image = smaller
        total += entry.room


def _too_large(
    entries: list[_Entry], fixed: int, total: int, policy: ImagePolicy, *, shrunk: bool
) -> RequestTooLargeError:
    budget = policy.max_request_bytes
    rows = sorted(
        ((entry.image, use) for entry in entries for use in entry.uses),
        key=lambda row: -row[0].encoded_size,
    )
    lines = [
        f"  {use.slot.where}: {image.mime_type} {image.width}x{image.height}, "
        f"{image.byte_size:,} bytes ({image.encoded_size:,} as a data URL) from "
        f"{use.label or image.source}"
        for image, use in rows[:10]
    ]
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
    if budget < _GEMINI_MAX_REQUEST_BYTES:
        fixes.append(
            f"raise ImagePolicy(max_request_bytes=...) up to {_GEMINI_MAX_REQUEST_BYTES:,}"
        )
    listing = "\n".join(lines) if lines else "  (no images)"
    return RequestTooLargeError(
        f"The request is {total:,} bytes serialized{how}, over max_request_bytes="
        f"{budget:,} by {total - budget:,}. Text and other fields take {fixed:,} bytes; the "
        f"images, largest first:\n{listing}\nTo fix: {'; '.join(fixes)}. Gemini refuses "
        f"requests over {_GEMINI_MAX_REQUEST_BYTES:,} bytes, so the limit cannot go past that."
    )


def prepare_messages(
    messages: Iterable[Any],
    *,
    model: str | None = None,
    policy: ImagePolicy | None = None,
    extra_bytes: int = 0,
) -> PreparedRequest:
    """Rewrite every image part into a checked data URL; never mutates `messages`.

    Args:
        model: prices the token estimate; None prices it as `DEFAULT_MODEL`.
        extra_bytes: size of the rest of the request body (model, tools, ...), counted
            against `policy.max_request_bytes` with the messages.
    """
    policy = policy or DEFAULT_POLICY
    plan = _plan(messages, policy)
    fetched = fetch.fetch_many(plan.urls, policy) if plan.urls else {}
    return _build(plan, fetched, policy, model, extra_bytes)


async def aprepare_messages(
    messages: Iterable[Any],
    *,
    model: str | None = None,
    policy: ImagePolicy | None = None,
    extra_bytes: int = 0,
) -> PreparedRequest:
    """Async `prepare_messages`: URLs fetched concurrently, image work in a worker thread."""
    policy = policy or DEFAULT_POLICY
    plan = _plan(messages, policy)
    if not plan.slots:
        return _build(plan, {}, policy, model, extra_bytes)
    fetched = await fetch.afetch_many(plan.urls, policy) if plan.urls else {}
    # Decoding and re-encoding (a 40 MB PNG takes seconds) must not stall the event loop;
    # anyio's thread runs under asyncio and trio alike, as openai's async client does.
    work = functools.partial(_build, plan, fetched, policy, model, extra_bytes)
    return await anyio.to_thread.run_sync(work)
