"""How big to render a PDF page or a video frame, per model family: fewest tokens, still legible.

What a page costs depends on the family that reads it (GEMINI_FACTS.md, "Image tokens:
what Gemini really bills", measured from real bills): Gemini 2.5 on the Gemini API bills
258 tokens per image whatever its size; Gemini 3 maps an image onto a grid of at most
1,120 tokens that depends on its aspect ratio alone; Gemini 1.5, 2.0 and 2.5 on Vertex AI
bill by tiles, so a page drawn a little smaller can cost a tile row less. `family_cost`
asks the token rules themselves (`token_rules.price_request`), so a page is sized by the
rules that price it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from ..token_rules import price_request, resolve_model, size_affects_tokens

__all__ = [
    "MAX_SIDE",
    "MIN_DPI",
    "PREFERRED_DPI",
    "VIDEO_SIDE",
    "VIDEO_SIDE_TILED",
    "FamilyCost",
    "PageSize",
    "family_cost",
    "frame_side",
    "page_size",
]

#: 10-pt body text has an x-height of about 5 pt. At 150 DPI that is ~10 px, the height
#: below which Tesseract's FAQ says "you have very little chance of accurate results"
#: ("below about 8 pixels, most of the text will be noise removed"; "Is there a Minimum /
#: Maximum Text Size?", https://tesseract-ocr.github.io/tessdoc/FAQ.html). A vision model
#: reads no worse than an OCR engine, so its floor is a safe one.
#: A page is drawn at this resolution unless its family bills fewer tokens slightly lower.
PREFERRED_DPI = 150.0
#: The 8 px x-height of that FAQ: never go below it, whatever it saves.
MIN_DPI = 120.0
#: Gemini scales pages larger than 3072 x 3072 down to fit (Google's document-processing
#: guide, "Technical details": https://ai.google.dev/gemini-api/docs/document-processing),
#: so pixels beyond that are bytes the model never sees.
MAX_SIDE = 3072
#: The same guide: smaller pages are scaled up to 768 x 768; a frame no bigger costs no
#: more tokens on the families that bill per image or per aspect ratio, and is ~60 kB.
VIDEO_SIDE = 768
#: On the tiled families both sides <= 384 px is one 258-token tile, which is what Gemini
#: bills for a frame of its own video sampling (258 tokens a frame at 1 frame a second).
VIDEO_SIDE_TILED = 384


@dataclass(frozen=True)
class FamilyCost:
    """A model family's name, how it bills an image, and the tokens of one image."""

    family: str
    """E.g. "Gemini 2.5 (Gemini API)"."""
    billing: str
    """"per image", "per aspect ratio" or "by tiles": whether size changes the bill."""
    tokens: Callable[[int, int], int]
    """Tokens for one image of (width, height) pixels as sent."""


def family_cost(model: str | None, backend: str | None = None) -> FamilyCost:
    """The family `model` belongs to and what it bills for one page alone, by the same
    rules the estimates use (`token_rules`): an unknown or missing name gets the newest
    family, as estimates do; `backend` is "gemini-api" (the default) or "vertex-ai"."""
    name = model or "gemini-3-flash-preview"
    family = resolve_model(name, backend).family
    billing = "by tiles" if size_affects_tokens(name, backend) else "per image or aspect ratio"

    def tokens(width: int, height: int) -> int:
        return price_request([(width, height)], name, backend=backend).total

    return FamilyCost(family, billing, tokens)


@dataclass(frozen=True)
class PageSize:
    """The pixel size chosen for one page, and why, in words for `changes`."""

    width: int
    height: int
    dpi: float
    tokens: int
    reason: str


def _pixels(width_pt: float, height_pt: float, dpi: float) -> tuple[int, int]:
    return max(1, round(width_pt * dpi / 72)), max(1, round(height_pt * dpi / 72))


def page_size(
    width_pt: float,
    height_pt: float,
    cost: FamilyCost,
    *,
    dpi: float | None = None,
) -> PageSize:
    """The size to render a page of `width_pt` x `height_pt` points (1/72 inch) at.

    With `dpi` given, that resolution (capped so the longer side stays <= MAX_SIDE). A family
    billing by tiles gets the resolution from MIN_DPI to PREFERRED_DPI with the fewest tiles
    (the highest of equals); every other family PREFERRED_DPI, since size does not change
    its bill and smaller pages are fewer bytes.
    """
    longest = max(width_pt, height_pt)
    cap = MAX_SIDE * 72 / longest  # the DPI at which the longer side is MAX_SIDE px
    if dpi is not None:
        chosen = min(dpi, cap)
        w, h = _pixels(width_pt, height_pt, chosen)
        capped = f", capped at {MAX_SIDE} px a side" if chosen < dpi else ""
        return PageSize(
            w, h, chosen, cost.tokens(w, h), f"rendered at {chosen:.0f} DPI as asked{capped}"
        )
    if cost.billing == "by tiles":
        chosen = _fewest_tiles(width_pt, height_pt, cost, cap)
    else:
        # Size does not change the bill (at most a rounding of the aspect ratio on Gemini
        # 3): the preferred resolution, and no more bytes than legibility needs.
        chosen = min(PREFERRED_DPI, cap)
    w, h = _pixels(width_pt, height_pt, chosen)
    tokens = cost.tokens(w, h)
    if cap < MIN_DPI:
        reason = (
            f"rendered at {chosen:.0f} DPI, the largest page Gemini looks at ({MAX_SIDE} px "
            f"a side; it shrinks bigger ones itself): text under about "
            f"{10 * PREFERRED_DPI / chosen:.0f} pt may be hard to read"
        )
    elif cost.billing == "by tiles":
        reason = (
            f"rendered at {chosen:.0f} DPI: {tokens:,} tokens alone in a request, the fewest "
            f"{cost.family} bills for this page at {MIN_DPI:.0f} DPI or more (legible body "
            "text)"
        )
    else:
        reason = (
            f"rendered at {chosen:.0f} DPI: {cost.family} bills a page ({tokens:,} tokens) "
            "whatever its size, so it is drawn just large enough for 10-pt text"
        )
    return PageSize(w, h, chosen, tokens, reason)


def _fewest_tiles(width_pt: float, height_pt: float, cost: FamilyCost, cap: float) -> float:
    """The DPI from MIN_DPI to PREFERRED_DPI that bills the fewest tiles; nearest
    PREFERRED_DPI among equals (so no sharper than asked, and no blurrier than it need be)."""
    low, high = min(MIN_DPI, cap), min(PREFERRED_DPI, cap)
    # One candidate per pixel of the longer side: a few hundred evaluations of an
    # arithmetic rule, and no size where the bill changes is stepped over.
    steps = max(1, math.ceil((high - low) * max(width_pt, height_pt) / 72))
    best: tuple[int, float] | None = None  # (tokens, distance below PREFERRED_DPI)
    for i in range(steps + 1):
        candidate = low + (high - low) * i / steps
        tokens = cost.tokens(*_pixels(width_pt, height_pt, candidate))
        key = (tokens, high - candidate)
        if best is None or key < best:
            best = key
    assert best is not None
    return high - best[1]


def frame_side(cost: FamilyCost) -> int:
    """The longer side, in pixels, a video frame is scaled down to for this family."""
    return VIDEO_SIDE_TILED if cost.billing == "by tiles" else VIDEO_SIDE
