"""How each Gemini model family bills an image, and which family a model name belongs to.

One table, `RULES`, one row per family, each citing its source. `resolve_model` maps a
model name however it is written (`models/...`, Vertex's `google/...`, dated previews,
`-latest` aliases) to a row; a name it cannot place gets the newest family and says so.
`register_rule` lets users add or override a row for a model whose billing they measured.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from fractions import Fraction
from typing import Literal, Protocol, get_args, runtime_checkable

from .errors import InvalidArgumentError, ModelFamilyAssumedWarning, UnknownRuleError
from .policy import LOW_DETAIL_MAX_SIDE

__all__ = [
    "GLOBAL_MEDIA_RESOLUTION_TOKENS",
    "NEWEST_FAMILY",
    "RULES",
    "TOKENS_PER_TILE",
    "MediaResolution",
    "MediaResolutionRule",
    "ModelFamilyAssumedWarning",
    "PerImageRule",
    "ResolvedModel",
    "TileRule",
    "TokenRule",
    "media_resolution_of",
    "register_rule",
    "resolve_model",
    "unregister_rule",
]

MediaResolution = Literal["low", "medium", "high", "ultra_high"]
_RESOLUTIONS: tuple[str, ...] = get_args(MediaResolution)

#: One image tile costs 258 tokens on every family that tiles (1.0, 1.5, 2.0):
#: https://ai.google.dev/gemini-api/docs/tokens#media-token
TOKENS_PER_TILE = 258

#: The request-wide `generationConfig.mediaResolution` of models before Gemini 3 fixes an
#: image at 64 tokens (LOW) or 256 (MEDIUM); HIGH is "zoomed reframing with 256 tokens",
#: i.e. no fixed figure, so HIGH keeps the size rule.
#: https://ai.google.dev/api/generate-content#MediaResolution
GLOBAL_MEDIA_RESOLUTION_TOKENS: Mapping[str, int] = {"low": 64, "medium": 256}


def media_resolution_of(value: str | None) -> MediaResolution | None:
    """`value` as one of "low", "medium", "high", "ultra_high" (any case, with or without
    the API's `MEDIA_RESOLUTION_` prefix); None stays None."""
    if value is None:
        return None
    key = value.strip().lower().replace("-", "_").replace(" ", "_")
    key = key.removeprefix("media_resolution_")
    for resolution in get_args(MediaResolution):
        if key == resolution:
            return resolution  # type: ignore[no-any-return]
    if key == "unspecified":
        return None
    raise InvalidArgumentError(
        f"{value!r} is not a valid media_resolution. Valid values are: "
        + ", ".join(repr(r) for r in _RESOLUTIONS)
        + " (or None for the model's default)."
    )


@runtime_checkable
class TokenRule(Protocol):
    """What a rules row must do: price one image of a given size (tiles, tokens)."""

    @property
    def family(self) -> str:
        """The family's name as shown to users, e.g. "Gemini 2.0"."""
        ...

    def cost(
        self, width: int, height: int, media_resolution: MediaResolution | None = None
    ) -> tuple[int, int]:
        """(tiles, tokens) for one image of `width` x `height` pixels as sent."""
        ...


@dataclass(frozen=True)
class PerImageRule:
    """Every image costs the same number of tokens, whatever its size or resolution."""

    family: str
    tokens_per_image: int
    source: str = ""
    caveat: str = ""

    def cost(
        self, width: int, height: int, media_resolution: MediaResolution | None = None
    ) -> tuple[int, int]:
        """One tile of `tokens_per_image`."""
        return 1, self.tokens_per_image


@dataclass(frozen=True)
class TileRule:
    """Both sides <= `small_side`: one tile. Otherwise square tiles of `tile_side` px.

    With `min_tile_side` set, the tile side follows the image instead: its shorter side
    divided by `tile_divisor`, clamped to [min_tile_side, tile_side] (Gemini 1.5).
    `fixed` prices the request-wide media resolutions that set a flat cost per image.
    """

    family: str
    tile_side: int = 768
    min_tile_side: int | None = None
    tile_divisor: Fraction = Fraction(3, 2)
    tokens_per_tile: int = TOKENS_PER_TILE
    small_side: int = LOW_DETAIL_MAX_SIDE
    fixed: Mapping[str, int] = field(default_factory=lambda: dict(GLOBAL_MEDIA_RESOLUTION_TOKENS))
    source: str = ""
    caveat: str = ""

    def tile_count(self, width: int, height: int) -> int:
        """Tiles for an image of `width` x `height` pixels."""
        if width <= self.small_side and height <= self.small_side:
            return 1
        side = Fraction(self.tile_side)
        if self.min_tile_side is not None:
            # Exact fractions: min(w, h) / 1.5 in floats makes ceil(2000 / 666.66...) 4, not 3.
            side = min(
                side, max(Fraction(self.min_tile_side), min(width, height) / self.tile_divisor)
            )
        return math.ceil(width / side) * math.ceil(height / side)

    def cost(
        self, width: int, height: int, media_resolution: MediaResolution | None = None
    ) -> tuple[int, int]:
        """Tiles and tokens; a fixed media resolution overrides the size rule."""
        if media_resolution is not None and media_resolution in self.fixed:
            return 1, self.fixed[media_resolution]
        if media_resolution not in (None, "high"):
            valid = ", ".join(repr(r) for r in (*self.fixed, "high"))
            raise InvalidArgumentError(
                f"media_resolution={media_resolution!r} is per-image and Gemini 3 or later "
                f"only; for {self.family} use {valid} or None."
            )
        tiles = self.tile_count(width, height)
        return tiles, tiles * self.tokens_per_tile


@dataclass(frozen=True)
class MediaResolutionRule:
    """A flat cost per image chosen by media resolution, whatever the image's size."""

    family: str
    levels: Mapping[str, int]
    default: MediaResolution = "high"
    source: str = ""
    caveat: str = ""

    def cost(
        self, width: int, height: int, media_resolution: MediaResolution | None = None
    ) -> tuple[int, int]:
        """One tile at the chosen (or default) level's tokens."""
        level = media_resolution or self.default
        if level not in self.levels:
            valid = ", ".join(repr(r) for r in self.levels)
            raise InvalidArgumentError(
                f"media_resolution={level!r} has no token figure for {self.family}; "
                f"use one of {valid} or None."
            )
        return 1, self.levels[level]


_DOCS = "https://ai.google.dev/gemini-api/docs/tokens#media-token"

# The rules table: which versions in a model name ("gemini-<version>-...") each row covers.
# Source of every figure: Google's token docs (_DOCS) as collected in the project's
# reference notes (GEMINI_FACTS.md, "Image tokens"); rows marked with a caveat are not
# confirmed by Google.
_TABLE: tuple[tuple[tuple[str, ...], TokenRule], ...] = (
    (("1.0",), PerImageRule("Gemini 1.0 Pro Vision", TOKENS_PER_TILE, source=_DOCS)),
    (
        ("1.5",),
        # Tile side = min(w, h) / 1.5 clamped to [256, 768]; 258 tokens a tile.
        TileRule("Gemini 1.5", tile_side=768, min_tile_side=256, source=_DOCS),
    ),
    # "both dimensions <= 384 pixels are counted as 258 tokens ... larger ... tiles of
    # 768x768 pixels, each counted as 258 tokens."
    (("2", "2.0"), TileRule("Gemini 2.0", source=_DOCS)),
    (
        ("2.5",),
        TileRule(
            "Gemini 2.5",
            source=_DOCS,
            caveat=(
                "not documented separately; priced as Gemini 2.0. One public report "
                "(googleapis/python-genai#1349) saw 258 tokens per image whatever the size."
            ),
        ),
    ),
    (
        ("3", "3.0", "3.1"),
        MediaResolutionRule(
            "Gemini 3",
            levels={"low": 280, "medium": 560, "high": 1120, "ultra_high": 2240},
            default="high",
            source="https://ai.google.dev/gemini-api/docs/media-resolution",
            caveat=(
                "figures per media resolution (LOW 280, MEDIUM 560, HIGH 1120 default, "
                "ULTRA_HIGH 2240) come from third-party copies of Google's table, "
                "unconfirmed; they are a per-image maximum."
            ),
        ),
    ),
)

#: Every built-in row by family name, e.g. `RULES["Gemini 1.5"]`.
RULES: Mapping[str, TokenRule] = {rule.family: rule for _, rule in _TABLE}
_BY_VERSION: Mapping[str, TokenRule] = {v: rule for versions, rule in _TABLE for v in versions}

#: Used for names newer than, or unknown to, the table (and flagged as assumed).
NEWEST_FAMILY: TokenRule = _TABLE[-1][1]

# Names without a version: the 1.0 models ("gemini-pro-vision", "gemini-pro", with an
# optional "-001" or "-latest"), and the moving "-latest" aliases of current models.
_LEGACY_1_0 = re.compile(r"gemini-(?:pro|ultra)(?:-vision)?(?:-\d{3}|-latest)?")
_MOVING_ALIAS = re.compile(r"gemini-(?:pro|flash|flash-lite|flash-8b)-latest")
_VERSIONED = re.compile(r"gemini-(\d+(?:\.\d+)?)(?:-|$)")

_user_rules: list[tuple[str, TokenRule]] = []


@dataclass(frozen=True)
class ResolvedModel:
    """A model name, the rule that prices its images, and whether that rule is a guess."""

    model: str
    """The name as given."""
    name: str
    """The bare name matched against the table ("gemini-1.5-pro-002")."""
    rule: TokenRule
    assumed: bool = False
    note: str = ""


def _bare_name(model: str) -> str:
    name = model.strip().lower().split("@", 1)[0]  # Vertex's "gemini-1.0-pro-vision@001"
    name = name.rstrip("/").rsplit("/", 1)[-1]  # "models/", "google/", "publishers/google/models/"
    return re.sub(r"[\s_]+", "-", name)


def _assumed(model: str, name: str, why: str) -> ResolvedModel:
    note = (
        f"{why} Its images are priced with the {NEWEST_FAMILY.family} rule, the newest known. "
        "Name a dated model (e.g. gemini-2.5-flash) or add a rule with "
        "openai_gemini_vision.tokens.register_rule(pattern, rule)."
    )
    return ResolvedModel(model, name, NEWEST_FAMILY, assumed=True, note=note)


def resolve_model(model: str) -> ResolvedModel:
    """The rules row for `model`, however it is written; unknown names get the newest row."""
    name = _bare_name(model)
    for pattern, rule in _user_rules:
        if fnmatchcase(name, pattern) or fnmatchcase(model.strip().lower(), pattern):
            return ResolvedModel(model, name, rule)
    if _LEGACY_1_0.fullmatch(name) and not _MOVING_ALIAS.fullmatch(name):
        return ResolvedModel(model, name, RULES["Gemini 1.0 Pro Vision"])
    if _MOVING_ALIAS.fullmatch(name):
        # Google re-points "-latest" aliases at each new release (gemini-flash-latest moved
        # from 2.5 Flash onwards), so the newest family is the best guess; flagged all the same.
        return _assumed(model, name, f"{model!r} is an alias that follows Google's newest release.")
    match = _VERSIONED.match(name)
    if match and match[1] in _BY_VERSION:
        return ResolvedModel(model, name, _BY_VERSION[match[1]])
    if match:
        return _assumed(model, name, f"{model!r} is newer than every family with known rules.")
    return _assumed(model, name, f"{model!r} is not a Gemini model name this library knows.")


def register_rule(pattern: str, rule: TokenRule) -> None:
    """Price images of models matching `pattern` (a glob, e.g. "gemini-2.5-*") with `rule`.

    Matched case-insensitively against the bare name ("gemini-2.5-flash" for
    "models/gemini-2.5-flash") and the full name; later registrations win over earlier
    ones, and all of them over the built-in table.
    """
    if not isinstance(pattern, str) or not pattern.strip():
        raise InvalidArgumentError('pattern must be a non-empty glob such as "gemini-2.5-*".')
    if not isinstance(rule, TokenRule):
        raise TypeError(
            f"rule must have a `family` and a `cost(width, height, media_resolution)` method "
            f"(e.g. PerImageRule, TileRule, MediaResolutionRule), not a {type(rule).__name__}."
        )
    _user_rules.insert(0, (pattern.strip().lower(), rule))


def unregister_rule(pattern: str) -> None:
    """Remove every rule registered under `pattern`; KeyError if there is none."""
    key = pattern.strip().lower()
    kept = [(p, r) for p, r in _user_rules if p != key]
    if len(kept) == len(_user_rules):
        registered = ", ".join(repr(p) for p, _ in _user_rules) or "none"
        raise UnknownRuleError(
            f"No rule is registered under {pattern!r}; registered: {registered}."
        )
    _user_rules[:] = kept
