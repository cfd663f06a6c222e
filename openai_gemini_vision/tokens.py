"""Offline token estimates for images and text, per Gemini model family."""
# CONTRACT STUB: filled in by the tokens work (issue 3). Keep these signatures.

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from .policy import ImagePolicy

__all__ = ["TokenEstimate", "estimate_image_tokens", "estimate_prepared", "estimate_tokens"]


class TokenEstimate(BaseModel):
    """Tokens a request is expected to cost, computed offline."""

    image_tokens: int = 0
    text_tokens: int = 0
    total_tokens: int = 0
    per_image: list[int] = []
    text_is_approximate: bool = True
    model: str = ""


def estimate_image_tokens(
    width: int, height: int, model: str, *, media_resolution: str | None = None
) -> int:
    """Tokens Gemini bills for one image of `width` x `height` pixels as sent."""
    raise NotImplementedError


def estimate_tokens(
    messages: Iterable[Any], model: str, *, policy: ImagePolicy | None = None
) -> TokenEstimate:
    """Estimate a chat request's tokens from headers only, never decoding an image."""
    raise NotImplementedError


def estimate_prepared(
    messages: list[dict[str, Any]], sizes: list[tuple[int, int]], model: str
) -> TokenEstimate:
    """Estimate for messages whose images are already prepared, at their sizes as sent.

    `messages` are plain dicts (from `messages.copy_messages`); `sizes` are the
    (width, height) of each image in message order. Used by `prepare_messages`.
    """
    raise NotImplementedError
