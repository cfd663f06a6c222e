"""Token estimates: the documented rules per family, name resolution, overrides, messages."""

from __future__ import annotations

import base64
import socket
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

from openai_gemini_vision import (
    BlockedURLError,
    CorruptImageError,
    GeminiVisionError,
    ImageError,
    ImagePolicy,
    prepare_messages,
)
from openai_gemini_vision.request.messages import copy_messages, image_slots, text_of
from openai_gemini_vision.tokens import (
    CHARS_PER_TOKEN,
    RULES,
    ModelFamilyAssumedWarning,
    PerImageRule,
    TileRule,
    estimate_image_tokens,
    estimate_text_tokens,
    estimate_tokens,
    register_rule,
    resolve_model,
    unregister_rule,
)

from .chat_strategies import documented, requests, snapshot
from .imaging import data_url, encode, image_bytes, photo

# (width, height, model, media_resolution, tokens) of one image alone in a request, each
# worked out by hand from the rules real bills fit (GEMINI_FACTS.md, "Image tokens: what
# Gemini really bills") and https://ai.google.dev/gemini-api/docs/tokens. The recorded
# bills themselves are checked in test_token_rules.py.
RULE_TABLE = [
    # Gemini 1.0 Pro Vision: 258 per image, whatever the size.
    (1, 1, "gemini-pro-vision", None, 258),
    (4000, 3000, "gemini-1.0-pro-vision-latest", None, 258),
    (10_000, 1, "gemini-pro-vision", None, 258),
    # Gemini 1.5: <= 384 both sides -> 258; else tile = min/1.5 clamped to [256, 768].
    (1, 1, "gemini-1.5-flash", None, 258),
    (384, 384, "gemini-1.5-pro", None, 258),
    (385, 385, "gemini-1.5-pro", None, 4 * 258),  # tile 256.67: 2 x 2
    (385, 100, "gemini-1.5-flash", None, 2 * 258),  # 100/1.5 -> clamped up to 256: 2 x 1
    (1000, 300, "gemini-1.5-pro", None, 8 * 258),  # 200 -> 256: 4 x 2
    (1000, 384, "gemini-1.5-pro", None, 8 * 258),  # exactly 256: 4 x 2
    (1000, 600, "gemini-1.5-pro", None, 6 * 258),  # tile 400, unclamped: 3 x 2
    (2000, 1000, "gemini-1.5-pro-002", None, 6 * 258),  # tile 666.67: 3 x 2 (floats say 4 x 2)
    (769, 769, "gemini-1.5-flash", None, 4 * 258),  # tile 512.67: 2 x 2
    (1152, 1152, "gemini-1.5-pro", None, 4 * 258),  # tile exactly 768: 2 x 2
    (3000, 2000, "gemini-1.5-pro", None, 12 * 258),  # 1333 -> clamped down to 768: 4 x 3
    (10_000, 10, "gemini-1.5-flash", None, 40 * 258),  # very wide: 256 px tiles, 40 x 1
    (10, 10_000, "gemini-1.5-flash", None, 40 * 258),  # very tall
    # Gemini 2.0, a lone image: <= 384 both sides -> 258; else 1.5-style tiles plus one.
    (1, 1, "gemini-2.0-flash", None, 258),
    (384, 384, "gemini-2.0-flash", None, 258),
    (385, 384, "gemini-2.0-flash", None, 5 * 258),  # tile 256: 2 x 2 + 1
    (384, 385, "gemini-2.0-flash-lite", None, 5 * 258),
    (768, 768, "gemini-2.0-flash", None, 5 * 258),  # tile 512: 2 x 2 + 1
    (1536, 1536, "gemini-2.0-flash", None, 5 * 258),  # tile 768: 2 x 2 + 1
    (1537, 1536, "gemini-2.0-flash", None, 7 * 258),  # 3 x 2 + 1
    (4000, 3000, "gemini-2.0-flash", None, 25 * 258),  # 6 x 4 + 1
    (10_000, 1, "gemini-2.0-flash", None, 41 * 258),  # very wide: 256 px tiles, 40 x 1 + 1
    (1, 10_000, "gemini-2.0-flash", None, 41 * 258),  # very tall
    # Gemini 2.5 on the Gemini API: 258 whatever the size.
    (384, 384, "gemini-2.5-flash", None, 258),
    (769, 769, "gemini-2.5-pro", None, 258),
    (3000, 4000, "gemini-2.5-flash", None, 258),
    # The request-wide media resolution before Gemini 3: LOW 64, MEDIUM 256, HIGH = size rule.
    (4000, 3000, "gemini-2.0-flash", "low", 64),
    (4000, 3000, "gemini-2.5-flash", "medium", 256),
    (4000, 3000, "gemini-2.5-flash", "high", 258),
    (4000, 3000, "gemini-2.0-flash", "high", 25 * 258),
    # Gemini 3: a grid of at most the budget keeping the aspect ratio, whatever the size.
    (1, 1, "gemini-3-pro-preview", None, 33 * 33),
    (4000, 3000, "gemini-3-flash-preview", None, 38 * 28),  # sqrt(1120*4/3), sqrt(1120*3/4)
    (4000, 3000, "gemini-3-pro-preview", "low", 19 * 14),  # budget 280
    (4000, 3000, "gemini-3.1-pro-preview", "medium", 27 * 20),  # budget 560
    (4000, 3000, "gemini-3-pro-preview", "high", 38 * 28),
    (10_000, 1, "gemini-3-pro-preview", "ultra_high", 2240),  # one row, capped at the budget
]


@pytest.mark.parametrize(("width", "height", "model", "resolution", "expected"), RULE_TABLE)
def test_rule_table(
    width: int, height: int, model: str, resolution: str | None, expected: int
) -> None:
    """Each documented rule gives the hand-computed token count at its edges and extremes."""
    assert estimate_image_tokens(width, height, model, media_resolution=resolution) == expected


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("gemini-2.0-flash", "Gemini 2.0"),
        ("models/gemini-1.5-pro-002", "Gemini 1.5"),
        ("gemini-2.5-flash-lite-preview-06-17", "Gemini 2.5"),
        ("gemini-3-pro-preview", "Gemini 3"),
        ("gemini-3.1-pro-preview", "Gemini 3"),
        ("google/gemini-2.0-flash-001", "Gemini 2.0"),
        (
            "projects/p/locations/us-central1/publishers/google/models/gemini-1.5-flash-002",
            "Gemini 1.5",
        ),
        ("gemini-1.0-pro-vision@001", "Gemini 1.0 Pro Vision"),
        ("gemini-pro-vision", "Gemini 1.0 Pro Vision"),
        ("  Models/GEMINI-2.5-PRO  ", "Gemini 2.5"),
        ("gemini-1.5-flash-latest", "Gemini 1.5"),
    ],
)
def test_names_resolve_to_their_family(model: str, family: str) -> None:
    """A model name resolves to its family however it is written, without being flagged."""
    resolved = resolve_model(model)
    assert resolved.rule.family == family
    assert not resolved.assumed
    assert resolved.note == ""


@pytest.mark.parametrize(
    "model",
    ["gemini-4.2-flash", "gemini-4-pro", "gemini-flash-latest", "gpt-4o", ""],
)
def test_unknown_and_newer_names_use_newest_family_flagged(model: str) -> None:
    """Newer, aliased or unknown names get the newest known family and say so, never a crash."""
    resolved = resolve_model(model)
    assert resolved.assumed
    assert resolved.rule is RULES["Gemini 3"]
    assert "register_rule" in resolved.note
    with pytest.warns(ModelFamilyAssumedWarning, match="Gemini 3 rule"):
        assert estimate_image_tokens(4000, 3000, model) == 38 * 28


def test_known_model_does_not_warn() -> None:
    """Pricing a known model raises no warning at all."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert estimate_image_tokens(800, 600, "gemini-2.0-flash") == 5 * 258


def test_estimate_flags_assumed_family_without_warning() -> None:
    """estimate_tokens reports an assumed family on its result instead of warning."""
    estimate = estimate_tokens([{"role": "user", "content": "hi"}], "gemini-4.2-flash")
    assert estimate.assumed_family
    assert estimate.family == "Gemini 3"
    assert any("gemini-4.2-flash" in note for note in estimate.notes)


@pytest.fixture
def clean_rules() -> Iterator[list[str]]:
    """Patterns registered by a test, removed afterwards."""
    patterns: list[str] = []
    yield patterns
    for pattern in patterns:
        unregister_rule(pattern)


def test_register_rule_overrides_builtin(clean_rules: list[str]) -> None:
    """A registered rule prices matching models; others keep the built-in rule."""
    register_rule("gemini-2.5-*", PerImageRule("Gemini 2.5 (measured)", 300))
    clean_rules.append("gemini-2.5-*")
    assert estimate_image_tokens(4000, 3000, "models/gemini-2.5-flash") == 300
    assert estimate_image_tokens(4000, 3000, "gemini-2.0-flash") == 25 * 258
    assert resolve_model("gemini-2.5-pro").rule.family == "Gemini 2.5 (measured)"


def test_register_rule_adds_unknown_model_unflagged(clean_rules: list[str]) -> None:
    """A rule for a name the table lacks prices it without the assumed-family flag."""
    register_rule("my-tuned-vision-*", TileRule("tuned", tile_side=512, tokens_per_tile=100))
    clean_rules.append("my-tuned-vision-*")
    estimate = estimate_tokens(
        [{"role": "user", "content": [Image.new("RGB", (1024, 512))]}], "my-tuned-vision-001"
    )
    assert not estimate.assumed_family
    assert estimate.family == "tuned"
    assert estimate.per_image == [2 * 100]


def test_later_registration_wins_and_unregister_restores(clean_rules: list[str]) -> None:
    """The latest registration wins; removing it brings back the earlier rule."""
    register_rule("gemini-2.0-*", PerImageRule("first", 1))
    register_rule("gemini-2.0-flash*", PerImageRule("second", 2))
    clean_rules.append("gemini-2.0-*")
    assert estimate_image_tokens(10, 10, "gemini-2.0-flash") == 2
    unregister_rule("gemini-2.0-flash*")
    assert estimate_image_tokens(10, 10, "gemini-2.0-flash") == 1


def test_register_rule_rejects_bad_input() -> None:
    """A rule without a cost method, an empty pattern or an unknown unregister say what is wrong."""
    with pytest.raises(TypeError, match="cost"):
        register_rule("gemini-*", 258)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-empty glob"):
        register_rule(" ", PerImageRule("x", 1))
    with pytest.raises(KeyError, match="No rule is registered"):
        unregister_rule("never-registered-*")


@pytest.mark.parametrize("spelling", ["LOW", "media_resolution_low", "MEDIA_RESOLUTION_LOW", "low"])
def test_media_resolution_spellings(spelling: str) -> None:
    """The API's enum names and plain words both select a media resolution."""
    assert estimate_image_tokens(100, 100, "gemini-3-pro-preview", media_resolution=spelling) == 256


def test_media_resolution_errors_name_valid_values() -> None:
    """A misspelt resolution, or one the family lacks, lists the values that work."""
    with pytest.raises(ValueError, match="'low', 'medium', 'high', 'ultra_high'"):
        estimate_image_tokens(100, 100, "gemini-3-pro-preview", media_resolution="huge")
    with pytest.raises(ValueError, match=r"Gemini 3 or later only.*'low', 'medium', 'high'"):
        estimate_image_tokens(100, 100, "gemini-2.0-flash", media_resolution="ultra_high")


def test_nonpositive_size_is_an_error() -> None:
    """A zero-pixel side is refused with the valid range named."""
    with pytest.raises(ValueError, match="at least 1 pixel"):
        estimate_image_tokens(0, 100, "gemini-2.0-flash")


def _flat(fmt: str, width: int, height: int) -> bytes:
    """A one-colour image: large sizes encode fast, and sizing never looks at pixels."""
    return encode(Image.new("RGB", (width, height), (200, 120, 40)), fmt)


def _user(*parts: Any) -> list[dict[str, Any]]:
    return [{"role": "user", "content": list(parts)}]


def _image_part(url: str, detail: str | None = None) -> dict[str, Any]:
    image_url: dict[str, Any] = {"url": url}
    if detail is not None:
        image_url["detail"] = detail
    return {"type": "image_url", "image_url": image_url}


def test_estimate_data_url_and_text() -> None:
    """A data-URL image is priced at its size and text at about 4 characters a token."""
    text = "x" * 41
    messages = _user({"type": "text", "text": text}, _image_part(data_url(_flat("PNG", 800, 600))))
    estimate = estimate_tokens(messages, "gemini-2.0-flash")
    assert estimate.per_image == [5 * 258]
    assert estimate.image_tokens == 5 * 258
    assert estimate.text_tokens == -(-len(text) // CHARS_PER_TOKEN) == 11
    assert estimate.total_tokens == 5 * 258 + 11
    assert estimate.text_is_approximate
    assert estimate.images[0].format == "PNG"
    assert estimate.images[0].size == (800, 600)


def test_estimate_raw_objects_in_content_list(tmp_path: Path) -> None:
    """PIL images, bytes and Paths sitting in a content list are priced like data URLs."""
    path = tmp_path / "wide.jpg"
    path.write_bytes(_flat("JPEG", 1600, 400))
    messages = _user(
        "Compare these:", Image.new("RGB", (800, 600)), image_bytes("WEBP", 100, 100), path
    )
    estimate = estimate_tokens(messages, "gemini-1.5-pro")
    assert estimate.per_image == [4 * 258, 258, 12 * 258]
    assert [image.source for image in estimate.images] == ["PIL image", "bytes", str(path)]
    assert estimate.text_tokens == 4  # "Compare these:" is 14 characters


def test_detail_low_shrinks_tokens() -> None:
    """detail "low" (policy or part) prices the image at its 384 px downscale; a part's own detail wins."""
    url = data_url(_flat("JPEG", 1600, 1200), "image/jpeg")
    full = estimate_tokens(_user(_image_part(url)), "gemini-2.0-flash")
    low_part = estimate_tokens(_user(_image_part(url, "low")), "gemini-2.0-flash")
    low_policy = estimate_tokens(
        _user(_image_part(url)), "gemini-2.0-flash", policy=ImagePolicy(detail="low")
    )
    part_wins = estimate_tokens(
        _user(_image_part(url, "high")), "gemini-2.0-flash", policy=ImagePolicy(detail="low")
    )
    assert full.per_image == [7 * 258]
    assert low_part.per_image == low_policy.per_image == [258]
    assert low_part.images[0].size == (384, 288)
    assert part_wins.per_image == [7 * 258]


def test_detail_low_leaves_gemini_3_figure() -> None:
    """On Gemini 3 the figure depends on aspect ratio and media resolution, not size: detail "low" keeps it."""
    url = data_url(_flat("JPEG", 1600, 1200), "image/jpeg")
    full = estimate_tokens(_user(_image_part(url)), "gemini-3-pro-preview")
    estimate = estimate_tokens(_user(_image_part(url, "low")), "gemini-3-pro-preview")
    assert estimate.images[0].size == (384, 288)
    assert estimate.per_image == full.per_image == [38 * 28]
    low = estimate_tokens(_user(_image_part(url)), "gemini-3-pro-preview", media_resolution="low")
    assert low.per_image == [19 * 14]
    assert low.media_resolution == "low"


def test_orientation_swaps_sides() -> None:
    """An EXIF quarter turn is priced at the upright size; fix_orientation=False keeps the stored one."""
    data = encode(photo(900, 300), "JPEG", orientation=6)
    upright = estimate_tokens(_user(data), "gemini-2.0-flash")
    stored = estimate_tokens(
        _user(data), "gemini-2.0-flash", policy=ImagePolicy(fix_orientation=False)
    )
    assert upright.images[0].original_size == (900, 300)
    assert upright.images[0].size == (300, 900)
    assert stored.images[0].size == (900, 300)
    low = estimate_tokens(_user(data), "gemini-2.0-flash", policy=ImagePolicy(detail="low"))
    assert low.images[0].size == (128, 384)


def test_http_urls_are_not_fetched_but_flagged(monkeypatch: pytest.MonkeyPatch) -> None:
    """An http(s) image is counted as unsized and noted, with no connection attempted."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("estimate_tokens tried to open a connection")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    url = "https://images.example.com/cat.jpg?signature=s3cret"
    estimate = estimate_tokens(_user(_image_part(url), photo(10, 10)), "gemini-2.0-flash")
    assert estimate.unsized_images == 1
    assert estimate.per_image == [0, 258]
    assert estimate.images[0].source == "https://images.example.com/cat.jpg"
    assert any("1 image(s) given as URLs are not counted" in note for note in estimate.notes)


def test_string_paths_need_allow_local_files(tmp_path: Path) -> None:
    """A path string in message JSON is refused unless the policy allows local files."""
    path = tmp_path / "a.png"
    path.write_bytes(_flat("PNG", 500, 500))
    with pytest.raises(BlockedURLError, match="allow_local_files=True"):
        estimate_tokens(_user(_image_part(str(path))), "gemini-2.0-flash")
    allowed = ImagePolicy(allow_local_files=True)
    for url in (str(path), path.as_uri()):
        estimate = estimate_tokens(_user(_image_part(url)), "gemini-2.0-flash", policy=allowed)
        assert estimate.images[0].size == (500, 500)


def test_other_schemes_are_refused_like_sending() -> None:
    """gs:// URLs and file URLs naming another host are refused before anything is read."""
    allowed = ImagePolicy(allow_local_files=True)
    with pytest.raises(BlockedURLError, match="gs: URL"):
        estimate_tokens(
            _user(_image_part("gs://bucket/cat.jpg")), "gemini-2.0-flash", policy=allowed
        )
    with pytest.raises(BlockedURLError, match="another host"):
        estimate_tokens(
            _user(_image_part("file://server/cat.jpg")), "gemini-2.0-flash", policy=allowed
        )


def test_wrapped_base64_data_url_is_sized() -> None:
    """A data URL whose base64 is wrapped in lines (as MIME encoders write it) is still sized."""
    data = _flat("PNG", 1000, 800) + b"\0" * 200_000  # long enough to need the prefix read
    url = "data:image/png;base64," + base64.encodebytes(data).decode()
    assert estimate_tokens(_user(_image_part(url)), "gemini-2.0-flash").images[0].size == (
        1000,
        800,
    )


def test_large_header_falls_back_to_whole_read(tmp_path: Path) -> None:
    """A JPEG whose metadata outgrows the header prefix is still sized, from file or data URL."""
    data = encode(Image.new("RGB", (900, 700)), "JPEG", icc_profile=b"\0" * 200_000)
    path = tmp_path / "icc.jpg"
    path.write_bytes(data)
    url = data_url(data, "image/jpeg")
    estimate = estimate_tokens(_user(path, _image_part(url)), "gemini-2.0-flash")
    assert [image.size for image in estimate.images] == [(900, 700), (900, 700)]


def test_never_decodes_pixels(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Estimating JPEG, PNG and WebP images reads headers only: no pixel is ever decoded."""

    def no_decode(self: ImageFile.ImageFile) -> None:
        raise AssertionError("an image was decoded")

    path = tmp_path / "p.png"
    path.write_bytes(_flat("PNG", 2000, 1000))
    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decode)
    messages = _user(
        _image_part(data_url(_flat("JPEG", 2000, 1000), "image/jpeg")),
        path,
        _flat("WEBP", 2000, 1000),
    )
    assert estimate_tokens(messages, "gemini-1.5-pro").per_image == [6 * 258] * 3


def test_corrupt_data_url_raises_typed_error() -> None:
    """A data URL that is not an image raises CorruptImageError, not a Pillow error."""
    with pytest.raises(CorruptImageError):
        estimate_tokens(_user(_image_part(data_url(b"not an image"))), "gemini-2.0-flash")


def test_prepared_images_are_priced_at_their_sizes_and_text_is_counted() -> None:
    """A prepared request's estimate prices its images as sent, and counts its text."""
    messages = [{"role": "user", "content": [{"type": "text", "text": "abcdefgh"}]}]
    messages[0]["content"] += [image_bytes("PNG", 384, 384), image_bytes("PNG", 1000, 1000)]
    estimate = prepare_messages(messages, model="gemini-1.5-pro").estimate
    assert estimate.per_image == [258, 4 * 258]
    assert estimate.text_tokens == 2
    assert estimate.total_tokens == 5 * 258 + 2
    assert estimate.family == "Gemini 1.5"


def test_caveats_are_noted() -> None:
    """Rows Google has not confirmed carry their caveat into the estimate's notes."""
    messages = _user(photo(10, 10))
    assert any("small image" in n for n in estimate_tokens(messages, "gemini-1.5-flash").notes)
    assert any(
        "one recording" in n for n in estimate_tokens(messages, "gemini-3-pro-image-preview").notes
    )
    assert estimate_tokens(messages, "gemini-2.0-flash").notes == []
    assert estimate_tokens(messages, "gemini-2.5-flash").notes == []


@pytest.mark.parametrize("url", [None, 5, ["data:image/png;base64,"], {"href": "x"}])
def test_a_url_that_is_not_a_string_is_an_image_error(url: Any) -> None:
    """An image_url.url of another type is an ImageError naming its place, as when sending."""
    with pytest.raises(ImageError, match=r"messages\[0\]\.content\[0\]: image_url\.url is a"):
        estimate_tokens(_user({"type": "image_url", "image_url": {"url": url}}), "gemini-2.0-flash")


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("photo.png", BlockedURLError),
        ("ftp://example.com/a.png", BlockedURLError),
        ("data:image/png;base64,@@@@", CorruptImageError),
    ],
)
def test_estimate_errors_name_the_place_as_sending_does(url: str, error: type[Exception]) -> None:
    """Every refusal from an estimate starts with where the image sits, as prepare_messages does."""
    messages = _user("look", {"type": "image_url", "image_url": {"url": url}})
    with pytest.raises(error, match=r"^messages\[0\]\.content\[1\] \(") as estimated:
        estimate_tokens(messages, "gemini-2.0-flash")
    with pytest.raises(error) as sent:
        prepare_messages(messages)
    assert str(estimated.value) == str(sent.value)


# --- properties ---------------------------------------------------------------------

MODELS = [
    "gemini-pro-vision",
    "gemini-1.5-pro",
    "gemini-2.0-flash",
    "gemini-2.5-flash",
    "gemini-3-pro-preview",
]


@settings(max_examples=200, deadline=None)
@given(requests, st.sampled_from([*MODELS, "not-a-known-model"]))
def test_estimate_gives_figures_or_a_documented_error(
    given_messages: list[Any], model: str
) -> None:
    """estimate_tokens adds up per image and text, or raises a GeminiVisionError or documented TypeError; input untouched."""
    before = snapshot(given_messages)
    try:
        estimate = estimate_tokens(given_messages, model)
    except (GeminiVisionError, TypeError) as exc:
        if not documented(exc):
            raise
    else:
        copied = copy_messages(given_messages)
        assert len(estimate.per_image) == len(list(image_slots(copied)))
        assert estimate.image_tokens == sum(estimate.per_image)
        assert estimate.text_tokens == estimate_text_tokens(text_of(copied))
        assert estimate.total_tokens == estimate.image_tokens + estimate.text_tokens
    assert given_messages == before


@settings(max_examples=150, deadline=None)
@given(requests)
def test_estimate_agrees_with_what_prepare_sends(given_messages: list[Any]) -> None:
    """Where both succeed, the estimate sizes and prices each image as prepare_messages sends it."""
    try:
        estimate = estimate_tokens(given_messages, "gemini-2.0-flash")
        prepared = prepare_messages(given_messages, model="gemini-2.0-flash")
    except (GeminiVisionError, TypeError) as exc:
        if not documented(exc):
            raise
        return
    assert [image.size for image in estimate.images] == [
        (image.width, image.height) for image in prepared.images
    ]
    assert estimate.total_tokens == prepared.estimate.total_tokens


@settings(max_examples=300)
@given(
    st.integers(1, 100_000),
    st.integers(1, 100_000),
    st.sampled_from(MODELS),
    st.sampled_from([None, "low", "medium", "high", "ultra_high", "MEDIA_RESOLUTION_LOW"]),
)
def test_image_figures_are_positive_symmetric_and_agree(
    width: int, height: int, model: str, resolution: str | None
) -> None:
    """A figure is a positive int, the same for the image turned a quarter, or a ValueError naming media_resolution."""
    try:
        tokens = estimate_image_tokens(width, height, model, media_resolution=resolution)
    except ValueError as exc:
        refused = str(exc)
    else:
        refused = ""
    if refused:
        assert "media_resolution" in refused
        assert resolution is not None
        return
    assert isinstance(tokens, int)
    assert tokens >= 1
    assert estimate_image_tokens(height, width, model, media_resolution=resolution) == tokens


def test_a_request_is_priced_as_a_whole_on_gemini_2_0() -> None:
    """One large image costs its tiles plus one; with a second image each costs 258."""
    large, small = image_bytes("PNG", 540, 360), image_bytes("PNG", 275, 183)
    alone = estimate_tokens(_user(large), "gemini-2.0-flash")
    together = estimate_tokens(_user(small, large), "gemini-2.0-flash")
    assert alone.per_image == [1806]
    assert together.per_image == [258, 258]
    assert prepare_messages(_user(small, large), model="gemini-2.0-flash").estimate.per_image == [
        258,
        258,
    ]


def test_the_backend_changes_what_gemini_2_5_bills() -> None:
    """700x1003 costs 258 on the Gemini API and 1,806 on Vertex AI (python-genai#1907)."""
    messages = _user(image_bytes("PNG", 700, 1003))
    api = estimate_tokens(messages, "gemini-2.5-flash")
    vertex = estimate_tokens(messages, "gemini-2.5-flash", backend="vertex-ai")
    assert (api.backend, api.per_image) == ("gemini-api", [258])
    assert (vertex.backend, vertex.per_image) == ("vertex-ai", [1806])
    with pytest.raises(ValueError, match="gemini-api"):
        estimate_tokens(messages, "gemini-2.5-flash", backend="azure")
