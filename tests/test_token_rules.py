"""The pure token rules: real bills, backends, request-level pricing, media resolution,
what `detail` saves, model names, and the arithmetic behind every figure."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from decimal import ROUND_FLOOR, Decimal, localcontext
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from openai_gemini_vision.errors import (
    InvalidArgumentError,
    ModelFamilyAssumedWarning,
    UnknownRuleError,
)
from openai_gemini_vision.token_rules import (
    BACKENDS,
    GEMINI_3_BUDGETS,
    NEWEST_FAMILY,
    RULES,
    GridRule,
    MediaResolution,
    PerImageRule,
    RequestTokenRule,
    Size,
    TileRule,
    backend_for_base_url,
    backend_of,
    detail_effect,
    grid_tokens,
    media_resolution_in,
    price_request,
    register_rule,
    resolve_model,
    size_affects_tokens,
    unregister_rule,
)
from openai_gemini_vision.tokens import estimate_image_tokens, measure_image

from .imaging import encode
from .real_bills import DEFAULT_PATH, Case, load_cases, markdown_table

README = Path(__file__).resolve().parents[1] / "README.md"

# --- every recorded bill of the reference sample -----------------------------------------

_CASES = load_cases() if DEFAULT_PATH.is_file() else []
_NO_SAMPLE = pytest.mark.skip(reason=f"no reference sample at {DEFAULT_PATH}")
_SAMPLE = [pytest.param(case, id=case.label) for case in _CASES] or [
    pytest.param(None, marks=_NO_SAMPLE, id="no-sample")
]


@pytest.mark.parametrize("case", _SAMPLE)
def test_every_recorded_bill_is_matched_exactly(case: Case) -> None:
    """Each real request of the sample, its images made at the recorded sizes, prices to the image tokens Gemini billed."""
    sizes = []
    for width, height in case.sizes:
        # A synthetic image of the recorded size, sized from its header as sending would.
        data = encode(Image.new("L", (width, height), 128), "PNG")
        measured = measure_image(data).size
        assert measured == (width, height)
        sizes.append(measured)
    price = price_request(sizes, case.model, backend=case.backend)
    assert price.total == case.billed
    assert not price.assumed
    assert len(price.per_image) == len(case.sizes)
    if len(case.sizes) == 1:
        assert estimate_image_tokens(*case.sizes[0], case.model, backend=case.backend) == (
            case.billed
        )


@pytest.mark.skipif(not _CASES, reason=f"no reference sample at {DEFAULT_PATH}")
def test_readme_table_is_the_one_the_sample_gives() -> None:
    """The README's "estimate vs real bill" table is what tests/real_bills.py prints today."""
    assert markdown_table(_CASES) in README.read_text(encoding="utf-8")


# --- every measurement the reference notes quote -----------------------------------------

MEASURED: list[tuple[str, str, list[tuple[int, int]], int]] = [
    # Gemini 2.0 on the Gemini API: a lone image by 1.5-style tiles plus one; several: 258 each.
    ("gemini-2.0-flash", "gemini-api", [(540, 360)], 1806),
    ("gemini-2.0-flash", "gemini-api", [(640, 480)], 1290),
    ("gemini-2.0-flash", "gemini-api", [(995, 996)], 1290),
    ("gemini-2.0-flash", "gemini-api", [(1001, 1001)], 1290),
    ("gemini-2.0-flash", "gemini-api", [(2048, 1362)], 1806),
    ("gemini-2.0-flash", "gemini-api", [(3008, 2000)], 3354),
    ("gemini-2.0-flash", "gemini-api", [(275, 183), (995, 996)], 516),
    # Gemini 2.5 on Vertex AI: python-genai#1907.
    ("gemini-2.5-flash", "vertex-ai", [(700, 1003)], 1806),
    ("gemini-2.5-flash", "gemini-api", [(700, 1003)], 258),
    # Gemini 3: the aspect-ratio grid, on both backends.
    ("gemini-3-flash-preview", "gemini-api", [(128, 128)], 1089),
    ("gemini-3-flash-preview", "gemini-api", [(400, 301)], 1102),
    ("gemini-3-flash-preview", "gemini-api", [(597, 566)], 1088),
    ("gemini-3-flash-preview", "gemini-api", [(597, 566), (400, 301)], 2190),
    ("gemini-3-flash-preview", "gemini-api", [(60, 30)], 1081),
    ("gemini-3-flash-preview", "gemini-api", [(300, 346)], 1085),
    ("gemini-3-flash-preview", "gemini-api", [(2048, 512)], 1056),
    ("gemini-3-pro-preview", "vertex-ai", [(2048, 512)], 1056),
    ("gemini-3-flash-preview", "vertex-ai", [(64, 64)], 1089),
    # Gemini 2.5 on the Gemini API: python-genai#1349 and an 8736x5856 HEIC phone photo.
    ("gemini-2.5-pro", "gemini-api", [(768, 1280)], 258),
    ("gemini-2.5-pro", "gemini-api", [(1024, 1024)], 258),
    ("gemini-2.5-pro", "gemini-api", [(3840, 2160)], 258),
    ("gemini-2.5-flash", "gemini-api", [(8736, 5856)], 258),
]


@pytest.mark.parametrize(("model", "backend", "sizes", "billed"), MEASURED)
def test_quoted_measurements(
    model: str, backend: str, sizes: list[tuple[int, int]], billed: int
) -> None:
    """Every bill the reference notes quote is priced exactly."""
    assert price_request(sizes, model, backend=backend).total == billed


def test_issue_figures_that_were_wrong_are_now_the_bill() -> None:
    """The issue's examples: a 1280x854 and an 8736x5856 photo on 2.5 are 258, not 1,032 and 24,768."""
    assert estimate_image_tokens(1280, 854, "gemini-2.5-flash") == 258
    assert estimate_image_tokens(8736, 5856, "gemini-2.5-flash") == 258
    assert estimate_image_tokens(1280, 854, "gemini-2.5-flash", backend="vertex-ai") == 7 * 258


# --- backends ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "backend"),
    [
        (None, "gemini-api"),
        ("gemini-api", "gemini-api"),
        ("GEMINI_API", "gemini-api"),
        ("vertex-ai", "vertex-ai"),
        (" Vertex_AI ", "vertex-ai"),
        ("vertex", "vertex-ai"),
    ],
)
def test_backend_spellings(value: str | None, backend: str) -> None:
    """A backend is read in any case, with "-" or "_", and None is the Gemini API."""
    assert backend_of(value) == backend


@pytest.mark.parametrize("value", ["openai", "", "azure", 3])
def test_bad_backend_names_the_valid_ones(value: object) -> None:
    """An unknown backend is an InvalidArgumentError listing both valid values."""
    with pytest.raises(InvalidArgumentError, match="'gemini-api', 'vertex-ai'"):
        backend_of(value)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="'gemini-api', 'vertex-ai'"):
        price_request([(10, 10)], "gemini-2.5-flash", backend=value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "backend"),
    [
        ("https://generativelanguage.googleapis.com/v1beta/openai/", "gemini-api"),
        (
            "https://aiplatform.googleapis.com/v1/projects/p/locations/global/endpoints/openapi",
            "vertex-ai",
        ),
        (
            "https://us-central1-aiplatform.googleapis.com/v1beta1/projects/p/locations/"
            "us-central1/endpoints/openapi/",
            "vertex-ai",
        ),
        ("https://EUROPE-WEST4-AIPLATFORM.googleapis.com./v1/", "vertex-ai"),
        ("europe-west1-aiplatform.googleapis.com/v1/projects/p", "vertex-ai"),
        ("http://127.0.0.1:8080/v1beta/openai/", "gemini-api"),
        ("https://aiplatform.googleapis.com.example.com/v1/", "gemini-api"),
        ("https://notaiplatform.googleapis.com/v1/", "gemini-api"),
        ("https://proxy.example.com/?next=aiplatform.googleapis.com", "gemini-api"),
        ("http://[::1/openai/", "gemini-api"),
        (None, "gemini-api"),
    ],
)
def test_backend_from_base_url(url: str | None, backend: str) -> None:
    """Vertex AI is recognised by its host, regional or global; everything else is the Gemini API."""
    assert backend_for_base_url(url) == backend


def test_same_model_bills_differently_per_backend() -> None:
    """Gemini 2.5 is priced by tiles on Vertex AI and flat on the Gemini API; Gemini 3 alike on both."""
    api = resolve_model("gemini-2.5-flash")
    vertex = resolve_model("google/gemini-2.5-flash", "vertex-ai")
    assert (api.family, api.backend) == ("Gemini 2.5", "gemini-api")
    assert (vertex.family, vertex.backend) == ("Gemini 2.5 (Vertex AI)", "vertex-ai")
    assert resolve_model("gemini-3-pro-preview", "vertex-ai").rule is RULES["Gemini 3"]


# --- request-level pricing ---------------------------------------------------------------


def test_gemini_2_0_prices_the_request_not_the_image() -> None:
    """On 2.0 an image costs its tiles alone, 258 beside another; per_image says which in order."""
    alone = price_request([(3008, 2000)], "gemini-2.0-flash")
    together = price_request([(3008, 2000), (8, 8)], "gemini-2.0-flash")
    assert alone.per_image == [3354]
    assert alone.per_image_tiles == [13]
    assert together.per_image == [258, 258]
    assert together.total == 516
    assert any("two or more images" in note for note in together.notes)
    assert not any("two or more images" in note for note in alone.notes)


def test_vertex_2_5_prices_several_images_as_2_0_and_says_it_is_assumed() -> None:
    """Several images on 2.5 via Vertex AI cost 258 each, flagged as an assumption."""
    price = price_request([(700, 1003), (1024, 768)], "gemini-2.5-pro", backend="vertex-ai")
    assert price.per_image == [258, 258]
    assert any("an assumption" in note for note in price.notes)


def test_unknown_sizes_count_in_the_request_and_are_priced_zero() -> None:
    """An image of unknown size (an unfetched URL) is priced 0 but still makes the request a several-image one."""
    price = price_request([(3008, 2000), None], "gemini-2.0-flash")
    assert price.per_image == [258, 0]
    assert price.unsized == 1
    assert price.images[1].size is None
    assert price_request([None], "gemini-3-pro-preview").per_image == [0]


def test_price_names_model_family_backend_and_resolution() -> None:
    """The price says what priced it: model as given, family, backend, media resolution."""
    price = price_request(
        [(400, 300)], "models/gemini-3.1-pro-preview", backend="vertex-ai", media_resolution="LOW"
    )
    assert price.model == "models/gemini-3.1-pro-preview"
    assert price.family == "Gemini 3"
    assert price.backend == "vertex-ai"
    assert price.media_resolution == "low"
    assert price.rule is RULES["Gemini 3"]
    assert price_request([], "gemini-2.0-flash").total == 0


@pytest.mark.parametrize(
    "sizes",
    [[(0, 10)], [(10, -1)], [(10,)], [(1.5, 10)], [(True, 10)], ["640x480"], [(10, 10, 3)]],
)
def test_bad_sizes_are_typed_errors(sizes: list[object]) -> None:
    """A size that is not two whole pixel counts of at least 1 is an InvalidArgumentError saying so."""
    with pytest.raises(InvalidArgumentError, match=r"at least 1 pixel|\(width, height\)"):
        price_request(sizes, "gemini-2.0-flash")  # type: ignore[arg-type]


# --- user rules --------------------------------------------------------------------------


@pytest.fixture
def clean_rules() -> Iterator[list[str]]:
    """Patterns registered by a test, removed afterwards."""
    patterns: list[str] = []
    yield patterns
    for pattern in patterns:
        unregister_rule(pattern)


class _CostOnly:
    """A user rule written before request-level pricing: a family and `cost` only."""

    family = "cost only"

    def cost(
        self, width: int, height: int, media_resolution: MediaResolution | None = None
    ) -> tuple[int, int]:
        return 1, width


class _FirstImageFree:
    """A request-level user rule: the first image of a request is free, the others 100."""

    family = "first free"

    def cost(
        self, width: int, height: int, media_resolution: MediaResolution | None = None
    ) -> tuple[int, int]:
        return 0, 0

    def price_request(
        self, sizes: Sequence[Size], media_resolution: MediaResolution | None = None
    ) -> list[tuple[int, int]]:
        return [(0, 0) if i == 0 or s is None else (1, 100) for i, s in enumerate(sizes)]


def test_cost_only_user_rule_still_prices_requests(clean_rules: list[str]) -> None:
    """A rule with only `cost(width, height, media_resolution)` prices each image of a request by it."""
    register_rule("tuned-*", _CostOnly())
    clean_rules.append("tuned-*")
    price = price_request([(7, 1), (9, 1), None], "tuned-1")
    assert price.per_image == [7, 9, 0]
    assert price.family == "cost only"
    assert not price.assumed


def test_request_level_user_rule(clean_rules: list[str]) -> None:
    """A user rule with `price_request` prices the whole request."""
    rule = _FirstImageFree()
    assert isinstance(rule, RequestTokenRule)
    register_rule("gemini-2.0-*", rule)
    clean_rules.append("gemini-2.0-*")
    assert price_request([(9, 9), (9, 9), (9, 9)], "gemini-2.0-flash").per_image == [0, 100, 100]


def test_user_rule_returning_the_wrong_count_is_named(clean_rules: list[str]) -> None:
    """A request-level rule that returns too few prices fails with its family named."""

    class Short(_FirstImageFree):
        family = "short"

        def price_request(
            self, sizes: Sequence[Size], media_resolution: MediaResolution | None = None
        ) -> list[tuple[int, int]]:
            return []

    register_rule("short-*", Short())
    clean_rules.append("short-*")
    with pytest.raises(TypeError, match="'short' rule's price_request returned 0 prices for 1"):
        price_request([(1, 1)], "short-1")


def test_register_rule_per_backend(clean_rules: list[str]) -> None:
    """A rule registered for one backend leaves the other on the built-in table."""
    register_rule("gemini-2.5-*", PerImageRule("measured on Vertex", 999), backend="vertex-ai")
    clean_rules.append("gemini-2.5-*")
    assert estimate_image_tokens(10, 10, "gemini-2.5-flash", backend="vertex-ai") == 999
    assert estimate_image_tokens(10, 10, "gemini-2.5-flash") == 258
    with pytest.raises(InvalidArgumentError, match="valid backend"):
        register_rule("x-*", PerImageRule("x", 1), backend="azure")


def test_unregister_unknown_pattern_is_unknown_rule_error() -> None:
    """Removing a pattern never registered is an UnknownRuleError (a KeyError) naming what is registered."""
    with pytest.raises(UnknownRuleError, match="No rule is registered under 'nothing-\\*'"):
        unregister_rule("nothing-*")


# --- media resolution --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "square", "four_to_one"),
    [
        ("low", 16 * 16, 33 * 8),
        ("medium", 23 * 23, 47 * 11),
        ("high", 33 * 33, 66 * 16),
        ("ultra_high", 47 * 47, 94 * 23),
    ],
)
def test_gemini_3_budgets_keep_the_grid(level: str, square: int, four_to_one: int) -> None:
    """Gemini 3's budgets 280 / 560 / 1,120 / 2,240 each give the grid of that budget."""
    assert (
        price_request([(500, 500)], "gemini-3-pro-preview", media_resolution=level).total == square
    )
    assert (
        price_request([(2048, 512)], "gemini-3-pro-preview", media_resolution=level).total
        == four_to_one
    )


def test_unmeasured_budgets_are_noted() -> None:
    """Budgets other than HIGH are priced but noted as assumed; HIGH is not."""
    low = price_request([(10, 10)], "gemini-3-flash-preview", media_resolution="low")
    high = price_request([(10, 10)], "gemini-3-flash-preview", media_resolution="high")
    assert any("assumed" in note and "280" in note for note in low.notes)
    assert high.notes == ()


@pytest.mark.parametrize(
    ("model", "backend"),
    [
        ("gemini-1.5-pro", None),
        ("gemini-2.0-flash", None),
        ("gemini-2.5-flash", None),
        ("gemini-2.5-flash", "vertex-ai"),
        ("gemini-pro-vision", None),
    ],
)
def test_pre_3_request_wide_levels(model: str, backend: str | None) -> None:
    """Before Gemini 3, LOW and MEDIUM fix every image at 64 and 256, alone or several."""
    for level, tokens in (("low", 64), ("medium", 256)):
        for sizes in ([(4000, 3000)], [(4000, 3000), (10, 10)]):
            price = price_request(sizes, model, backend=backend, media_resolution=level)
            assert price.per_image == [tokens] * len(sizes)
            assert any("API reference" in note for note in price.notes)
    with pytest.raises(InvalidArgumentError, match=r"Gemini 3 or later only.*'low', 'medium'"):
        price_request([(10, 10)], model, backend=backend, media_resolution="ultra_high")


def test_image_generation_3_is_the_flat_budget() -> None:
    """Gemini 3 image models bill the budget per image, whatever the shape (one recording)."""
    price = price_request([(597, 566), (2048, 512)], "gemini-3-pro-image-preview")
    assert price.per_image == [1120, 1120]
    assert price_request([(9, 9)], "gemini-3.1-flash-image", media_resolution="low").total == 280
    assert any("one recording" in note for note in price.notes)


@pytest.mark.parametrize(
    ("body", "level"),
    [
        ({"model": "m"}, None),
        ({"media_resolution": "MEDIA_RESOLUTION_LOW"}, "low"),
        ({"extra_body": {"google": {"media_resolution": "medium"}}}, "medium"),
        ({"extra_body": {"extra_body": {"google": {"mediaResolution": "HIGH"}}}}, "high"),
        ({"extra_body": {"google": {"generation_config": {"media_resolution": "low"}}}}, "low"),
        ({"generationConfig": {"mediaResolution": "MEDIA_RESOLUTION_UNSPECIFIED"}}, None),
        ({"extra_body": "not a mapping"}, None),
    ],
)
def test_media_resolution_in_a_request(body: dict[str, object], level: str | None) -> None:
    """A media resolution is found where a request may carry one, in any spelling."""
    assert media_resolution_in(body) == level


def test_bad_media_resolution_in_a_request_names_valid_values() -> None:
    """A media resolution no model knows is an InvalidArgumentError listing the valid ones."""
    with pytest.raises(InvalidArgumentError, match="'low', 'medium', 'high', 'ultra_high'"):
        media_resolution_in({"extra_body": {"google": {"media_resolution": "max"}}})


# --- what detail saves -------------------------------------------------------------------

SIZE_MATTERS = [
    ("gemini-pro-vision", "gemini-api", False),
    ("gemini-1.5-flash", "gemini-api", True),
    ("gemini-2.0-flash", "gemini-api", True),
    ("gemini-2.0-flash", "vertex-ai", True),
    ("gemini-2.5-flash", "gemini-api", False),
    ("gemini-2.5-pro", "vertex-ai", True),
    ("gemini-3-flash-preview", "gemini-api", False),
    ("gemini-3.1-pro-preview", "vertex-ai", False),
    ("gemini-3-pro-image-preview", "gemini-api", False),
]


@pytest.mark.parametrize(("model", "backend", "matters"), SIZE_MATTERS)
def test_size_affects_tokens_per_family_and_backend(
    model: str, backend: str, matters: bool
) -> None:
    """Downscaling saves tokens on 1.5, 2.0 and 2.5-on-Vertex, and only bytes on 2.5 (Gemini API) and 3."""
    assert size_affects_tokens(model, backend) is matters
    large = estimate_image_tokens(3000, 2000, model, backend=backend)
    low = estimate_image_tokens(384, 256, model, backend=backend)  # detail="low"
    assert (large != low) is matters
    sentence = detail_effect(model, backend)
    assert 'detail="low"' in sentence
    assert ("not tokens" in sentence) is not matters


def test_detail_effect_for_user_rules(clean_rules: list[str]) -> None:
    """A user rule without a sentence of its own gets one from how its figures behave."""
    register_rule("flat-*", _CostOnly())
    clean_rules.append("flat-*")
    assert size_affects_tokens("flat-1")  # its cost follows the width
    assert "saves tokens" in detail_effect("flat-1")


# --- model names -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "backend", "family"),
    [
        ("gemini-2.5-flash", None, "Gemini 2.5"),
        ("models/gemini-2.5-flash-lite", None, "Gemini 2.5"),
        ("google/gemini-2.5-flash", "vertex-ai", "Gemini 2.5 (Vertex AI)"),
        ("publishers/google/models/gemini-2.5-pro@default", "vertex-ai", "Gemini 2.5 (Vertex AI)"),
        ("gemini-1.5-flash-002@001", None, "Gemini 1.5"),
        ("gemini-2.5-flash-preview-05-20", None, "Gemini 2.5"),
        ("gemini-2.5-pro-exp-03-25", None, "Gemini 2.5"),
        ("gemini-live-2.5-flash-preview", None, "Gemini 2.5"),
        ("gemini-1.5-flash-latest", None, "Gemini 1.5"),
        ("gemini-2.0-flash-exp", None, "Gemini 2.0"),
        ("gemini-2.0-flash-lite-001", "vertex-ai", "Gemini 2.0 (Vertex AI)"),
        ("gemini-2.0-flash-preview-image-generation", None, "Gemini 2.0"),
        ("gemini-2.0-flash-exp-image-generation", None, "Gemini 2.0"),
        ("gemini-2.5-flash-image", None, "Gemini 2.5"),
        ("gemini-2.5-flash-image-preview", "vertex-ai", "Gemini 2.5 (Vertex AI)"),
        ("gemini-3-pro-preview", None, "Gemini 3"),
        ("gemini-3.1-flash-lite-preview", None, "Gemini 3"),
        ("gemini-3.5-flash", None, "Gemini 3"),
        ("gemini-3.8-pro", "vertex-ai", "Gemini 3"),
        ("gemini-3-pro-image-preview", None, "Gemini 3 image generation"),
        ("gemini-3.1-flash-lite-image", None, "Gemini 3 image generation"),
        ("google/gemini-3.1-flash-image-preview", "vertex-ai", "Gemini 3 image generation"),
        ("gemini-1.0-pro-vision-001", None, "Gemini 1.0 Pro Vision"),
        ("GEMINI_PRO_VISION", None, "Gemini 1.0 Pro Vision"),
    ],
)
def test_model_spellings(model: str, backend: str | None, family: str) -> None:
    """Every spelling of a known model resolves to its family on its backend, unflagged."""
    resolved = resolve_model(model, backend)
    assert resolved.family == family
    assert not resolved.assumed
    assert resolved.note == ""


@pytest.mark.parametrize(
    ("model", "why"),
    [
        ("gemini-4.2-flash", "newer than every family"),
        ("gemini-5-pro-preview-11-05", "newer than every family"),
        ("gemini-flash-latest", "alias"),
        ("gemini-2.2-flash", "no known rules"),
        ("gemini-embedding-001", "not a Gemini model name"),
        ("gpt-4o", "not a Gemini model name"),
    ],
)
def test_unknown_names_priced_by_newest_family_and_flagged(model: str, why: str) -> None:
    """An unknown or newer name gets the newest family, a note naming register_rule, and a warning where priced alone."""
    price = price_request([(400, 301)], model)
    assert price.assumed
    assert price.rule is NEWEST_FAMILY
    assert why in price.notes[0]
    assert "register_rule" in price.notes[0]
    with pytest.warns(ModelFamilyAssumedWarning, match=re.escape(model)):
        assert estimate_image_tokens(400, 301, model) == 1102


def test_unknown_image_model_uses_the_newest_image_row() -> None:
    """An unknown image-generation name is priced as the newest image models, flagged."""
    resolved = resolve_model("gemini-4-flash-image")
    assert resolved.assumed
    assert resolved.family == "Gemini 3 image generation"


def test_model_that_is_not_a_string_is_a_typed_error() -> None:
    """A model that is not a string is an InvalidArgumentError naming an example, not an AttributeError."""
    with pytest.raises(InvalidArgumentError, match=r"gemini-2\.5-flash"):
        resolve_model(None)  # type: ignore[arg-type]


def test_every_row_cites_evidence_and_confidence() -> None:
    """Each built-in row says where its figures come from, how far to trust them, and what detail saves."""
    for family, rule in RULES.items():
        assert rule.family == family
        assert getattr(rule, "evidence", ""), family
        assert getattr(rule, "confidence", "") in {"high", "medium", "low"}, family
        assert getattr(rule, "source", ""), family
        assert 'detail="low"' in getattr(rule, "detail_note", ""), family
    # Every backend has a row for every family (the table has no hole a name could fall in).
    for model in ("gemini-pro-vision", "gemini-1.5-pro", "gemini-2.0-flash", "gemini-2.5-flash"):
        for backend in BACKENDS:
            assert not resolve_model(model, backend).assumed


# --- properties --------------------------------------------------------------------------

MODELS = [
    ("gemini-pro-vision", "gemini-api"),
    ("gemini-1.5-pro", "vertex-ai"),
    ("gemini-2.0-flash", "gemini-api"),
    ("gemini-2.0-flash", "vertex-ai"),
    ("gemini-2.5-flash", "gemini-api"),
    ("gemini-2.5-flash", "vertex-ai"),
    ("gemini-3-flash-preview", "gemini-api"),
    ("gemini-3-pro-image-preview", "gemini-api"),
]
sides = st.integers(1, 200_000)
sizes_strategy = st.lists(st.tuples(sides, sides), min_size=1, max_size=6)
levels = st.sampled_from([None, "low", "medium", "high", "ultra_high"])


@settings(max_examples=300)
@given(sizes_strategy, st.sampled_from(MODELS), levels)
def test_every_image_costs_a_positive_whole_number(
    sizes: list[tuple[int, int]], model: tuple[str, str], level: str | None
) -> None:
    """Each priced image costs a positive int, the total is their sum; a refused level is an input error."""
    try:
        price = price_request(sizes, model[0], backend=model[1], media_resolution=level)
    except InvalidArgumentError as exc:
        refused = str(exc)
    else:
        refused = ""
    if refused:
        assert level == "ultra_high"
        assert "media_resolution" in refused
        return
    assert all(isinstance(t, int) and t >= 1 for t in price.per_image)
    assert price.total == sum(price.per_image)
    assert len(price.images) == len(sizes)


@settings(max_examples=500)
@given(sides, sides, st.sampled_from([*GEMINI_3_BUDGETS.values(), 1, 2, 7, 10_000]))
def test_grid_within_budget_and_symmetric(width: int, height: int, budget: int) -> None:
    """The grid never exceeds its budget, is at least one cell, and is the same turned a quarter."""
    tokens = grid_tokens(width, height, budget)
    assert 1 <= tokens <= budget
    assert grid_tokens(height, width, budget) == tokens


def _reference_grid_side(budget: int, numerator: int, denominator: int) -> int:
    """floor(sqrt(budget * numerator / denominator)) in 80-digit decimals."""
    with localcontext() as ctx:
        ctx.prec = 80
        root = (Decimal(budget) * numerator / denominator).sqrt()
        return int(root.to_integral_value(rounding=ROUND_FLOOR))


@settings(max_examples=500)
@given(sides, sides, st.sampled_from(list(GEMINI_3_BUDGETS.values())))
def test_grid_agrees_with_high_precision_reference(width: int, height: int, budget: int) -> None:
    """The integer grid equals floor(sqrt(B*r)) * floor(sqrt(B/r)) computed in 80-digit decimals."""
    across = _reference_grid_side(budget, width, height)
    down = _reference_grid_side(budget, height, width)
    expected = min(budget, max(across, 1) * max(down, 1))
    assert grid_tokens(width, height, budget) == expected


@settings(max_examples=500)
@given(sides, sides)
def test_tiles_agree_with_exact_fractions(width: int, height: int) -> None:
    """Tile counts equal ceil(w / t) * ceil(h / t) with t = min(w, h) / 1.5 clamped, in exact fractions."""
    rule = RULES["Gemini 2.0"]
    assert isinstance(rule, TileRule)
    if width <= 384 and height <= 384:
        expected = 1
    else:
        side = min(Fraction(768), max(Fraction(256), Fraction(min(width, height)) / Fraction(3, 2)))
        expected = math.ceil(width / side) * math.ceil(height / side) + 1
    assert rule.tile_count(width, height) == expected
    assert price_request([(width, height)], "gemini-2.0-flash").total == expected * 258


@settings(max_examples=300)
@given(st.integers(1, 3000), st.integers(1, 3000), st.integers(2, 40), st.sampled_from(MODELS))
def test_size_matters_only_where_the_family_says_so(
    width: int, height: int, scale: int, model: tuple[str, str]
) -> None:
    """Where a family ignores size, the same image scaled up costs the same; where not, never less."""
    small = estimate_image_tokens(width, height, model[0], backend=model[1])
    large = estimate_image_tokens(width * scale, height * scale, model[0], backend=model[1])
    if size_affects_tokens(*model):
        assert large >= small
    else:
        assert large == small


def test_grid_rule_is_a_token_rule() -> None:
    """GridRule can be registered like the other shapes, with its own budgets."""
    rule = GridRule("half budgets", budgets={"high": 560})
    assert rule.cost(128, 128) == (1, 23 * 23)
    with pytest.raises(InvalidArgumentError, match="'high'"):
        rule.cost(128, 128, "low")
