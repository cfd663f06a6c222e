"""Gemini's 0..1000 boxes, read from a reply and mapped onto the caller's pixels.

Gemini answers a detection prompt with `box_2d: [ymin, xmin, ymax, xmax]` on a 0..1000
grid laid over the image *it received* (Google's docs, "Object detection"). The grid
keeps each point's fraction of the width and height, so a box lands on the caller's
image as seen upright, whatever downscaling happened on the way.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from ..errors import InvalidArgumentError
from ..images.prepared import PreparedImage
from .replies import DetectionWarning, extract_entries

__all__ = [
    "GRID",
    "Detection",
    "box_to_pixels",
    "check_size",
    "make_detection",
    "parse_detections",
    "upright_size",
]

#: Gemini's boxes are normalised to 0..1000 on each axis (Google's docs, "Object detection").
GRID = 1000


class Detection(BaseModel):
    """One detected object: its label and box, on Gemini's grid and in the caller's pixels."""

    model_config = ConfigDict(frozen=True)

    label: str
    """What the model called it ("" when it gave no label)."""
    box_2d: tuple[int, int, int, int]
    """Gemini's `[ymin, xmin, ymax, xmax]` on 0..1000, ordered (min <= max) and clamped."""
    box_px: tuple[int, int, int, int]
    """`(left, top, right, bottom)` in pixels of the caller's original image as seen upright
    (EXIF orientation applied); right and bottom are exclusive, as in `PIL.Image.crop`."""


def box_to_pixels(
    box_2d: Sequence[float], image_size: tuple[int, int]
) -> tuple[int, int, int, int]:
    """`[ymin, xmin, ymax, xmax]` on 0..1000 -> `(left, top, right, bottom)` in pixels.

    `image_size` is the (width, height) of the image the pixels are wanted in: the
    caller's original, upright. The grid covers the image Gemini received; resizing keeps
    each point's fraction of the width and height, so the size sent drops out and the
    fraction lands on the original directly (no rounding to the smaller image's pixels).
    Values are clamped to 0..1000, so the box stays inside the image.
    """
    width, height = image_size
    ymin, xmin, ymax, xmax = (min(max(float(v), 0.0), GRID) for v in box_2d)

    return (
        _round(xmin * width / GRID),
        _round(ymin * height / GRID),
        _round(xmax * width / GRID),
        _round(ymax * height / GRID),
    )


def _round(value: float) -> int:
    # Halves away from zero, not Python's to-even: 12.5 px and 13.5 px both go up.
    return math.floor(value + 0.5)


def upright_size(image: PreparedImage) -> tuple[int, int]:
    """(width, height) of the caller's original image once its EXIF orientation is applied."""
    if image.orientation in {5, 6, 7, 8}:  # a quarter turn: width and height swap
        return image.original_height, image.original_width
    return image.original_width, image.original_height


def check_size(image_size: tuple[int, int]) -> tuple[int, int]:
    """`image_size` as two positive ints, or InvalidArgumentError saying what to pass."""
    try:
        width, height = (int(v) for v in image_size)
    except (TypeError, ValueError):
        width = height = 0
    if width <= 0 or height <= 0:
        raise InvalidArgumentError(
            f"image_size must be (width, height) in pixels, both positive; got {image_size!r}. "
            "Pass the size of the image the boxes are wanted in, e.g. image.size."
        )
    return width, height


def parse_detections(text: str | None, image_size: tuple[int, int]) -> list[Detection]:
    """Parse a model's reply into detections in pixels of an image of `image_size`.

    Takes the JSON whatever its wrapping: a bare list of `{"box_2d": [...], "label": ...}`,
    a Markdown fence, an object holding the list (`{"objects": [...]}`), prose around it,
    single quotes or trailing commas, a reply cut off mid-list. An entry whose `box_2d` is
    not four numbers is skipped with a `DetectionWarning`; the rest are kept. Raises
    `DetectionParseError` when the text holds no such JSON at all.

    `image_size` is (width, height) of the image the pixels are wanted in; for a photo
    with an EXIF orientation, that is its upright size (see `upright_size`).
    """
    size = check_size(image_size)
    entries, skipped = extract_entries(text)
    for reason in skipped:
        warnings.warn(reason, DetectionWarning, stacklevel=2)
    return [make_detection(label, box, size) for label, box in entries]


def make_detection(
    label: str, box: tuple[float, float, float, float], size: tuple[int, int]
) -> Detection:
    """A `Detection` from a box as read: clamped to the grid, corners ordered, in pixels."""
    ymin, xmin, ymax, xmax = (min(max(v, 0.0), float(GRID)) for v in box)
    ordered = (min(ymin, ymax), min(xmin, xmax), max(ymin, ymax), max(xmin, xmax))
    return Detection(
        label=label,
        box_2d=(_round(ordered[0]), _round(ordered[1]), _round(ordered[2]), _round(ordered[3])),
        box_px=box_to_pixels(ordered, size),
    )
