"""Object detection and segmentation: ask for boxes and masks, read them onto the caller's
pixels, draw them."""

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
from .segment import (
    DEFAULT_SEGMENTATION_PROMPT,
    SEGMENTATION_MODEL,
    Segmentation,
    Segmentations,
    asegment,
    draw_segmentations,
    parse_segmentations,
    segment,
    segmentation_messages,
)

__all__ = [
    "DEFAULT_DETECTION_PROMPT",
    "DEFAULT_SEGMENTATION_PROMPT",
    "DETECTION_MODEL",
    "DETECTION_SCHEMA",
    "GRID",
    "SEGMENTATION_MODEL",
    "Detection",
    "DetectionWarning",
    "Detections",
    "Segmentation",
    "Segmentations",
    "adetect",
    "asegment",
    "box_to_pixels",
    "detect",
    "detection_messages",
    "draw_detections",
    "draw_segmentations",
    "parse_detections",
    "parse_segmentations",
    "segment",
    "segmentation_messages",
    "upright_size",
]
