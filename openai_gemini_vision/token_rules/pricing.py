"""Pricing a whole request: each image's tokens in request order, with the family that
priced them and what the user should know; and what downscaling saves, per family.

A request is priced as a whole because a family's price of one image may depend on the
others (Gemini 2.0 bills a lone image by its tiles, each of several 258 tokens).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from ..errors import InvalidArgumentError
from .backends import Backend
from .resolution import MediaResolution, media_resolution_of
from .shapes import Size, TokenRule
from .table import resolve_model

__all__ = [
    "ImagePrice",
    "RequestPrice",
    "detail_effect",
    "price_request",
    "size_affects_tokens",
]


class ImagePrice(NamedTuple):
    """One image's share of a request's price (a tuple: cheap to make by the hundred)."""

    size: Size
    """(width, height) as sent; None when unknown offline (then priced 0)."""
    tiles: int
    tokens: int


@dataclass(frozen=True)
class RequestPrice:
    """What a request's images cost on one model and backend, image by image."""

    model: str
    """The model name as given."""
    backend: Backend
    family: str
    """The rules row used, e.g. "Gemini 2.5 (Vertex AI)"."""
    rule: TokenRule
    images: tuple[ImagePrice, ...]
    """In request order."""
    media_resolution: MediaResolution | None = None
    assumed: bool = False
    """True when the model name was not recognised and the newest known family was used."""
    notes: tuple[str, ...] = ()
    """Caveats in words: an assumed family, rules not confirmed by enough real bills."""

    @property
    def per_image(self) -> list[int]:
        """Tokens of each image in request order; 0 for an image of unknown size."""
        return [image.tokens for image in self.images]

    @property
    def per_image_tiles(self) -> list[int]:
        """Tiles of each image in request order (1 for families that do not tile)."""
        return [image.tiles for image in self.images]

    @property
    def total(self) -> int:
        """Tokens of all the request's images."""
        return sum(image.tokens for image in self.images)

    @property
    def unsized(self) -> int:
        """Images counted in the request but not priced: their size is unknown."""
        return sum(1 for image in self.images if image.size is None)


def _checked(sizes: Sequence[Size]) -> list[Size]:
    """`sizes` as (int, int) or None, each side at least 1 pixel."""
    checked: list[Size] = []
    for index, size in enumerate(sizes):
        # The common case first, in as few operations as possible (100s of images a request).
        if type(size) is tuple and len(size) == 2:
            width, height = size
            if type(width) is int and type(height) is int and width >= 1 and height >= 1:
                checked.append(size)
                continue
        if size is None:
            checked.append(None)
            continue
        if (
            not isinstance(size, tuple | list)
            or len(size) != 2
            or not all(isinstance(side, int) and not isinstance(side, bool) for side in size)
        ):
            raise InvalidArgumentError(
                f"sizes[{index}] is {size!r}; give each image as (width, height) in whole "
                "pixels, or None for an image whose size is unknown."
            )
        width, height = size
        if width < 1 or height < 1:
            raise InvalidArgumentError(
                f"An image is {width}x{height} px; width and height must be at least 1 pixel.",
                limit=1,
                actual=min(width, height),
            )
        checked.append((width, height))
    return checked


def _priced(
    rule: TokenRule, sizes: list[Size], resolution: MediaResolution | None
) -> list[tuple[int, int]]:
    """(tiles, tokens) per image: the rule's request-level method, else its `cost` per image."""
    method = getattr(rule, "price_request", None)
    if not callable(method):  # a user rule written before request-level pricing
        return [(0, 0) if s is None else rule.cost(s[0], s[1], resolution) for s in sizes]
    priced = [tuple(pair) for pair in method(sizes, resolution)]
    if len(priced) != len(sizes) or any(len(pair) != 2 for pair in priced):
        raise TypeError(
            f"The {rule.family!r} rule's price_request returned {len(priced)} prices for "
            f"{len(sizes)} images; it must return one (tiles, tokens) pair per image."
        )
    return priced


def price_request(
    sizes: Sequence[Size],
    model: str,
    *,
    backend: str | None = None,
    media_resolution: str | None = None,
) -> RequestPrice:
    """Price every image of one request: `sizes` are (width, height) as sent, in request
    order (None for an image whose size is unknown: it counts, priced 0).

    `backend`: "gemini-api" (None) or "vertex-ai". `media_resolution`: "low", "medium",
    "high", "ultra_high" or the API's `MEDIA_RESOLUTION_*` names; None for the default.
    An unrecognised model is priced with the newest family and flagged (`assumed`, a note),
    without a warning: the caller decides whether to warn (`ModelFamilyAssumedWarning`).
    """
    resolution = media_resolution_of(media_resolution)
    resolved = resolve_model(model, backend)
    checked = _checked(sizes)
    rule = resolved.rule
    priced = _priced(rule, checked, resolution)
    notes = [resolved.note] if resolved.note else []
    if checked:
        request_notes = getattr(rule, "request_notes", None)
        if callable(request_notes):
            extra = list(request_notes(checked, resolution))
        else:
            caveat = getattr(rule, "caveat", "")
            extra = [f"{rule.family}: {caveat}"] if caveat else []
        notes += [note for note in extra if note not in notes]
    return RequestPrice(
        model=model,
        backend=resolved.backend,
        family=rule.family,
        rule=rule,
        images=tuple(
            ImagePrice(size, tiles, tokens)
            for size, (tiles, tokens) in zip(checked, priced, strict=True)
        ),
        media_resolution=resolution,
        assumed=resolved.assumed,
        notes=tuple(notes),
    )


# Two sizes of one aspect ratio: a rule that prices them alike ignores size.
_LARGE, _SMALL = (3072, 2048), (384, 256)


def size_affects_tokens(model: str, backend: str | None = None) -> bool:
    """Whether an image's pixel size (beyond its aspect ratio) changes what `model` bills for
    it alone on `backend`, i.e. whether downscaling (`detail="low"`) saves tokens."""
    rule = resolve_model(model, backend).rule
    declared = getattr(rule, "size_affects_tokens", None)
    if isinstance(declared, bool):
        return declared
    return rule.cost(*_LARGE)[1] != rule.cost(*_SMALL)[1]


def detail_effect(model: str, backend: str | None = None) -> str:
    """One sentence for help texts: what `detail="low"` saves on `model` and `backend`."""
    rule = resolve_model(model, backend).rule
    note = getattr(rule, "detail_note", "")
    if isinstance(note, str) and note:
        return note
    if size_affects_tokens(model, backend):
        return (
            f'{rule.family} bills an image by its size: detail="low" (both sides <= 384 px) '
            "saves tokens."
        )
    return (
        f"{rule.family} bills an image whatever its size: "
        'detail="low" saves bytes and upload time, not tokens.'
    )
