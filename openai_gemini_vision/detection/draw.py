"""Drawing detections: each box and its label on a copy of the image, legible on any picture."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence

from PIL import Image, ImageDraw, ImageFont

from ..images.convert import upright
from .boxes import Detection

__all__ = [
    "PALETTE",
    "colours_for",
    "contrast_ratio",
    "draw_detections",
    "line_width",
    "text_colour",
]

Colour = tuple[int, int, int]

#: Box colours: the mid-luminance entries of Sasha Trubetskoy's "List of 20 Simple,
#: Distinct Colors" (https://sashamaps.net/docs/resources/20-colors/); the very light
#: and very dark ones are left out so every box shows on both light and dark pictures.
PALETTE: tuple[Colour, ...] = (
    (230, 25, 75),  # red
    (60, 180, 75),  # green
    (0, 130, 200),  # blue
    (245, 130, 48),  # orange
    (145, 30, 180),  # purple
    (240, 50, 230),  # magenta
    (0, 128, 128),  # teal
    (170, 110, 40),  # brown
    (128, 128, 0),  # olive
    (128, 0, 0),  # maroon
)

_BLACK: Colour = (0, 0, 0)
_WHITE: Colour = (255, 255, 255)


def _luminance(colour: Colour) -> float:
    """Relative luminance (WCAG 2.x, https://www.w3.org/TR/WCAG21/#dfn-relative-luminance)."""

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: Colour, b: Colour) -> float:
    """WCAG contrast ratio of two colours, 1 (none) to 21 (black on white)."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def text_colour(fill: Colour) -> Colour:
    """Black or white, whichever reads better on `fill`."""
    return _BLACK if contrast_ratio(fill, _BLACK) >= contrast_ratio(fill, _WHITE) else _WHITE


def colours_for(labels: Iterable[str]) -> dict[str, Colour]:
    """A palette colour per label: the same label gets the same colour in every picture,
    and different labels in one picture get different colours (while the palette lasts)."""
    taken: dict[int, str] = {}
    chosen: dict[str, Colour] = {}
    for label in labels:
        if label in chosen:
            continue
        # crc32, not hash(): Python salts str hashes per process, colours must not change.
        slot = zlib.crc32(label.encode("utf-8")) % len(PALETTE)
        for step in range(len(PALETTE)):
            probe = (slot + step) % len(PALETTE)
            if probe not in taken:
                slot = probe
                break
        taken.setdefault(slot, label)
        chosen[label] = PALETTE[slot]
    return chosen


def line_width(size: tuple[int, int]) -> int:
    """Box outline width: about 0.4% of the longer side, at least 2 px."""
    return max(2, round(max(size) / 250))


def _font_size(size: tuple[int, int]) -> int:
    return max(11, round(max(size) / 50))


def _canvas(image: Image.Image) -> Image.Image:
    """An upright RGB(A) copy of `image` to draw on; `image` itself is left alone."""
    turned = upright(image)  # always a new image
    mode = "RGBA" if turned.has_transparency_data else "RGB"
    return turned if turned.mode == mode else turned.convert(mode)


def draw_detections(image: Image.Image, detections: Sequence[Detection]) -> Image.Image:
    """A copy of `image` with each box and its label drawn; `image` is never modified.

    Boxes are `Detection.box_px`, in pixels of the image as seen upright: an image still
    carrying an EXIF orientation is turned upright first. Each label has its own colour;
    the label is written in black or white on a box of that colour, legible on light and
    dark pictures alike. The copy is RGB, or RGBA when the image has transparency.
    """
    out = _canvas(image)
    draw = ImageDraw.Draw(out)
    width = line_width(out.size)
    font = ImageFont.load_default(size=_font_size(out.size))
    colours = colours_for(d.label for d in detections)
    for detection in detections:
        left, top, right, bottom = detection.box_px
        colour = colours[detection.label]
        # box_px's right and bottom are exclusive; Pillow's rectangle includes both ends.
        draw.rectangle(
            (left, top, max(left, right - 1), max(top, bottom - 1)), outline=colour, width=width
        )
        if detection.label:
            _label(draw, out.size, detection.label, (left, top), colour, font)
    return out


def _label(
    draw: ImageDraw.ImageDraw,
    size: tuple[int, int],
    text: str,
    at: tuple[int, int],
    fill: Colour,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
) -> None:
    """`text` on a filled box just above the box's corner, or just inside when no room."""
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
    pad = max(2, (y1 - y0) // 5)
    box_w, box_h = x1 - x0 + 2 * pad, y1 - y0 + 2 * pad
    left, top = at
    y = top - box_h if top - box_h >= 0 else top
    x = max(0, min(left, size[0] - box_w))
    draw.rectangle((x, y, x + box_w - 1, y + box_h - 1), fill=fill)
    draw.text((x + pad - x0, y + pad - y0), text, fill=text_colour(fill), font=font)
