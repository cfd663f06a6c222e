"""Offline token estimates for images and text, per Gemini model family.

Gemini bills an image by the size it arrives at, by rules that differ per model family.
`RULES` (in `token_rules`) holds one row per family; `resolve_model` maps any spelling
of a model name to its row. `estimate_tokens` reads each image's header (never its
pixels), works out the size it will be sent at with the same `planned_size` the preparer
uses, and prices it. Nothing here opens a network connection.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterable
from typing import Any
from urllib.parse import SplitResult, urlsplit

from PIL import Image
from pydantic import BaseModel, ConfigDict

from ..errors import GeminiVisionError, ImageError, InvalidArgumentError
from ..fetch import public_url
from ..images.prepared import SUPPORTED_MIME_TYPES
from ..images.probe import ImageInfo, info_of, planned_size, probe
from ..images.source import _read_file, local_path, parse_data_url
from ..policy import DEFAULT_POLICY, Detail, ImagePolicy
from ..token_rules import (
    MediaResolution,
    ModelFamilyAssumedWarning,
    ResolvedModel,
    media_resolution_of,
    price_request,
    resolve_model,
)
from .messages import (
    RAW_IMAGE_TYPES,
    ImageSlot,
    copy_messages,
    image_slots,
    located,
    text_of,
    unusable_source,
)

__all__ = [
    "CHARS_PER_TOKEN",
    "ImageEstimate",
    "TokenEstimate",
    "estimate_image_tokens",
    "estimate_prepared",
    "estimate_text_tokens",
    "estimate_tokens",
    "measure_image",
]

#: "For Gemini models, a token is equivalent to about 4 characters."
#: https://ai.google.dev/gemini-api/docs/tokens
CHARS_PER_TOKEN = 4

# Bytes read to find an image's size and orientation. JPEG keeps both before its first
# scan (EXIF is one APP1 segment of at most 64 KiB), PNG and WebP at the very start. When
# the prefix is not enough (a large ICC profile, TIFF's trailing directory) the whole
# input is read instead: still a read, never a decode.
_HEADER_BYTES = 64 * 1024
# The same prefix as base64 characters (4 characters carry 3 bytes).
_HEADER_BASE64_CHARS = 4 * math.ceil(_HEADER_BYTES / 3)

_DETAILS: frozenset[str] = frozenset({"auto", "low", "high"})


class ImageEstimate(BaseModel):
    """One image's share of an estimate: where it came from, its size as sent, its cost."""

    model_config = ConfigDict(frozen=True)

    source: str
    """A path, a URL without its query, "data URL", "PIL image", "bytes" or "prepared"."""
    format: str = ""
    """Pillow's name of the format given ("JPEG", "PNG", ...); "" when not read."""
    mime_type: str = ""
    original_size: tuple[int, int] | None = None
    """Width and height as stored, before orientation or resizing; None when not read."""
    size: tuple[int, int] | None = None
    """Width and height as sent; None when unknown offline (an http(s) URL)."""
    orientation: int = 1
    """EXIF orientation that will be applied (1 when none)."""
    tiles: int = 0
    tokens: int = 0

    @property
    def sized(self) -> bool:
        """Whether the size as sent is known, so `tokens` is counted."""
        return self.size is not None

    @property
    def changes_expected(self) -> bool:
        """Whether preparing the image will re-encode it (convert, rotate or downscale)."""
        if self.size is None or self.original_size is None:
            return False
        upright = self.original_size if self.orientation < 5 else self.original_size[::-1]
        return (
            self.mime_type not in SUPPORTED_MIME_TYPES
            or self.orientation != 1
            or self.size != upright
        )


class TokenEstimate(BaseModel):
    """Tokens a request is expected to cost, computed offline."""

    image_tokens: int = 0
    text_tokens: int = 0
    total_tokens: int = 0
    per_image: list[int] = []
    """Tokens of each image in message order; 0 for an image whose size is unknown."""
    text_is_approximate: bool = True
    """Text is counted at about `CHARS_PER_TOKEN` characters a token, not tokenized."""
    model: str = ""
    family: str = ""
    """The rules row used, e.g. "Gemini 2.0"."""
    assumed_family: bool = False
    """True when the model name was not recognised and the newest known family was used."""
    media_resolution: MediaResolution | None = None
    unsized_images: int = 0
    """Images not counted because their size cannot be known offline (http(s) URLs)."""
    images: list[ImageEstimate] = []
    notes: list[str] = []
    """Caveats in words: an assumed family, uncounted images, unconfirmed rules."""


def estimate_text_tokens(text: str) -> int:
    """Approximate tokens of `text`: one per `CHARS_PER_TOKEN` characters, rounded up."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def _price(
    resolved: ResolvedModel, width: int, height: int, media_resolution: MediaResolution | None
) -> tuple[int, int]:
    if width < 1 or height < 1:
        raise InvalidArgumentError(
            f"An image is {width}x{height} px; width and height must be at least 1 pixel."
        )
    return resolved.rule.cost(width, height, media_resolution)


def estimate_image_tokens(
    width: int,
    height: int,
    model: str,
    *,
    media_resolution: str | None = None,
    backend: str | None = None,
) -> int:
    """Tokens Gemini bills for one image of `width` x `height` pixels as sent, alone in a request.

    `media_resolution`: "low", "medium", "high" or "ultra_high" (Gemini 3's per-image
    setting; "low"/"medium" are also the request-wide setting of earlier models).
    `backend`: "gemini-api" (None) or "vertex-ai". An unrecognised model is priced as the
    newest known family, with a `ModelFamilyAssumedWarning`.
    """
    price = price_request(
        [(width, height)], model, backend=backend, media_resolution=media_resolution
    )
    if price.assumed:
        warnings.warn(price.notes[0], ModelFamilyAssumedWarning, stacklevel=2)
    return price.total


def _probe_prefix(prefix: bytes, complete: bool, policy: ImagePolicy) -> ImageInfo | None:
    """The header read from `prefix`, or None when a longer read is needed."""
    if complete:
        return probe(prefix, policy)
    try:
        return probe(prefix, policy)
    except Exception:  # noqa: BLE001 - any failure on a cut-off prefix means "read it all"
        return None


def _probe_path(path: str | os.PathLike[str], policy: ImagePolicy) -> ImageInfo:
    try:
        with open(path, "rb") as handle:
            prefix = handle.read(_HEADER_BYTES)
    except OSError:
        pass  # read again below, where the loader words the error
    else:
        info = _probe_prefix(prefix, len(prefix) < _HEADER_BYTES, policy)
        if info is not None:
            return info
    return probe(_read_file(path), policy)


def _probe_data_url(url: str, policy: ImagePolicy) -> ImageInfo:
    comma = url.find(",")
    if (
        comma >= 0
        and len(url) - comma - 1 > _HEADER_BASE64_CHARS
        and ";base64" in url[:comma].lower()
    ):
        head = url[: comma + 1 + _HEADER_BASE64_CHARS]
        try:
            prefix = parse_data_url(head)[1]
        except ImageError:
            prefix = b""  # a payload the prefix cut badly: decode it all below
        info = _probe_prefix(prefix, False, policy) if prefix else None
        if info is not None:
            return info
    return probe(parse_data_url(url)[1], policy)


def _split(url: str) -> SplitResult:
    try:
        return urlsplit(url)
    except ValueError:  # an unbalanced "[" in the host: a path, as when sending
        return SplitResult("", "", url, "", "")


def _probe_string(url: str, policy: ImagePolicy) -> ImageInfo | None:
    """Header of an image named by a URL string; None when it cannot be sized offline."""
    parts = _split(url)
    scheme = parts.scheme.lower()
    if scheme == "data":
        return _probe_data_url(url, policy)
    if scheme in {"http", "https"}:
        return None
    # The same gate as sending, checked before any read.
    return _probe_path(local_path(url, scheme, local_files=policy.allow_local_files), policy)


def _describe(source: Any) -> str:
    if isinstance(source, str):
        if source[:5].lower() == "data:":
            return "data URL"
        return public_url(source) if _split(source).scheme else source
    if isinstance(source, os.PathLike):
        return os.fsdecode(source)
    return "PIL image" if isinstance(source, Image.Image) else "bytes"


def measure_image(
    source: Any, *, detail: Detail | None = None, policy: ImagePolicy | None = None
) -> ImageEstimate:
    """Format, stored size and size as sent of one image, from its header alone (unpriced).

    `source` is what a content list may hold: a URL string, a `pathlib.Path`, bytes or a
    PIL image. An http(s) URL is not fetched: its size comes back as None.
    """
    policy = policy or DEFAULT_POLICY
    info: ImageInfo | None
    if isinstance(source, str):
        info = _probe_string(source, policy)
    elif isinstance(source, os.PathLike):
        info = _probe_path(source, policy)
    elif isinstance(source, Image.Image):
        info = info_of(source)
    elif isinstance(source, bytes | bytearray | memoryview):
        info = probe(bytes(source), policy)
    else:
        raise TypeError(
            f"Cannot read an image from a {type(source).__name__}; pass a data URL, a path, "
            "bytes or a PIL image."
        )
    if info is None:
        return ImageEstimate(source=_describe(source))
    return ImageEstimate(
        source=_describe(source),
        format=info.format,
        mime_type=info.mime_type,
        original_size=(info.width, info.height),
        size=planned_size(info, detail=detail, policy=policy),
        orientation=info.orientation if policy.fix_orientation else 1,
    )


def _slot_detail(slot: ImageSlot) -> Detail | None:
    detail = slot.detail
    return detail if detail in _DETAILS else None  # type: ignore[return-value]


def _assemble(
    resolved: ResolvedModel,
    messages: list[dict[str, Any]],
    measured: list[ImageEstimate],
    media_resolution: MediaResolution | None,
) -> TokenEstimate:
    priced: list[ImageEstimate] = []
    for image in measured:
        if image.size is None:
            priced.append(image)
            continue
        tiles, tokens = _price(resolved, *image.size, media_resolution)
        priced.append(image.model_copy(update={"tiles": tiles, "tokens": tokens}))
    notes = [resolved.note] if resolved.note else []
    caveat = getattr(resolved.rule, "caveat", "")
    if caveat and priced:
        notes.append(f"{resolved.rule.family}: {caveat}")
    unsized = sum(1 for image in priced if not image.sized)
    if unsized:
        notes.append(
            f"{unsized} image(s) given as URLs are not counted: their size is unknown until "
            "they are fetched, and estimates stay offline. prepare_messages() gives the "
            "figure after fetching."
        )
    per_image = [image.tokens for image in priced]
    text_tokens = estimate_text_tokens(text_of(messages))
    return TokenEstimate(
        image_tokens=sum(per_image),
        text_tokens=text_tokens,
        total_tokens=sum(per_image) + text_tokens,
        per_image=per_image,
        model=resolved.model,
        family=resolved.rule.family,
        assumed_family=resolved.assumed,
        media_resolution=media_resolution,
        unsized_images=unsized,
        images=priced,
        notes=notes,
    )


def estimate_tokens(
    messages: Iterable[Any],
    model: str,
    *,
    policy: ImagePolicy | None = None,
    media_resolution: str | None = None,
) -> TokenEstimate:
    """Estimate a chat request's tokens from headers only, never decoding an image.

    Images are priced at the size they will be sent at (orientation, then `detail`: a
    part's own `image_url.detail` wins over `policy.detail`), before any shrinking the
    request budget may need. Text is approximate (`CHARS_PER_TOKEN`).
    """
    policy = policy or DEFAULT_POLICY
    resolved = resolve_model(model)
    resolution = media_resolution_of(media_resolution)
    copied = copy_messages(messages)
    measured = [_measure_slot(slot, policy) for slot in image_slots(copied)]
    return _assemble(resolved, copied, measured, resolution)


def _measure_slot(slot: ImageSlot, policy: ImagePolicy) -> ImageEstimate:
    """`measure_image` of the slot's image; an error says where the image sits, as sending does."""
    try:
        if not isinstance(slot.source, (str, *RAW_IMAGE_TYPES)):
            raise unusable_source(slot.source)  # "url": null in a stranger's JSON
        return measure_image(slot.source, detail=_slot_detail(slot), policy=policy)
    except GeminiVisionError as exc:
        raise located(exc, slot.where) from None


def estimate_prepared(
    messages: list[dict[str, Any]],
    sizes: list[tuple[int, int]],
    model: str,
    *,
    media_resolution: str | None = None,
) -> TokenEstimate:
    """Estimate for messages whose images are already prepared, at their sizes as sent.

    `messages` are plain dicts (from `messages.copy_messages`); `sizes` are the
    (width, height) of each image in message order. Used by `prepare_messages`.
    """
    measured = [ImageEstimate(source="prepared", size=(w, h)) for w, h in sizes]
    return _assemble(
        resolve_model(model), messages, measured, media_resolution_of(media_resolution)
    )
