"""A whole chat request: find its images, prepare each once, fit the budget, price it."""

from __future__ import annotations

from .estimate import TokenEstimate, estimate_image_tokens, estimate_tokens
from .prepare import PreparedRequest, aprepare_messages, is_prepared, prepare_messages

__all__ = [
    "PreparedRequest",
    "TokenEstimate",
    "aprepare_messages",
    "estimate_image_tokens",
    "estimate_tokens",
    "is_prepared",
    "prepare_messages",
]
