"""Object detection: Gemini's 0..1000 boxes in the caller's original pixels, and drawing them."""
# CONTRACT STUB: filled in by the detection work (issue 6). Keep these names.

from __future__ import annotations

from typing import Any

from PIL import Image
from pydantic import BaseModel

__all__ = ["Detection", "detect", "draw_detections", "parse_detections"]


class Detection(BaseModel):
    """One detected object."""

    label: str
    box_2d: tuple[int, int, int, int]
    box_px: tuple[int, int, int, int]


def parse_detections(text: str, image_size: tuple[int, int]) -> list[Detection]:
    """Parse a model's reply into detections in pixels of an image of `image_size`."""
    raise NotImplementedError


def detect(
    client: Any, source: Any, *, prompt: str | None = None, model: str = "gemini-2.5-flash"
) -> list[Detection]:
    """Ask Gemini for bounding boxes in one call."""
    raise NotImplementedError


def draw_detections(image: Image.Image, detections: list[Detection]) -> Image.Image:
    """A copy of `image` with each box and its label drawn."""
    raise NotImplementedError
