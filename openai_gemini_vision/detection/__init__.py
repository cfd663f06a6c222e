"""Object detection: ask for boxes, read them onto the caller's pixels, draw them."""

from __future__ import annotations

from .boxes import GRID, Detection, box_to_pixels, parse_detections, upright_size
from .detect import (
    DEFAULT_DETECTION_PROMPT,
    DETECTION_MODEL,
    DETECTION_SCHEMA,
    Detections,
    adetect,
    detect,
    detection_messages,
)
from .draw import draw_detections
from .replies import DetectionWarning

__all__ = [
    "DEFAULT_DETECTION_PROMPT",
    "DETECTION_MODEL",
    "DETECTION_SCHEMA",
    "GRID",
    "Detection",
    "DetectionWarning",
    "Detections",
    "adetect",
    "box_to_pixels",
    "detect",
    "detection_messages",
    "draw_detections",
    "parse_detections",
    "upright_size",
]
