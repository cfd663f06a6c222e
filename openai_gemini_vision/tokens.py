"""Offline token estimates, and the rules behind them: the documented public module.

The estimator lives with request preparation (`request.estimate`: an estimate prices
exactly what sending would put on the wire); the pure rules live in `token_rules`.
This module gathers both under the name users import.
"""

from __future__ import annotations

from .request.estimate import (
    CHARS_PER_TOKEN,
    DEFAULT_MODEL,
    ImageEstimate,
    TokenEstimate,
    estimate_image_tokens,
    estimate_text_tokens,
    estimate_tokens,
    estimate_tokens_by_model,
    measure_image,
)
from .token_rules import (
    RULES,
    Backend,
    GridRule,
    MediaResolution,
    MediaResolutionRule,
    ModelFamilyAssumedWarning,
    PerImageRule,
    RequestPrice,
    RequestTokenRule,
    ResolvedModel,
    TileRule,
    TokenRule,
    backend_for_base_url,
    detail_effect,
    price_request,
    register_rule,
    resolve_model,
    size_affects_tokens,
    unregister_rule,
)

__all__ = [
    "CHARS_PER_TOKEN",
    "DEFAULT_MODEL",
    "RULES",
    "Backend",
    "GridRule",
    "ImageEstimate",
    "MediaResolution",
    "MediaResolutionRule",
    "ModelFamilyAssumedWarning",
    "PerImageRule",
    "RequestPrice",
    "RequestTokenRule",
    "ResolvedModel",
    "TileRule",
    "TokenEstimate",
    "TokenRule",
    "backend_for_base_url",
    "detail_effect",
    "estimate_image_tokens",
    "estimate_text_tokens",
    "estimate_tokens",
    "estimate_tokens_by_model",
    "measure_image",
    "price_request",
    "register_rule",
    "resolve_model",
    "size_affects_tokens",
    "unregister_rule",
]
