"""How each Gemini model family bills an image, per backend, and which family a model name
belongs to: pure rules (sizes, model, backend -> tokens), importing nothing but the leaves.

- `RULES`: one row per (family, backend), each citing its evidence and confidence
  (`table`); `resolve_model` maps a model name however it is written (`models/...`,
  Vertex's `google/...`, dated previews, `-latest` aliases) to its row; a name it cannot
  place gets the newest family and says so. `register_rule` adds or overrides a row.
- `price_request` prices a whole request, image by image (`pricing`): a family's price
  of one image may depend on the others.
- `Backend`: "gemini-api" or "vertex-ai" (`backends`); the same model bills differently.
- Media resolution (`resolution`): Gemini 3's per-image budgets, earlier families'
  request-wide LOW / MEDIUM.
- The shapes rules take: flat, tiles, aspect-ratio grid, flat per resolution (`shapes`).
"""

from __future__ import annotations

from ..errors import ModelFamilyAssumedWarning
from .backends import (
    BACKENDS,
    DEFAULT_BACKEND,
    VERTEX_HOST,
    Backend,
    backend_for_base_url,
    backend_of,
)
from .pricing import (
    ImagePrice,
    RequestPrice,
    detail_effect,
    price_request,
    size_affects_tokens,
)
from .resolution import (
    GEMINI_3_BUDGETS,
    GLOBAL_MEDIA_RESOLUTION_TOKENS,
    MediaResolution,
    media_resolution_in,
    media_resolution_of,
)
from .shapes import (
    TOKENS_PER_TILE,
    Confidence,
    GridRule,
    MediaResolutionRule,
    PerImageRule,
    RequestTokenRule,
    Size,
    TileRule,
    TokenRule,
    grid_tokens,
)
from .table import (
    NEWEST_FAMILY,
    RULES,
    ResolvedModel,
    register_rule,
    resolve_model,
    unregister_rule,
)

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "GEMINI_3_BUDGETS",
    "GLOBAL_MEDIA_RESOLUTION_TOKENS",
    "NEWEST_FAMILY",
    "RULES",
    "TOKENS_PER_TILE",
    "VERTEX_HOST",
    "Backend",
    "Confidence",
    "GridRule",
    "ImagePrice",
    "MediaResolution",
    "MediaResolutionRule",
    "ModelFamilyAssumedWarning",
    "PerImageRule",
    "RequestPrice",
    "RequestTokenRule",
    "ResolvedModel",
    "Size",
    "TileRule",
    "TokenRule",
    "backend_for_base_url",
    "backend_of",
    "detail_effect",
    "grid_tokens",
    "media_resolution_in",
    "media_resolution_of",
    "price_request",
    "register_rule",
    "resolve_model",
    "size_affects_tokens",
    "unregister_rule",
]
