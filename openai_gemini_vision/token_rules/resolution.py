"""Media resolution: the setting that caps what an image may cost, and where a request says it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, get_args

from ..errors import InvalidArgumentError

__all__ = [
    "GEMINI_3_BUDGETS",
    "GLOBAL_MEDIA_RESOLUTION_TOKENS",
    "MediaResolution",
    "media_resolution_in",
    "media_resolution_of",
]

MediaResolution = Literal["low", "medium", "high", "ultra_high"]
_RESOLUTIONS: tuple[str, ...] = get_args(MediaResolution)

#: The request-wide `generationConfig.mediaResolution` of models before Gemini 3 fixes an
#: image at 64 tokens (LOW) or 256 (MEDIUM); HIGH is "zoomed reframing with 256 tokens",
#: i.e. no fixed figure, so HIGH keeps the family's own rule.
#: https://ai.google.dev/api/generate-content#MediaResolution
GLOBAL_MEDIA_RESOLUTION_TOKENS: Mapping[str, int] = {"low": 64, "medium": 256}

#: Gemini 3's token budget per image at each media resolution (HIGH is the default):
#: https://ai.google.dev/gemini-api/docs/media-resolution
GEMINI_3_BUDGETS: Mapping[str, int] = {"low": 280, "medium": 560, "high": 1120, "ultra_high": 2240}

# Where a request body may carry a media resolution. No spelling is confirmed for the
# OpenAI-compatible endpoint (GEMINI_FACTS.md), so these are only read, never written:
# the native name, and the `extra_body` / `google` nesting the compatible endpoint uses
# for its other Gemini-only options (`thinking_config`, `cached_content`).
_KEYS = ("media_resolution", "mediaResolution")
_CONFIGS = ("generation_config", "generationConfig")


def media_resolution_of(value: str | None) -> MediaResolution | None:
    """`value` as one of "low", "medium", "high", "ultra_high" (any case, with or without
    the API's `MEDIA_RESOLUTION_` prefix); None and "unspecified" are None."""
    if value is None:
        return None
    if isinstance(value, str):
        key = value.strip().lower().replace("-", "_").replace(" ", "_")
        key = key.removeprefix("media_resolution_")
        if key in _RESOLUTIONS:
            return key  # type: ignore[return-value]
        if key == "unspecified":
            return None
    raise InvalidArgumentError(
        f"{value!r} is not a valid media_resolution. Valid values are: "
        + ", ".join(repr(r) for r in _RESOLUTIONS)
        + " (or None for the model's default)."
    )


def _places(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The mappings of `body` that may hold a media resolution, outermost first."""
    levels: list[Mapping[str, Any]] = [body]
    nested = body.get("extra_body")
    while isinstance(nested, Mapping) and len(levels) < 4:  # extra_body={"extra_body": ...}
        levels.append(nested)
        nested = nested.get("extra_body")
    places: list[Mapping[str, Any]] = []
    for level in levels:
        for scope in (level, level.get("google")):
            if isinstance(scope, Mapping):
                places.append(scope)
                places += [c for k in _CONFIGS if isinstance(c := scope.get(k), Mapping)]
    return places


def media_resolution_in(body: Mapping[str, Any]) -> MediaResolution | None:
    """The media resolution a chat request carries (top level, `extra_body`, its `google`
    object or a `generation_config` there), or None; a bad value names the valid ones."""
    for place in _places(body):
        for key in _KEYS:
            if place.get(key) is not None:
                return media_resolution_of(place[key])
    return None
