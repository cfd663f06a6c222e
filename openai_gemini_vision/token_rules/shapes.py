"""The shapes a token rule takes: flat per image, tiles, an aspect-ratio grid, flat per
media resolution. Each prices one image alone (`cost`) and a whole request (`price_request`).

Every figure here is integer arithmetic: a tile count or a grid side computed through
floats is off by one at exact boundaries (ceil(2000 / 666.67) is 4 in floats, 3 exactly).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal, Protocol, runtime_checkable

from ..errors import InvalidArgumentError
from ..policy import LOW_DETAIL_MAX_SIDE
from .resolution import GEMINI_3_BUDGETS, GLOBAL_MEDIA_RESOLUTION_TOKENS, MediaResolution

__all__ = [
    "TOKENS_PER_TILE",
    "Confidence",
    "GridRule",
    "MediaResolutionRule",
    "PerImageRule",
    "RequestTokenRule",
    "Size",
    "TileRule",
    "TokenRule",
    "grid_tokens",
]

#: One image tile costs 258 tokens on every family that tiles (1.0, 1.5, 2.0):
#: https://ai.google.dev/gemini-api/docs/tokens#media-token
TOKENS_PER_TILE = 258

#: How far a row is to be trusted: "high" fits many real bills; "medium" is documented or
#: rests on one measurement; "low" is one or a few cases, or an assumption. "" is unstated.
Confidence = Literal["high", "medium", "low", ""]

#: (width, height) in pixels as sent; None for an image whose size is unknown offline.
Size = tuple[int, int] | None


@runtime_checkable
class TokenRule(Protocol):
    """What a rules row must do: price one image of a given size, alone in a request."""

    @property
    def family(self) -> str:
        """The family's name as shown to users, e.g. "Gemini 2.0"."""
        ...

    def cost(
        self, width: int, height: int, media_resolution: MediaResolution | None = None
    ) -> tuple[int, int]:
        """(tiles, tokens) for one image of `width` x `height` pixels as sent."""
        ...


@runtime_checkable
class RequestTokenRule(TokenRule, Protocol):
    """A rule whose price of an image depends on the rest of the request (Gemini 2.0 bills
    each of several images 258 tokens, a lone one by its tiles)."""

    def price_request(
        self, sizes: Sequence[Size], media_resolution: MediaResolution | None = None
    ) -> Sequence[tuple[int, int]]:
        """(tiles, tokens) per image, in request order; a None size counts as an image of
        the request and is priced (0, 0)."""
        ...


def _fixed(
    family: str, fixed: Mapping[str, int] | None, media_resolution: MediaResolution | None
) -> int | None:
    """The flat figure a pre-Gemini-3 media resolution sets, None to keep the size rule."""
    if fixed is None or media_resolution is None:
        return None
    if media_resolution in fixed:
        return fixed[media_resolution]
    if media_resolution == "high":
        return None
    valid = ", ".join(repr(r) for r in (*fixed, "high"))
    raise InvalidArgumentError(
        f"media_resolution={media_resolution!r} is per-image and Gemini 3 or later only; "
        f"for {family} use {valid} or None."
    )


def _each(
    rule: TokenRule, sizes: Sequence[Size], media_resolution: MediaResolution | None
) -> list[tuple[int, int]]:
    return [(0, 0) if s is None else rule.cost(s[0], s[1], media_resolution) for s in sizes]


def _fixed_notes(
    family: str, caveat: str, fixed: Mapping[str, int] | None, media_resolution: str | None
) -> list[str]:
    """The row's caveat, and a word on a pre-Gemini-3 media resolution's flat figure."""
    notes = [f"{family}: {caveat}"] if caveat else []
    if fixed is not None and media_resolution is not None and media_resolution in fixed:
        notes.append(
            f"{family}: media_resolution={media_resolution!r} is priced "
            f"{fixed[media_resolution]} tokens an image, as Google's API reference documents "
            "it; not yet checked against a real bill."
        )
    return notes


@dataclass(frozen=True)
class PerImageRule:
    """Every image costs the same number of tokens, whatever its size.

    `fixed` maps the request-wide media resolutions that set another flat figure (LOW 64,
    MEDIUM 256 before Gemini 3); None ignores media resolution altogether.
    """

    family: str
    tokens_per_image: int
    source: str = ""
    caveat: str = ""
    fixed: Mapping[str, int] | None = None
    evidence: str = ""
    confidence: Confidence = ""
    detail_note: str = ""
    size_affects_tokens: bool = False

    def cost(
        self, width: int, height: int, media_resolution: MediaResolution | None = None
    ) -> tuple[int, int]:
        """One tile of `tokens_per_image` (or of the media resolution's fixed figure)."""
        flat = _fixed(self.family, self.fixed, media_resolution)
        return 1, self.tokens_per_image if flat is None else flat

    def price_request(
        self, sizes: Sequence[Size], media_resolution: MediaResolution | None = None
    ) -> list[tuple[int, int]]:
        """Each image on its own: the figure does not depend on the others."""
        self.cost(1, 1, media_resolution)  # a resolution this family refuses, even with no image
        return _each(self, sizes, media_resolution)

    def request_notes(
        self, sizes: Sequence[Size], media_resolution: MediaResolution | None = None
    ) -> list[str]:
        """What to tell the user about this price: the row's caveat, an unmeasured setting."""
        return _fixed_notes(self.family, self.caveat, self.fixed, media_resolution)


@dataclass(frozen=True)
class TileRule:
    """Both sides <= `small_side`: one tile. Otherwise square tiles of `tile_side` px.

    With `min_tile_side` set, the tile side follows the image instead: its shorter side
    divided by `tile_divisor`, clamped to [min_tile_side, tile_side] (Gemini 1.5).
    `whole_image_tile` adds one tile for a view of the whole image (Gemini 2.0 above
    `small_side`). `several_images_tokens`, when set, is what each image costs instead
    when the request holds two or more. `fixed` prices the request-wide media resolutions
    that set a flat cost per image.
    """

    family: str
    tile_side: int = 768
    min_tile_side: int | None = None
    tile_divisor: Fraction = Fraction(3, 2)
    tokens_per_tile: int = TOKENS_PER_TILE
    small_side: int = LOW_DETAIL_MAX_SIDE
    fixed: Mapping[str, int] | None = field(
        default_factory=lambda: dict(GLOBAL_MEDIA_RESOLUTION_TOKENS)
    )
    source: str = ""
    caveat: str = ""
    whole_image_tile: bool = False
    several_images_tokens: int | None = None
    several_images_caveat: str = ""
    evidence: str = ""
    confidence: Confidence = ""
    detail_note: str = ""
    size_affects_tokens: bool = True

    def tile_count(self, width: int, height: int) -> int:
        """Tiles for an image of `width` x `height` pixels (the whole-image tile included)."""
        if width <= self.small_side and height <= self.small_side:
            return 1
        # The side as an exact fraction num/den: ceil(w / side) = ceil(w * den / num).
        num, den = self.tile_side, 1
        if self.min_tile_side is not None:
            p, q = self.tile_divisor.numerator, self.tile_divisor.denominator
            short = min(width, height)
            if short * q < self.min_tile_side * p:
                num = self.min_tile_side
            elif short * q <= self.tile_side * p:
                num, den = short * q, p
        across = -(-(width * den) // num)
        down = -(-(height * den) // num)
        return across * down + (1 if self.whole_image_tile else 0)

    def cost(
        self, width: int, height: int, media_resolution: MediaResolution | None = None
    ) -> tuple[int, int]:
        """Tiles and tokens of one image alone; a fixed media resolution overrides the size rule."""
        flat = _fixed(self.family, self.fixed, media_resolution)
        if flat is not None:
            return 1, flat
        tiles = self.tile_count(width, height)
        return tiles, tiles * self.tokens_per_tile

    def price_request(
        self, sizes: Sequence[Size], media_resolution: MediaResolution | None = None
    ) -> list[tuple[int, int]]:
        """Each image by its tiles, or `several_images_tokens` each when there are two or more."""
        flat = _fixed(self.family, self.fixed, media_resolution)
        if self.several_images_tokens is None or len(sizes) < 2:
            return _each(self, sizes, media_resolution)
        each = (1, self.several_images_tokens if flat is None else flat)
        return [(0, 0) if s is None else each for s in sizes]

    def request_notes(
        self, sizes: Sequence[Size], media_resolution: MediaResolution | None = None
    ) -> list[str]:
        """The row's caveat, the several-images rule's when it applied, an unmeasured setting."""
        notes = _fixed_notes(self.family, self.caveat, self.fixed, media_resolution)
        several = self.several_images_tokens is not None and len(sizes) >= 2
        if several and self.several_images_caveat:
            notes.append(f"{self.family}: {self.several_images_caveat}")
        return notes


def grid_tokens(width: int, height: int, budget: int) -> int:
    """Tokens of the grid an image maps onto: floor(sqrt(B*r)) * floor(sqrt(B/r)), r = w/h.

    Exact: floor(sqrt(x)) == isqrt(floor(x)) for any rational x >= 0, so no float ever
    enters. A side of less than one cell (an aspect ratio beyond B:1) counts as one cell,
    and the grid never exceeds the budget: an assumption, no such image has been measured.
    """
    across = math.isqrt(budget * width // height)
    down = math.isqrt(budget * height // width)
    return min(budget, max(across, 1) * max(down, 1))


@dataclass(frozen=True)
class GridRule:
    """An image maps onto a grid of at most `budgets[level]` tokens keeping its aspect
    ratio (Gemini 3); its size beyond the aspect ratio does not matter."""

    family: str
    budgets: Mapping[str, int] = field(default_factory=lambda: dict(GEMINI_3_BUDGETS))
    default: MediaResolution = "high"
    source: str = ""
    caveat: str = ""
    measured_levels: frozenset[str] = frozenset({"high"})
    evidence: str = ""
    confidence: Confidence = ""
    detail_note: str = ""
    size_affects_tokens: bool = False

    def budget(self, media_resolution: MediaResolution | None) -> int:
        """The token budget at `media_resolution` (the default when None)."""
        level = media_resolution or self.default
        if level not in self.budgets:
            valid = ", ".join(repr(r) for r in self.budgets)
            raise InvalidArgumentError(
                f"media_resolution={level!r} has no token budget for {self.family}; "
                f"use one of {valid} or None."
            )
        return self.budgets[level]

    def cost(
        self, width: int, height: int, media_resolution: MediaResolution | None = None
    ) -> tuple[int, int]:
        """One image: (1, its grid's tokens at the budget)."""
        return 1, grid_tokens(width, height, self.budget(media_resolution))

    def price_request(
        self, sizes: Sequence[Size], media_resolution: MediaResolution | None = None
    ) -> list[tuple[int, int]]:
        """Each image on its own grid."""
        budget = self.budget(media_resolution)
        return [(0, 0) if s is None else (1, grid_tokens(s[0], s[1], budget)) for s in sizes]

    def request_notes(
        self, sizes: Sequence[Size], media_resolution: MediaResolution | None = None
    ) -> list[str]:
        """The row's caveat, an unmeasured budget, an aspect ratio beyond the grid."""
        notes = [f"{self.family}: {self.caveat}"] if self.caveat else []
        level = media_resolution or self.default
        budget = self.budget(media_resolution)
        if level not in self.measured_levels:
            measured = ", ".join(sorted(self.measured_levels))
            notes.append(
                f"{self.family}: the {level} budget ({budget} tokens) is assumed to keep the "
                f"grid shape measured at {measured}; only {measured} has been measured."
            )
        if any(s is not None and (budget * s[0] < s[1] or budget * s[1] < s[0]) for s in sizes):
            notes.append(
                f"{self.family}: an image longer than {budget}:1 is priced as a single row of "
                "the grid, capped at the budget: an assumption, never measured."
            )
        return notes


@dataclass(frozen=True)
class MediaResolutionRule:
    """A flat cost per image chosen by media resolution, whatever the image's size."""

    family: str
    levels: Mapping[str, int]
    default: MediaResolution = "high"
    source: str = ""
    caveat: str = ""
    evidence: str = ""
    confidence: Confidence = ""
    detail_note: str = ""
    size_affects_tokens: bool = False

    def cost(
        self, width: int, height: int, media_resolution: MediaResolution | None = None
    ) -> tuple[int, int]:
        """One tile at the chosen (or default) level's tokens."""
        level = media_resolution or self.default
        if level not in self.levels:
            valid = ", ".join(repr(r) for r in self.levels)
            raise InvalidArgumentError(
                f"media_resolution={level!r} has no token figure for {self.family}; "
                f"use one of {valid} or None."
            )
        return 1, self.levels[level]

    def price_request(
        self, sizes: Sequence[Size], media_resolution: MediaResolution | None = None
    ) -> list[tuple[int, int]]:
        """Each image at the level's flat figure."""
        self.cost(1, 1, media_resolution)
        return _each(self, sizes, media_resolution)

    def request_notes(
        self, sizes: Sequence[Size], media_resolution: MediaResolution | None = None
    ) -> list[str]:
        """The row's caveat."""
        return [f"{self.family}: {self.caveat}"] if self.caveat else []
