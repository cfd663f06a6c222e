"""Detection: reading Gemini's boxes from real-world replies, mapping them to the caller's
pixels through downscale and orientation, drawing them, and `detect` against cassettes."""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
import warnings

import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from openai_gemini_vision import (
    GEMINI_BASE_URL,
    AsyncOpenAI,
    Detection,
    DetectionParseError,
    DetectionWarning,
    GeminiVisionError,
    OpenAI,
    adetect,
    detect,
    draw_detections,
    load_image,
    parse_detections,
)
from openai_gemini_vision.detection import (
    DEFAULT_DETECTION_PROMPT,
    DETECTION_MODEL,
    DETECTION_SCHEMA,
    box_to_pixels,
    upright_size,
)
from openai_gemini_vision.detection.draw import PALETTE, colours_for, contrast_ratio, text_colour
from openai_gemini_vision.images.blob import parse_data_url

from .imaging import encode, exif_with_broken_tag, photo
from .paths import EXAMPLE
from .wiretap import SentBodies

CAT = {"box_2d": [100, 200, 300, 400], "label": "cat"}
DOG = {"box_2d": [500, 600, 700, 800], "label": "dog"}
TWO = [("cat", (100, 200, 300, 400)), ("dog", (500, 600, 700, 800))]

# --- parsing: shapes models really answer in ------------------------------------------

SHAPES = {
    "bare list": json.dumps([CAT, DOG]),
    "json fence with prose": (
        "Here are the objects I found:\n```json\n"
        + json.dumps([CAT, DOG], indent=2)
        + "\n```\nLet me know if you need anything else."
    ),
    "fence without language": f"```\n{json.dumps([CAT, DOG])}\n```",
    "objects wrapper": json.dumps({"objects": [CAT, DOG]}),
    "detections wrapper": json.dumps({"detections": [CAT, DOG], "count": 2}),
    "boxes wrapper in a fence": f"```json\n{json.dumps({'boxes': [CAT, DOG]})}\n```",
    "prose around bare JSON": f"Sure! {json.dumps([CAT, DOG])} Those are all [2] objects.",
    "single quotes and trailing commas": (
        "[{'box_2d': [100, 200, 300, 400], 'label': 'cat',},\n"
        " {'box_2d': [500, 600, 700, 800], 'label': 'dog',},]"
    ),
    "floats and numeric strings": json.dumps(
        [
            {"box_2d": [100.0, 199.8, "300", " 400.2"], "label": "cat"},
            {"box_2d": ["500", "600", "700", "800"], "label": "dog"},
        ]
    ),
    "name and object keys": json.dumps(
        [{"box_2d": CAT["box_2d"], "name": "cat"}, {"box_2d": DOG["box_2d"], "object": "dog"}]
    ),
    "labels as keys": json.dumps({"cat": CAT["box_2d"], "dog": DOG["box_2d"]}),
    "box as a string": json.dumps(
        [
            {"box_2d": "[100, 200, 300, 400]", "label": "cat"},
            {"box_2d": "500,600,700,800", "label": "dog"},
        ]
    ),
    "extra keys and nesting": json.dumps(
        {"result": {"items": [{**CAT, "confidence": 0.9}, {**DOG, "mask": None}]}}
    ),
    "fence after a thinking preamble with brackets": (
        "I looked at [the image] carefully.\n```json\n" + json.dumps([CAT, DOG]) + "\n```"
    ),
}


@pytest.mark.parametrize("text", SHAPES.values(), ids=SHAPES.keys())
def test_real_world_reply_shapes_are_read(text: str) -> None:
    """Each shape of reply models give yields the same two labelled boxes."""
    found = parse_detections(text, (1000, 1000))
    assert [(d.label, d.box_2d) for d in found] == TWO
    # On a 1000x1000 image one grid step is one pixel: (left, top, right, bottom).
    assert [d.box_px for d in found] == [(200, 100, 400, 300), (600, 500, 800, 700)]


def test_single_object_instead_of_a_list_is_one_detection() -> None:
    """A reply holding one bare detection object yields that detection."""
    (found,) = parse_detections(json.dumps(CAT), (1000, 1000))
    assert found.label == "cat"
    assert found.box_2d == (100, 200, 300, 400)


def test_box_px_maps_x_to_width_and_y_to_height() -> None:
    """box_2d is [ymin, xmin, ymax, xmax]: x scales by the width and y by the height."""
    (found,) = parse_detections(json.dumps([CAT]), (2000, 500))
    assert found.box_px == (400, 50, 800, 150)


def test_malformed_entries_are_skipped_with_a_warning_and_the_rest_kept() -> None:
    """Wrong-length, non-numeric, missing or boolean boxes are skipped, each with a warning."""
    text = json.dumps(
        [
            CAT,
            {"box_2d": [1, 2, 3], "label": "short"},
            {"box_2d": [1, 2, "three", 4], "label": "word"},
            {"label": "no box"},
            {"box_2d": [True, 2, 3, 4], "label": "bool"},
            DOG,
        ]
    )
    with pytest.warns(DetectionWarning) as caught:
        found = parse_detections(text, (1000, 1000))
    assert [(d.label, d.box_2d) for d in found] == TWO
    messages = [str(w.message) for w in caught]
    assert len(messages) == 4
    assert "entry 2 of 6" in messages[0]
    assert "has 3 values, not 4" in messages[0]
    assert "other than numbers" in messages[1]
    assert "[ymin, xmin, ymax, xmax]" in messages[2]


def test_a_coordinate_too_large_for_a_float_is_skipped_not_a_crash() -> None:
    """A box holding a 400-digit number is skipped with a warning; the other boxes are kept."""
    text = json.dumps([CAT, DOG])[:-1] + ', {"box_2d": [1, 2, 3, ' + "9" * 400 + '], "label": "x"}]'
    with pytest.warns(DetectionWarning, match="other than numbers"):
        found = parse_detections(text, (1000, 1000))
    assert [(d.label, d.box_2d) for d in found] == TWO


def test_reply_cut_off_mid_list_keeps_complete_entries_and_says_so() -> None:
    """A reply stopped by the token limit keeps its whole entries and warns about the rest."""
    text = "```json\n" + json.dumps([CAT, DOG])[:-30]
    with pytest.warns(DetectionWarning, match="cut off after 1 entry.*max_tokens"):
        found = parse_detections(text, (1000, 1000))
    assert [d.label for d in found] == ["cat"]


def test_swapped_corners_are_put_in_order() -> None:
    """ymin > ymax or xmin > xmax is read as the same box with its corners swapped."""
    (found,) = parse_detections(
        json.dumps([{"box_2d": [300, 400, 100, 200], "label": "x"}]), (1000, 1000)
    )
    assert found.box_2d == (100, 200, 300, 400)
    assert found.box_px == (200, 100, 400, 300)


def test_values_are_clamped_to_the_grid_and_the_image() -> None:
    """Values outside 0..1000 are clamped, so box_px never leaves the image."""
    (found,) = parse_detections(
        json.dumps([{"box_2d": [-20, 950, 1012.5, 1400], "label": "edge"}]), (640, 480)
    )
    assert found.box_2d == (0, 950, 1000, 1000)
    assert found.box_px == (608, 0, 640, 480)


@pytest.mark.parametrize("text", ["[]", '{"objects": []}', "```json\n[]\n```"])
def test_no_objects_is_an_empty_list(text: str) -> None:
    """An empty list, bare or wrapped, means nothing was found: []."""
    assert parse_detections(text, (100, 100)) == []


def test_text_without_json_names_what_was_received_and_the_fix() -> None:
    """A reply with no JSON raises DetectionParseError quoting it (shortened) and the fix."""
    reply = "I'm sorry, I can't identify objects in this image. " * 20
    with pytest.raises(DetectionParseError) as info:
        parse_detections(reply, (100, 100))
    message = str(info.value)
    assert "holds no JSON" in message
    assert f"{len(reply):,} characters" in message
    assert "I'm sorry, I can't identify" in message
    assert len(message) < 600  # the reply is shortened, not repeated whole
    assert '"box_2d": [ymin, xmin, ymax, xmax]' in message
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, GeminiVisionError)


def test_json_without_detections_is_an_error() -> None:
    """JSON that holds no list of boxes (an answer, other keys) is refused, naming the keys."""
    with pytest.raises(DetectionParseError, match="no list of detections"):
        parse_detections('{"answer": "two cats"}', (100, 100))
    with pytest.raises(
        DetectionParseError, match=r"none has a 'box_2d' \(keys found: bbox, label\)"
    ):
        parse_detections('[{"bbox": [1, 2, 3, 4], "label": "cat"}]', (100, 100))


def test_a_response_object_instead_of_its_text_is_refused_with_the_fix() -> None:
    """Passing something other than the reply's text says where the text is."""
    with pytest.raises(DetectionParseError, match=r"message\.content"):
        parse_detections(None, (100, 100))


@pytest.mark.parametrize("size", [(0, 10), (10, -1), ("a", 3)])
def test_image_size_must_be_positive(size: tuple[int, int]) -> None:
    """A size that is not two positive pixel counts is refused with what to pass."""
    with pytest.raises(ValueError, match=r"image\.size"):
        parse_detections("[]", size)


# --- mapping to the caller's pixels ---------------------------------------------------


def test_grid_corners_are_image_corners() -> None:
    """The whole grid [0, 0, 1000, 1000] is the whole image."""
    assert box_to_pixels([0, 0, 1000, 1000], (1234, 567)) == (0, 0, 1234, 567)


def test_upright_size_swaps_for_quarter_turns() -> None:
    """A photo stored 60x40 with orientation 6 is 40x60 upright; boxes refer to that."""
    stored = encode(photo(60, 40), "JPEG", orientation=6)
    image = load_image(stored)
    assert (image.width, image.height) == (40, 60)
    assert upright_size(image) == (40, 60)


# exif_transpose turns a stored image upright with these; their inverses store one.
_STORE = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}
_BACKGROUND, _FOREGROUND = 64, 192  # mid greys: resampling ringing never clips


def _edges(profile: list[float]) -> tuple[float, float]:
    """Sub-pixel positions where a 0..1 coverage profile crosses one half (pixel edges)."""
    inside = [i for i, c in enumerate(profile) if c >= 0.5]
    first, last = inside[0], inside[-1]
    if first == 0:
        start = 0.0
    else:
        before, at = profile[first - 1], profile[first]
        start = first - 0.5 + (0.5 - before) / (at - before)
    if last == len(profile) - 1:
        end = float(len(profile))
    else:
        at, after = profile[last], profile[last + 1]
        end = last + 0.5 + (at - 0.5) / (at - after)
    return start, end


def _model_box(sent: Image.Image) -> list[int]:
    """The box_2d a perfect model returns: the rectangle located in the pixels it received."""
    grey = sent.convert("L")
    coarse = grey.point(lambda v: 255 if v >= (_BACKGROUND + _FOREGROUND) / 2 else 0).getbbox()
    assert coarse is not None
    mid_x, mid_y = (coarse[0] + coarse[2]) // 2, (coarse[1] + coarse[3]) // 2

    def coverage(v: int) -> float:
        return (v - _BACKGROUND) / (_FOREGROUND - _BACKGROUND)

    row = [coverage(grey.getpixel((x, mid_y))) for x in range(grey.width)]  # type: ignore[arg-type]
    col = [coverage(grey.getpixel((mid_x, y))) for y in range(grey.height)]  # type: ignore[arg-type]
    left, right = _edges(row)
    top, bottom = _edges(col)
    return [
        round(top / grey.height * 1000),
        round(left / grey.width * 1000),
        round(bottom / grey.height * 1000),
        round(right / grey.width * 1000),
    ]


@st.composite
def _scenes(draw: st.DrawFn) -> tuple[int, int, tuple[int, int, int, int], int, str]:
    width = draw(st.integers(40, 900), label="upright width")
    height = draw(st.integers(40, 900), label="upright height")
    detail = draw(st.sampled_from(["low", "high"]))
    # The rectangle spans at least 8 pixels of the image as sent, so its edges can be found.
    scale = max(width, height) / 384 if detail == "low" else 1.0
    least = math.ceil(8 * max(1.0, scale))
    left = draw(st.integers(0, width - least))
    right = draw(st.integers(left + least, width))
    top = draw(st.integers(0, height - least))
    bottom = draw(st.integers(top + least, height))
    orientation = draw(st.integers(1, 8))
    return width, height, (left, top, right, bottom), orientation, detail


@settings(max_examples=100, deadline=None)
@given(_scenes())
def test_box_comes_back_to_the_drawn_pixels_through_downscale_and_orientation(
    scene: tuple[int, int, tuple[int, int, int, int], int, str],
) -> None:
    """A rectangle drawn on the upright original, stored under any EXIF orientation and sent
    downscaled or not, maps back from the box a model sees to the drawn pixels within 1 px."""
    width, height, (left, top, right, bottom), orientation, detail = scene
    upright = Image.new("RGB", (width, height), (_BACKGROUND,) * 3)
    upright.paste((_FOREGROUND,) * 3, (left, top, right, bottom))
    method = _STORE[orientation]
    stored = upright if method is None else upright.transpose(method)
    data = encode(stored, "PNG", orientation=orientation)

    prepared = load_image(data, detail=detail)  # type: ignore[arg-type]
    if detail == "low":
        assert max(prepared.width, prepared.height) <= 384
    with Image.open(io.BytesIO(prepared.data)) as sent:
        box_2d = _model_box(sent)

    (found,) = parse_detections(
        json.dumps([{"box_2d": box_2d, "label": "r"}]), upright_size(prepared)
    )
    for got, drawn in zip(found.box_px, (left, top, right, bottom), strict=True):
        assert abs(got - drawn) <= 1, (found.box_px, (left, top, right, bottom), box_2d)


# --- drawing --------------------------------------------------------------------------


def _detection(label: str, box_px: tuple[int, int, int, int]) -> Detection:
    return Detection(label=label, box_2d=(0, 0, 0, 0), box_px=box_px)


@pytest.mark.parametrize("shade", [0, 255], ids=["dark", "light"])
def test_box_edges_are_drawn_in_the_label_colour(shade: int) -> None:
    """Each side of a box is drawn in its label's colour, on dark and light pictures alike."""
    image = Image.new("RGB", (200, 150), (shade,) * 3)
    box = (40, 60, 160, 130)
    out = draw_detections(image, [_detection("cat", box)])
    colour = colours_for(["cat"])["cat"]
    left, top, right, bottom = box
    middle_x, middle_y = (left + right) // 2, (top + bottom) // 2
    assert out.getpixel((left, middle_y)) == colour
    assert out.getpixel((right - 1, middle_y)) == colour
    assert out.getpixel((middle_x, top)) == colour
    assert out.getpixel((middle_x, bottom - 1)) == colour
    assert out.getpixel((middle_x, middle_y)) == (shade,) * 3  # the inside is left alone
    assert out.getpixel((right + 2, middle_y)) == (shade,) * 3


def test_label_is_written_above_the_box_in_a_contrasting_colour() -> None:
    """The label sits on a filled box of its colour, in black or white text, above the box."""
    image = Image.new("RGB", (300, 200), (255, 255, 255))
    out = draw_detections(image, [_detection("person", (50, 80, 250, 190))])
    fill = colours_for(["person"])["person"]
    strip = out.crop((50, 0, 250, 80))
    colours = {c for _, c in strip.getcolors(maxcolors=100_000) or []}
    assert fill in colours
    assert text_colour(fill) in colours


def test_text_colour_is_legible_on_every_palette_colour() -> None:
    """Label text meets WCAG AA contrast (4.5:1) on every colour of the palette."""
    for fill in PALETTE:
        assert contrast_ratio(fill, text_colour(fill)) >= 4.5, fill


def test_labels_get_distinct_colours_in_one_picture() -> None:
    """Different labels drawn together get different colours while the palette lasts."""
    labels = ["cat", "dog", "car", "tree", "person", "bicycle", "cup", "chair", "bus", "kite"]
    assert len(labels) == len(PALETTE)
    assert len(set(colours_for(labels).values())) == len(labels)


def test_a_label_keeps_its_colour_beside_other_labels() -> None:
    """A label gets the colour it has alone whenever no other label in the picture claims it."""
    labels = ["cat", "dog", "car", "tree", "person"]
    alone = {label: colours_for([label])[label] for label in labels}
    together = colours_for(labels)
    unique = [label for label in labels if list(alone.values()).count(alone[label]) == 1]
    assert unique
    for label in unique:
        assert together[label] == alone[label]


def test_a_label_has_the_same_colour_in_every_run() -> None:
    """Colours do not depend on Python's per-process string hashing: a new process agrees."""
    code = (
        "from openai_gemini_vision.detection.draw import colours_for;"
        "print(list(colours_for(['cat', 'dog', 'person']).values()))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(  # noqa: S603 - our own interpreter and a fixed snippet
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout
    assert out.strip() == str(list(colours_for(["cat", "dog", "person"]).values()))


def test_input_image_is_never_modified() -> None:
    """The caller's image keeps its pixels and mode; a new image is returned."""
    image = photo(120, 90).convert("L")
    before = image.tobytes()
    out = draw_detections(image, [_detection("cat", (10, 10, 60, 60))])
    assert out is not image
    assert image.mode == "L"
    assert image.tobytes() == before
    assert out.mode == "RGB"


def test_transparency_is_kept() -> None:
    """An image with an alpha channel is drawn on as RGBA, its transparency kept."""
    image = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    out = draw_detections(image, [_detection("cat", (10, 10, 90, 90))])
    assert out.mode == "RGBA"
    assert out.getpixel((50, 50)) == (0, 0, 0, 0)


def test_line_width_grows_with_the_image() -> None:
    """Lines stay visible on big images: a 2000 px picture gets lines several pixels wide."""
    image = Image.new("RGB", (2000, 1500))
    out = draw_detections(image, [_detection("cat", (400, 400, 1600, 1200))])
    colour = colours_for(["cat"])["cat"]
    assert out.getpixel((400 + 7, 800)) == colour
    assert out.getpixel((400 + 8, 800)) == (0, 0, 0)


def test_an_image_with_exif_orientation_is_drawn_upright() -> None:
    """Boxes refer to the upright image, so a photo still carrying orientation 6 is turned first."""
    stored = encode(Image.new("RGB", (80, 40)), "JPEG", orientation=6)
    with Image.open(io.BytesIO(stored)) as image:
        out = draw_detections(image, [_detection("cat", (5, 50, 35, 75))])
    assert out.size == (40, 80)
    assert out.getpixel((5, 60)) == colours_for(["cat"])["cat"]


def test_a_photo_with_broken_exif_tags_is_drawn_without_a_warning() -> None:
    """Orientation read from EXIF whose other tags are broken turns the picture, silently."""
    stored = encode(Image.new("RGB", (80, 40)), "JPEG", exif=exif_with_broken_tag(6))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's own note, while the caller opens it
        image = Image.open(io.BytesIO(stored))
    with image, warnings.catch_warnings():
        warnings.simplefilter("error")
        out = draw_detections(image, [_detection("cat", (5, 50, 35, 75))])
    assert out.size == (40, 80)


# --- detect against hand-written cassettes (cassettes/README.md) ------------------------

HOUSE = [
    ("house", (250, 213, 800, 575), (34, 30, 92, 96)),
    ("sun", (83, 738, 325, 919), (118, 10, 147, 39)),
    ("door", (600, 363, 800, 456), (58, 72, 73, 96)),
]
# The cassettes' answers were written by hand: re-recording would replace them with
# whatever the model says, which the exact boxes asserted here cannot follow.
hand_written = pytest.mark.vcr(record_mode="none")


def _found(detections: list[Detection]) -> list[tuple[str, tuple[int, ...], tuple[int, ...]]]:
    return [(d.label, d.box_2d, d.box_px) for d in detections]


@hand_written
def test_detect_returns_boxes_in_the_images_pixels(gemini_key: str) -> None:
    """One call with the documented prompt and the schema gives labelled boxes in pixels."""
    sent = SentBodies()
    with OpenAI(api_key=gemini_key, http_client=sent.client()) as client:
        found = detect(client, EXAMPLE)
    assert _found(found) == HOUSE
    (body,) = sent.bodies
    assert body["model"] == DETECTION_MODEL
    assert body["response_format"] == DETECTION_SCHEMA
    image, text = body["messages"][0]["content"]
    assert image["image_url"]["url"].startswith("data:image/png;base64,")
    assert text == {"type": "text", "text": DEFAULT_DETECTION_PROMPT}


@hand_written
@pytest.mark.default_cassette("test_detect_returns_boxes_in_the_images_pixels.yaml")
def test_detect_prepares_once_and_hands_back_the_image_it_sent(
    gemini_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client hook sends detect()'s body on as it is; the result carries the image sent."""
    again: list[object] = []
    monkeypatch.setattr(
        "openai_gemini_vision.client.prepare_messages", lambda *a, **k: again.append(a)
    )
    sent = SentBodies()
    with OpenAI(api_key=gemini_key, http_client=sent.client()) as client:
        found = detect(client, EXAMPLE)
    assert again == []
    assert _found(found) == HOUSE
    (body,) = sent.bodies
    assert body["messages"][0]["content"][0]["image_url"]["url"] == found.image.data_url
    with Image.open(EXAMPLE) as original:
        assert (found.image.width, found.image.height) == original.size


@hand_written
@pytest.mark.default_cassette("test_detect_returns_boxes_in_the_images_pixels.yaml")
def test_detect_works_with_a_plain_openai_client(gemini_key: str) -> None:
    """A plain openai.OpenAI pointed at Gemini gets the same boxes: the image is inlined first."""
    with openai.OpenAI(api_key=gemini_key, base_url=GEMINI_BASE_URL) as client:
        found = detect(client, EXAMPLE.read_bytes())
    assert _found(found) == HOUSE


@hand_written
@pytest.mark.default_cassette("test_detect_returns_boxes_in_the_images_pixels.yaml")
@pytest.mark.asyncio
async def test_adetect_gives_the_same_boxes(gemini_key: str) -> None:
    """The async twin sends the same request and reads the same boxes."""
    async with AsyncOpenAI(api_key=gemini_key) as client:
        found = await adetect(client, EXAMPLE)
    assert _found(found) == HOUSE


@hand_written
def test_detect_asks_again_without_a_schema_the_endpoint_refuses(gemini_key: str) -> None:
    """A 400 naming response_format gets one retry with the prompt alone, and a warning."""
    sent = SentBodies()
    with (
        OpenAI(api_key=gemini_key, http_client=sent.client()) as client,
        pytest.warns(DetectionWarning, match="refused response_format.*structured=False"),
    ):
        found = detect(client, EXAMPLE)
    assert _found(found) == HOUSE
    assert ["response_format" in body for body in sent.bodies] == [True, False]


@hand_written
@pytest.mark.default_cassette("test_detect_asks_again_without_a_schema_the_endpoint_refuses.yaml")
def test_structured_false_sends_the_prompt_alone(gemini_key: str) -> None:
    """structured=False sends no response_format and reads the fenced list Gemini answers."""
    sent = SentBodies()
    with OpenAI(api_key=gemini_key, http_client=sent.client()) as client:
        found = detect(client, EXAMPLE, structured=False)
    assert _found(found) == HOUSE
    assert ["response_format" in body for body in sent.bodies] == [False]


@hand_written
def test_a_reply_without_boxes_raises_with_the_reply(gemini_key: str) -> None:
    """A prose answer raises DetectionParseError quoting it, not an empty list."""
    with (
        OpenAI(api_key=gemini_key) as client,
        pytest.raises(DetectionParseError, match="can't determine the objects"),
    ):
        detect(client, EXAMPLE)


# The image of this test is re-encoded by Pillow, whose bytes may differ between versions:
# the request is matched without its body and checked through the event hook instead.
@pytest.mark.vcr(record_mode="none", match_on=("method", "scheme", "host", "port", "path"))
def test_detect_sends_upright_downscaled_pixels_and_maps_back(gemini_key: str) -> None:
    """A 1200x800 photo stored with orientation 6 goes out upright at 256x384 for
    detail="low", and the box Gemini gives on that lands on the upright original's pixels."""
    upright = Image.new("RGB", (800, 1200), (40, 90, 200))
    upright.paste((220, 20, 20), (200, 120, 600, 600))
    stored = encode(upright.transpose(Image.Transpose.ROTATE_90), "JPEG", orientation=6)
    sent = SentBodies()
    with OpenAI(api_key=gemini_key, http_client=sent.client()) as client:
        (square,) = detect(client, stored, prompt="find the red square", detail="low")
    assert square.label == "red square"
    assert square.box_px == (200, 120, 600, 600)
    (body,) = sent.bodies
    image, text = body["messages"][0]["content"]
    assert "box_2d" in text["text"]  # the format is added to a prompt that does not name it
    _, data = parse_data_url(image["image_url"]["url"])
    with Image.open(io.BytesIO(data)) as seen:
        assert seen.size == (256, 384)
        assert seen.convert("RGB").getpixel((128, 96))[0] > 180  # red: turned upright
        assert seen.convert("RGB").getpixel((128, 300))[2] > 150  # blue below the square
