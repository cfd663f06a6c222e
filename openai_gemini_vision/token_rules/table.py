"""The rules table: one row per (family, backend), each citing its evidence and confidence,
and `resolve_model`, which maps a model name however it is written to its row.

The figures come from what Gemini really billed: the image token counts it reported
(`usageMetadata.promptTokensDetails`) in about 50 recorded requests in public projects'
test cassettes, plus issue threads with measurements (the project's reference notes,
GEMINI_FACTS.md, "Image tokens: what Gemini really bills"). Google's documented "768x768
tiles" rule for Gemini 2.0 and later is wrong on every large image recorded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from ..errors import InvalidArgumentError, UnknownRuleError
from .backends import BACKENDS, Backend, backend_of
from .resolution import GEMINI_3_BUDGETS, GLOBAL_MEDIA_RESOLUTION_TOKENS
from .shapes import (
    TOKENS_PER_TILE,
    Confidence,
    GridRule,
    MediaResolutionRule,
    PerImageRule,
    TileRule,
    TokenRule,
)

__all__ = [
    "NEWEST_FAMILY",
    "RULES",
    "ResolvedModel",
    "register_rule",
    "resolve_model",
    "unregister_rule",
]

_TOKENS_DOC = "https://ai.google.dev/gemini-api/docs/tokens#media-token"
_RESOLUTION_DOC = "https://ai.google.dev/gemini-api/docs/media-resolution"
_ISSUE_1349 = "https://github.com/googleapis/python-genai/issues/1349"
_ISSUE_1907 = "https://github.com/googleapis/python-genai/issues/1907"
_RECORDINGS = "recorded requests in public test cassettes (GEMINI_FACTS.md, 'Image tokens')"

_LOW = 'detail="low"'
_TILES_LOW = f"{_LOW} (both sides <= 384 px) brings it to 258 tokens"
_BYTES_ONLY = f"{_LOW} saves bytes and upload time, not tokens"

_FAMILY_1_0 = PerImageRule(
    "Gemini 1.0 Pro Vision",
    TOKENS_PER_TILE,
    source=_TOKENS_DOC,
    fixed=GLOBAL_MEDIA_RESOLUTION_TOKENS,
    evidence="Google's token documentation: 258 tokens per image.",
    confidence="medium",
    detail_note=f"Gemini 1.0 Pro Vision bills 258 tokens per image whatever its size: {_BYTES_ONLY}.",
)

# Tile side = min(w, h) / 1.5 clamped to [256, 768]; 258 tokens a tile.
_FAMILY_1_5 = TileRule(
    "Gemini 1.5",
    tile_side=768,
    min_tile_side=256,
    source=_TOKENS_DOC,
    caveat="the documented tile rule; only a small image (256x256 -> 258) has been checked "
    "against a real bill.",
    evidence="Google's token documentation; one recording agrees (tmc/langchaingo, 256x256 -> "
    "258); no large-image recording found.",
    confidence="medium",
    detail_note=f"Gemini 1.5 bills an image above 384 px by its tiles: {_TILES_LOW}.",
)

_SEVERAL_2_0 = (
    "each of two or more images in one request is priced 258 tokens, whatever its size "
    "(3 recordings, e.g. 275x183 + 995x996 -> 516; low confidence)."
)
_DETAIL_2_0 = (
    "bills a lone image above 384 px by its tiles plus one whole-image tile: "
    f"{_TILES_LOW}; in a request of two or more images each costs 258 anyway."
)


def _two_point_o(family: str, caveat: str, confidence: Confidence) -> TileRule:
    """The Gemini 2.0 rule: 1.5-style tiles plus a whole-image tile; 258 each when several."""
    return TileRule(
        family,
        tile_side=768,
        min_tile_side=256,
        whole_image_tile=True,
        several_images_tokens=TOKENS_PER_TILE,
        several_images_caveat=_SEVERAL_2_0,
        source=_RECORDINGS,
        caveat=caveat,
        evidence="8 single-image recordings fit exactly (pydantic-ai, ruby_llm, llm-gemini: "
        "540x360 -> 1806, 640x480 -> 1290, 995x996 -> 1290, 1001x1001 -> 1290, 2048x1362 -> "
        "1806, 3008x2000 -> 3354); Google's documented 768-px tiles miss every one. Several "
        "images: 3 recordings.",
        confidence=confidence,
        detail_note=f"{family} {_DETAIL_2_0}",
    )


_FAMILY_2_0 = _two_point_o("Gemini 2.0", "", "high")
_FAMILY_2_0_VERTEX = _two_point_o(
    "Gemini 2.0 (Vertex AI)",
    "no Vertex AI recording of Gemini 2.0 was found: priced as on the Gemini API (Gemini 2.5 "
    "on Vertex AI bills as 2.0 does there).",
    "low",
)

_FAMILY_2_5 = PerImageRule(
    "Gemini 2.5",
    TOKENS_PER_TILE,
    source=_ISSUE_1349,
    fixed=GLOBAL_MEDIA_RESOLUTION_TOKENS,
    evidence="17 recordings from 8x8 to 8736x5856 (a HEIC phone photo) all billed 258 "
    "(ruby_llm, openinference, crewAI, pydantic-ai, ...); python-genai#1349: 2.5-pro billed "
    "768x1280, 1024x1024 and 3840x2160 258 each.",
    confidence="high",
    detail_note="Gemini 2.5 on the Gemini API bills 258 tokens per image whatever its size: "
    f"{_BYTES_ONLY}.",
)

_FAMILY_2_5_VERTEX = TileRule(
    "Gemini 2.5 (Vertex AI)",
    tile_side=768,
    min_tile_side=256,
    whole_image_tile=True,
    several_images_tokens=TOKENS_PER_TILE,
    several_images_caveat="each of two or more images in one request is priced 258 tokens, "
    "as Gemini 2.0 bills them on the Gemini API: an assumption, no Vertex AI recording with "
    "several images was found (low confidence).",
    source=_ISSUE_1907,
    caveat="one large-image measurement (python-genai#1907, 700x1003 -> 1806) backs the "
    "Gemini 2.0 tile rule on Vertex AI.",
    evidence="python-genai#1907: 700x1003 -> 1806 on Vertex AI, 258 on the Gemini API, same "
    "model; ruby_llm's Vertex AI recordings of 128x128 and 239x178 -> 258.",
    confidence="medium",
    detail_note=f"Gemini 2.5 on Vertex AI {_DETAIL_2_0}",
)

_FAMILY_3 = GridRule(
    "Gemini 3",
    budgets=GEMINI_3_BUDGETS,
    source=_RESOLUTION_DOC,
    evidence="fits all 8 recordings (ruby_llm, pydantic-ai: 128x128 -> 1089, 400x301 -> 1102, "
    "597x566 -> 1088, 597x566 + 400x301 -> 2190, 60x30 -> 1081, 300x346 -> 1085) and 8 "
    "countTokens measurements from 64x64 to 2048x512 (-> 1056), on the Gemini API and Vertex "
    "AI alike. Budgets per media resolution: Google's media-resolution page.",
    confidence="high",
    detail_note="Gemini 3 bills an image by its aspect ratio, up to 1,120 tokens at the "
    f"default media resolution, not by its size: {_BYTES_ONLY}; a lower media resolution "
    "saves tokens.",
)

_FAMILY_3_IMAGE = MediaResolutionRule(
    "Gemini 3 image generation",
    levels=GEMINI_3_BUDGETS,
    source=_RECORDINGS,
    caveat="one recording (gemini-3.1-flash-lite-image, 597x566 -> 1120: the budget, not the "
    "1,088 of the grid): priced at the full budget per image (low confidence).",
    evidence="one recording (pydantic-ai, gemini-3.1-flash-lite-image on the Gemini API: "
    "597x566 -> 1120).",
    confidence="low",
    detail_note="Gemini 3 image models bill 1,120 tokens per image at the default media "
    f"resolution whatever its size: {_BYTES_ONLY}.",
)


@dataclass(frozen=True)
class _Row:
    versions: frozenset[str]
    rule: TokenRule
    backends: frozenset[str] = frozenset(BACKENDS)
    image_generation: bool | None = None  # None: image-generation models and others alike


_VERTEX = frozenset({"vertex-ai"})
_API = frozenset({"gemini-api"})
# Every Gemini 3.x bills alike on the evidence (3 and 3.1 recorded, on both backends), so
# every 3.x name (3, 3.1, 3.5, 3.8, ... and their image models) is looked up as "3".
_V3 = frozenset({"3"})

# First match wins: the image-generation row before the general Gemini 3 one.
_TABLE: tuple[_Row, ...] = (
    _Row(frozenset({"1.0"}), _FAMILY_1_0),
    _Row(frozenset({"1.5"}), _FAMILY_1_5),
    _Row(frozenset({"2", "2.0"}), _FAMILY_2_0, _API),
    _Row(frozenset({"2", "2.0"}), _FAMILY_2_0_VERTEX, _VERTEX),
    _Row(frozenset({"2.5"}), _FAMILY_2_5, _API),
    _Row(frozenset({"2.5"}), _FAMILY_2_5_VERTEX, _VERTEX),
    _Row(_V3, _FAMILY_3_IMAGE, image_generation=True),
    _Row(_V3, _FAMILY_3),
)

#: Every built-in row by family name, e.g. `RULES["Gemini 2.5 (Vertex AI)"]`.
RULES: Mapping[str, TokenRule] = {row.rule.family: row.rule for row in _TABLE}

#: Used for names newer than, or unknown to, the table (and flagged as assumed).
NEWEST_FAMILY: TokenRule = _FAMILY_3
_NEWEST_MAJOR = 3

# Names without a version: the 1.0 models ("gemini-pro-vision", "gemini-pro", with an
# optional "-001" or "-latest"), and the moving "-latest" aliases of current models.
_LEGACY_1_0 = re.compile(r"gemini-(?:pro|ultra)(?:-vision)?(?:-\d{3}|-latest)?")
_MOVING_ALIAS = re.compile(r"gemini-(?:pro|flash|flash-lite|flash-8b)(?:-image)?-latest")
# "gemini-2.5-flash", "gemini-live-2.5-flash-preview", "gemini-3.1-flash-lite-image".
_VERSIONED = re.compile(r"gemini-(?:[a-z]+-)*?(\d)(?:\.(\d+))?(?=-|$)")
_IMAGE_MODEL = re.compile(r"-image(?:-|$)")

_user_rules: list[tuple[str, TokenRule, frozenset[str]]] = []


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
    backend: Backend = "gemini-api"

    @property
    def family(self) -> str:
        """The rule's family name, e.g. "Gemini 2.5 (Vertex AI)"."""
        return self.rule.family


def _bare_name(model: str) -> str:
    name = model.strip().lower().split("@", 1)[0]  # Vertex's "gemini-1.0-pro-vision@001"
    name = name.rstrip("/").rsplit("/", 1)[-1]  # "models/", "google/", "publishers/google/models/"
    return re.sub(r"[\s_]+", "-", name)


def _family_version(major: str, minor: str | None) -> str:
    """The table's key for a version: "2.5" as is, any 3.x as "3" (one family, one rule)."""
    if int(major) == _NEWEST_MAJOR:
        return major
    return major if minor is None else f"{major}.{minor}"


def _row(version: str, backend: Backend, image_generation: bool) -> TokenRule | None:
    for row in _TABLE:
        if (
            version in row.versions
            and backend in row.backends
            and row.image_generation in (None, image_generation)
        ):
            return row.rule
    return None


def _assumed(
    model: str, name: str, why: str, backend: Backend, image_generation: bool
) -> ResolvedModel:
    rule = _row("3", backend, image_generation) or NEWEST_FAMILY
    note = (
        f"{why} Its images are priced with the {rule.family} rule, the newest known. "
        "Name a dated model (e.g. gemini-2.5-flash) or add a rule with "
        "openai_gemini_vision.tokens.register_rule(pattern, rule)."
    )
    return ResolvedModel(model, name, rule, assumed=True, note=note, backend=backend)


def resolve_model(model: str, backend: str | None = None) -> ResolvedModel:
    """The rules row for `model` on `backend` ("gemini-api" when None), however the name is
    written; unknown or newer names get the newest family, flagged as assumed."""
    if not isinstance(model, str):
        raise InvalidArgumentError(
            f"model must be a model name such as 'gemini-2.5-flash', not {type(model).__name__}."
        )
    where = backend_of(backend)
    name = _bare_name(model)
    full = model.strip().lower()
    for pattern, rule, backends in _user_rules:
        if where in backends and (fnmatchcase(name, pattern) or fnmatchcase(full, pattern)):
            return ResolvedModel(model, name, rule, backend=where)
    if _LEGACY_1_0.fullmatch(name) and not _MOVING_ALIAS.fullmatch(name):
        return ResolvedModel(model, name, _FAMILY_1_0, backend=where)
    image_generation = bool(_IMAGE_MODEL.search(name))
    if _MOVING_ALIAS.fullmatch(name):
        # Google re-points "-latest" aliases at each new release (gemini-flash-latest moved
        # from 2.5 Flash onwards), so the newest family is the best guess; flagged all the same.
        why = f"{model!r} is an alias that follows Google's newest release."
        return _assumed(model, name, why, where, image_generation)
    match = _VERSIONED.match(name)
    if match is None:
        why = f"{model!r} is not a Gemini model name this library knows."
        return _assumed(model, name, why, where, image_generation)
    row = _row(_family_version(match[1], match[2]), where, image_generation)
    if row is not None:
        return ResolvedModel(model, name, row, backend=where)
    if int(match[1]) > _NEWEST_MAJOR:
        why = f"{model!r} is newer than every family with known rules."
    else:
        why = f"{model!r} is a Gemini version with no known rules."
    return _assumed(model, name, why, where, image_generation)


def register_rule(pattern: str, rule: TokenRule, *, backend: str | None = None) -> None:
    """Price images of models matching `pattern` (a glob, e.g. "gemini-2.5-*") with `rule`.

    Matched case-insensitively against the bare name ("gemini-2.5-flash" for
    "models/gemini-2.5-flash") and the full name; later registrations win over earlier
    ones, and all of them over the built-in table. `backend` limits the rule to
    "gemini-api" or "vertex-ai"; None applies it on both. A rule whose price depends on
    the whole request also defines `price_request(sizes, media_resolution)` (see
    `RequestTokenRule`).
    """
    if not isinstance(pattern, str) or not pattern.strip():
        raise InvalidArgumentError('pattern must be a non-empty glob such as "gemini-2.5-*".')
    if not isinstance(rule, TokenRule):
        raise TypeError(
            f"rule must have a `family` and a `cost(width, height, media_resolution)` method "
            f"(e.g. PerImageRule, TileRule, GridRule, MediaResolutionRule), not a "
            f"{type(rule).__name__}."
        )
    backends = frozenset(BACKENDS) if backend is None else frozenset({backend_of(backend)})
    _user_rules.insert(0, (pattern.strip().lower(), rule, backends))


def unregister_rule(pattern: str) -> None:
    """Remove every rule registered under `pattern` (on any backend); UnknownRuleError if none."""
    key = pattern.strip().lower() if isinstance(pattern, str) else pattern
    kept = [entry for entry in _user_rules if entry[0] != key]
    if len(kept) == len(_user_rules):
        registered = ", ".join(repr(entry[0]) for entry in _user_rules) or "none"
        raise UnknownRuleError(
            f"No rule is registered under {pattern!r}; registered: {registered}."
        )
    _user_rules[:] = kept
