"""Captioning many image files with one prompt: resumable, bounded, polite to rate limits."""

from __future__ import annotations

from .captioner import (
    IMAGE_FORMATS,
    Captioner,
    CaptionSummary,
    FoundImages,
    Outcome,
    caption_messages,
    find_images,
    is_image_file,
    run_sync,
)

__all__ = [
    "IMAGE_FORMATS",
    "CaptionSummary",
    "Captioner",
    "FoundImages",
    "Outcome",
    "caption_messages",
    "find_images",
    "is_image_file",
    "run_sync",
]
