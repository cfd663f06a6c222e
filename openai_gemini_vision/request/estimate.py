"""Offline token estimates: the same plan as sending, priced by each family's rules.

Estimating is sending without the send. `estimate_tokens` runs the plan
`prepare_messages` runs (`plan.py`: the same checks, detail, orientation, conversion and
20 MB fit) and prices what would be sent. An image that goes as it is is read no further
than its header and what the completeness checks need; one that sending would convert,
turn or downscale is prepared for real, so its size and bytes are exact; when the budget
forces shrinking, the estimate shrinks as sending would and says so. Only http(s) URLs
are left unsized: nothing here opens a network connection.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict

from ..errors import ModelFamilyAssumedWarning
from ..policy import DEFAULT_POLICY, Detail, ImagePolicy
from ..token_rules import (
    DEFAULT_BACKEND,
    Backend,
    MediaResolution,
    media_resolution_of,
    price_request,
)
from .messages import text_of
from .plan import Entry, Loader, empty_parts, fit, plan_request

__all__ = [
    "CHARS_PER_TOKEN",
    "DEFAULT_MODEL",
    "ImageEstimate",
    "TokenEstimate",
    "estimate_image_tokens",
    "estimate_text_tokens",
    "estimate_tokens",
    "estimate_tokens_by_model",
    "measure_image",
    "price",
]

#: The model whose token rules price an estimate when no model is named.
DEFAULT_MODEL = "gemini-2.5-flash"

#: "For Gemini models, a token is equivalent to about 4 characters."
#: https://ai.google.dev/gemini-api/docs/tokens
CHARS_PER_TOKEN = 4


class ImageEstimate(BaseModel):
    """One image's share of an estimate: where it came from, how it is sent, its cost."""

    model_config = ConfigDict(frozen=True)

    source: str
    """A path, a URL without its query, "data URL", "PIL image", "bytes", "stdin"."""
    format: str = ""
    """Pillow's name of the format given ("JPEG", "PNG", ...); "" when not read."""
    mime_type: str = ""
    """The type of the image as given ("" when not read)."""
    original_size: tuple[int, int] | None = None
    """Width and height as stored, before orientation or resizing; None when not read."""
    size: tuple[int, int] | None = None
    """Width and height as sent; None when unknown offline (an http(s) URL)."""
    mime_type_as_sent: str = ""
    bytes_as_sent: int | None = None
    """Bytes as sent (before base64); None when unknown offline."""
    orientation: int = 1
    """EXIF orientation that will be applied (1 when none)."""
    changes: tuple[str, ...] = ()
    """What sending does to the image, in words; empty when it goes byte for byte."""
    tiles: int = 0
    tokens: int = 0

    @property
    def sized(self) -> bool:
        """Whether the size as sent is known, so `tokens` is counted."""
        return self.size is not None


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
    backend: Backend = DEFAULT_BACKEND
    """Where the request is billed: "gemini-api" or "vertex-ai"."""
    family: str = ""
    """The rules row used, e.g. "Gemini 2.0"."""
    assumed_family: bool = False
    """True when the model name was not recognised and the newest known family was used."""
    media_resolution: MediaResolution | None = None
    unsized_images: int = 0
    """Images not counted because their size cannot be known offline (http(s) URLs)."""
    images: list[ImageEstimate] = []
    notes: list[str] = []
    """Caveats in words: an assumed family, uncounted images, shrinking, unconfirmed rules."""


def estimate_text_tokens(text: str) -> int:
    """Approximate tokens of `text`: one per `CHARS_PER_TOKEN` characters, rounded up."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


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


def _measured(entries: list[Entry], policy: ImagePolicy) -> list[ImageEstimate]:
    """One unpriced `ImageEstimate` per image part, in message order."""
    rows = []
    uses = [(entry, use) for entry in entries for use in entry.uses]
    for entry, use in sorted(uses, key=lambda row: (row[1].slot.message, row[1].slot.index)):
        info, image = entry.info, entry.image
        fields: dict[str, Any] = {"source": use.label or entry.label}
        if info is not None:
            fields.update(
                format=info.format,
                mime_type=info.mime_type,
                original_size=(info.width, info.height),
                orientation=info.orientation if policy.fix_orientation else 1,
            )
        elif image is not None:
            fields.update(
                format=image.original_format,
                original_size=(image.original_width, image.original_height),
                orientation=image.orientation,
            )
        if entry.size is not None:
            fields.update(
                size=entry.size,
                mime_type_as_sent=entry.mime_type,
                bytes_as_sent=entry.byte_size,
                changes=image.changes
                if image is not None
                else entry.plan.notes
                if entry.plan
                else (),
            )
        rows.append(ImageEstimate(**fields))
    return rows


def price(
    messages: list[dict[str, Any]],
    entries: list[Entry],
    model: str,
    *,
    policy: ImagePolicy = DEFAULT_POLICY,
    media_resolution: str | None = None,
    backend: str | None = None,
) -> TokenEstimate:
    """Price the request of planned (or prepared) `entries` and the text of `messages`.

    The images are priced together (`token_rules.price_request`): a family may bill an
    image by what else the request holds (Gemini 2.0: one image by its tiles, several at
    258 each).
    """
    measured = _measured(entries, policy)
    request = price_request(
        [image.size for image in measured],
        model,
        backend=backend,
        media_resolution=media_resolution,
    )
    priced = [
        image.model_copy(update={"tiles": cost.tiles, "tokens": cost.tokens})
        for image, cost in zip(measured, request.images, strict=True)
    ]
    notes = list(request.notes)
    shrunk = sum(1 for entry in entries if entry.shrunk)
    if shrunk:
        notes.append(
            f"The request was over max_request_bytes={policy.max_request_bytes:,}: {shrunk} "
            "image(s) were shrunk as sending shrinks them, and are priced as sent."
        )
    if request.unsized:
        notes.append(
            f"{request.unsized} image(s) given as URLs are not counted: their size is unknown "
            "until they are fetched, and estimates stay offline. prepare_messages() gives "
            "the figure after fetching."
        )
    text_tokens = estimate_text_tokens(text_of(messages))
    return TokenEstimate(
        image_tokens=request.total,
        text_tokens=text_tokens,
        total_tokens=request.total + text_tokens,
        per_image=request.per_image,
        model=request.model,
        backend=request.backend,
        family=request.family,
        assumed_family=request.assumed,
        media_resolution=request.media_resolution,
        unsized_images=request.unsized,
        images=priced,
        notes=notes,
    )


def _planned(
    messages: Iterable[Any],
    policy: ImagePolicy,
    extra_bytes: int,
    model: str | None,
    backend: str | None,
) -> tuple[list[dict[str, Any]], list[Entry]]:
    """The request planned as sending plans it, images that go as they are left unread.

    Documents and videos become pages and frames sized for `model` on `backend`, as
    sending sizes them.
    """
    plan = plan_request(messages, policy, model=model, backend=backend)
    loader = Loader(policy, None, lazy=True)
    try:
        for slot in plan.slots:
            loader.add(slot)
        fit(loader.entries, empty_parts(plan) + extra_bytes, policy)
    finally:
        loader.close()
    return plan.messages, loader.entries


def estimate_tokens(
    messages: Iterable[Any],
    model: str,
    *,
    policy: ImagePolicy | None = None,
    media_resolution: str | None = None,
    extra_bytes: int = 0,
    backend: str | None = None,
) -> TokenEstimate:
    """Estimate a chat request's tokens offline, pricing exactly what sending would send.

    The same plan as `prepare_messages`: images checked and refused in the same words,
    sized as sent (orientation, `detail`: a part's own `image_url.detail` wins over
    `policy.detail`, conversion, the budget fit). Images that go as they are are read no
    further than their headers. Text is approximate (`CHARS_PER_TOKEN`). `extra_bytes`
    is the rest of the request body, budgeted with the messages as when sending.
    `backend`: "gemini-api" (None) or "vertex-ai": the same model bills differently on
    the two. `media_resolution`: "low", "medium", "high", "ultra_high" (None: the model's
    default).
    """
    return estimate_tokens_by_model(
        messages,
        [model],
        policy=policy,
        media_resolution=media_resolution,
        extra_bytes=extra_bytes,
        backend=backend,
    )[model]


def estimate_tokens_by_model(
    messages: Iterable[Any],
    models: Iterable[str],
    *,
    policy: ImagePolicy | None = None,
    media_resolution: str | None = None,
    extra_bytes: int = 0,
    backend: str | None = None,
) -> dict[str, TokenEstimate]:
    """`estimate_tokens` for several models at once: the request is planned once."""
    policy = policy or DEFAULT_POLICY
    resolution = media_resolution_of(media_resolution)
    names = list(dict.fromkeys(models))
    # Pages are rendered for the first model's family; the others price the same pages.
    copied, entries = _planned(messages, policy, extra_bytes, names[0] if names else None, backend)
    return {
        model: price(
            copied,
            entries,
            model,
            policy=policy,
            media_resolution=resolution,
            backend=backend,
        )
        for model in names
    }


def measure_image(
    source: Any, *, detail: Detail | None = None, policy: ImagePolicy | None = None
) -> ImageEstimate:
    """How one image would be sent (type, size, bytes, changes), unpriced; offline.

    `source` is what a content list may hold: a URL string (gated like message JSON), a
    `pathlib.Path`, bytes or a PIL image. An http(s) URL is not fetched: its size comes
    back as None.
    """
    part: Any = source
    if isinstance(source, str):
        part = {"type": "image_url", "image_url": {"url": source}}
        if detail is not None:
            part["image_url"]["detail"] = detail
    elif detail is not None:
        policy = (policy or DEFAULT_POLICY).model_copy(update={"detail": detail})
    estimate = estimate_tokens([{"role": "user", "content": [part]}], DEFAULT_MODEL, policy=policy)
    return estimate.images[0].model_copy(update={"tiles": 0, "tokens": 0})
