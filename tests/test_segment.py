"""Segmentation: masks read from messy replies onto the caller's upright pixels, drawn as
overlays, and `segment` against a hand-written cassette and a loopback stand-in."""

from __future__ import annotations

import base64
import io
import json
import struct
import warnings
import zlib
from typing import Any

import openai
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from openai_gemini_vision import (
    GEMINI_BASE_URL,
    AsyncOpenAI,
    DetectionParseError,
    DetectionWarning,
    InvalidArgumentError,
    OpenAI,
    Segmentation,
    asegment,
    draw_segmentations,
    parse_segmentations,
    segment,
)
from openai_gemini_vision.detection import DEFAULT_SEGMENTATION_PROMPT, SEGMENTATION_MODEL
from openai_gemini_vision.detection.draw import colours_for, text_colour
from openai_gemini_vision.detection.segment import OVERLAY_OPACITY

from .fakegemini import FakeGemini, images_in
from .imaging import encode, photo
from .paths import EXAMPLE
from .wiretap import SentBodies


def _png(im: Image.Image) -> str:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _mask_url(im: Image.Image) -> str:
    return "data:image/png;base64," + _png(im)


def _entry(box: list[float], mask: Any, label: str = "thing") -> dict[str, Any]:
    return {"box_2d": box, "mask": mask, "label": label}


def _bbox(mask: Image.Image) -> tuple[int, int, int, int] | None:
    return mask.point(lambda v: 255 if v > 127 else 0).getbbox()


# --- reading masks --------------------------------------------------------------------


def test_a_mask_fills_its_box_on_a_full_size_image_and_nothing_else() -> None:
    """A solid mask becomes a full-size "L" image: 255 over the box in pixels, 0 elsewhere."""
    reply = json.dumps([_entry([100, 200, 300, 400], _mask_url(Image.new("L", (8, 8), 255)))])
    (found,) = parse_segmentations(reply, (1000, 500))
    assert isinstance(found, Segmentation)
    assert found.box_px == (200, 50, 400, 150)
    assert found.mask.mode == "L"
    assert found.mask.size == (1000, 500)
    assert _bbox(found.mask) == found.box_px
    assert set(found.mask.getcolors() or []) == {(200 * 100, 255), (1000 * 500 - 200 * 100, 0)}
    assert found.area == 200 * 100


def test_a_mask_of_another_size_is_stretched_onto_its_box() -> None:
    """A mask whose left half is on, at any size, marks the left half of the box in pixels."""
    half = Image.new("L", (10, 30), 0)
    half.paste(255, (0, 0, 5, 30))
    reply = json.dumps([_entry([0, 0, 1000, 1000], _mask_url(half))])
    (found,) = parse_segmentations(reply, (400, 120))
    assert _bbox(found.mask) == (0, 0, 200, 120)


def test_probabilities_are_thresholded_at_127() -> None:
    """Points above 127 are on the object and points at or below it are not (Google's threshold)."""
    stripes = Image.new("L", (4, 1))
    stripes.putdata([126, 127, 128, 255])
    reply = json.dumps([_entry([0, 0, 1000, 1000], _mask_url(stripes))])
    (found,) = parse_segmentations(reply, (4, 1))
    assert [found.mask.getpixel((x, 0)) for x in range(4)] == [0, 0, 255, 255]


@pytest.mark.parametrize(
    "form",
    [
        "data url",
        "bare base64",
        "url-safe without padding",
        "wrapped over lines",
        "upper-case prefix",
    ],
)
def test_masks_are_read_with_or_without_the_data_url_prefix(form: str) -> None:
    """The mask is read however its base64 comes: prefixed or not, URL-safe, unpadded, wrapped."""
    payload = _png(Image.new("L", (3, 3), 255))
    mask = {
        "data url": f"data:image/png;base64,{payload}",
        "bare base64": payload,
        "url-safe without padding": payload.replace("+", "-").replace("/", "_").rstrip("="),
        "wrapped over lines": "\n".join(payload[i : i + 20] for i in range(0, len(payload), 20)),
        "upper-case prefix": f"DATA:image/png;base64,{payload}",
    }[form]
    (found,) = parse_segmentations(json.dumps([_entry([0, 0, 500, 500], mask)]), (100, 100))
    assert _bbox(found.mask) == (0, 0, 50, 50)


@pytest.mark.parametrize("mode", ["1", "RGB", "RGBA", "LA", "P", "I;16"])
def test_masks_in_other_modes_are_read_as_grey(mode: str) -> None:
    """Masks written as bilevel, colour, with alpha, palette or 16-bit grey all read the same."""
    grey = Image.new("L", (6, 6), 0)
    grey.paste(255, (0, 0, 3, 6))
    mask = (
        grey.convert("I").point(lambda v: v * 257).convert("I;16")
        if mode == "I;16"
        else grey.convert(mode)
    )
    (found,) = parse_segmentations(
        json.dumps([_entry([0, 0, 1000, 1000], _mask_url(mask))]), (6, 6)
    )
    assert _bbox(found.mask) == (0, 0, 3, 6)


def test_a_fenced_reply_with_prose_is_read() -> None:
    """Gemini's usual answer, a json fence after a sentence, gives every object."""
    entries = [
        _entry([0, 0, 500, 500], _mask_url(Image.new("L", (4, 4), 255)), "cat"),
        _entry([500, 500, 1000, 1000], _mask_url(Image.new("L", (4, 4), 255)), "dog"),
    ]
    reply = "Here are the masks:\n```json\n" + json.dumps(entries, indent=2) + "\n```\nDone."
    found = parse_segmentations(reply, (100, 100))
    assert [(s.label, s.box_px) for s in found] == [
        ("cat", (0, 0, 50, 50)),
        ("dog", (50, 50, 100, 100)),
    ]


def test_a_reply_cut_off_inside_a_mask_keeps_the_whole_entries() -> None:
    """An answer stopped by the token limit mid-mask keeps the complete entries, with a warning."""
    whole = _entry([0, 0, 500, 500], _mask_url(Image.new("L", (4, 4), 255)), "cat")
    cut = _entry([500, 500, 1000, 1000], _mask_url(photo(40, 40).convert("L")), "dog")
    reply = "```json\n" + json.dumps([whole, cut])[:-200]
    with pytest.warns(DetectionWarning, match="cut off after 1 entry"):
        found = parse_segmentations(reply, (100, 100))
    assert [s.label for s in found] == ["cat"]


def _huge_png_header(side: int) -> str:
    """A PNG that claims side x side pixels but holds none: refused before decoding."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")
    return base64.b64encode(data).decode()


@pytest.mark.parametrize(
    ("mask", "why"),
    [
        (None, "has no mask"),
        ("", "empty"),
        (42, "is int"),
        ("data:image/png;base64,@@@not base64@@@", "not valid base64"),
        (base64.b64encode(b"just some text, not an image").decode(), "not an image"),
        (_huge_png_header(9_000), "9000x9000 pixels, too large to be a mask"),
        (_huge_png_header(20_000), "too large to be a mask"),
    ],
    ids=["missing", "empty", "a number", "bad base64", "not an image", "81 MP", "400 MP"],
)
def test_an_unreadable_mask_skips_its_entry_with_a_warning(mask: Any, why: str) -> None:
    """An entry whose mask cannot be read is skipped, saying why; the others are kept."""
    good = _entry([0, 0, 500, 500], _mask_url(Image.new("L", (2, 2), 255)), "kept")
    bad = _entry([500, 500, 1000, 1000], mask, "broken")
    if mask is None:
        del bad["mask"]
    with pytest.warns(DetectionWarning) as caught:
        found = parse_segmentations(json.dumps([bad, good]), (100, 100))
    assert [s.label for s in found] == ["kept"]
    (warning,) = caught
    assert "entry 1 of 2 (broken)" in str(warning.message)
    assert why in str(warning.message)


def test_a_box_with_no_area_in_pixels_is_skipped() -> None:
    """A box thinner than a pixel on this image has nowhere to put its mask: skipped, with a warning."""
    reply = json.dumps([_entry([100, 100, 100, 900], _mask_url(Image.new("L", (2, 2), 255)))])
    with pytest.warns(DetectionWarning, match="no area on a 50x50 image"):
        assert parse_segmentations(reply, (50, 50)) == []


def test_a_box_of_absurd_numbers_skips_its_entry() -> None:
    """A coordinate too large for a float (400 digits) skips the entry instead of crashing."""
    reply = '[{"box_2d": [1, 2, 3, ' + "9" * 400 + '], "mask": "", "label": "x"}]'
    with pytest.warns(DetectionWarning, match="other than numbers"):
        assert parse_segmentations(reply, (10, 10)) == []


def test_a_reply_without_json_raises() -> None:
    """Prose with no list of entries raises DetectionParseError, not an empty list."""
    with pytest.raises(DetectionParseError, match="holds no JSON"):
        parse_segmentations("I cannot segment this image.", (10, 10))


def test_image_size_must_be_positive() -> None:
    """A size that is not two positive pixel counts is refused with what to pass."""
    with pytest.raises(InvalidArgumentError, match=r"image\.size"):
        parse_segmentations("[]", (0, 10))


_images = st.builds(
    lambda w, h, v, mode: _mask_url(Image.new(mode, (w, h), v)),
    st.integers(1, 48),
    st.integers(1, 48),
    st.integers(0, 255),
    st.sampled_from(["L", "1", "RGB", "P"]),
)
_garbage = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode()),
)
# Mostly readable masks and boxes, so kept entries are checked as often as skipped ones.
_masks = st.one_of(_images, _images.map(lambda url: url.split(",", 1)[1]), _garbage)
_boxes = st.one_of(
    st.lists(st.integers(0, 1000), min_size=4, max_size=4),
    st.lists(st.integers(-200, 1200), min_size=4, max_size=4),
    st.lists(st.one_of(st.integers(), st.floats(allow_nan=True)), min_size=3, max_size=5),
)


@settings(max_examples=150, deadline=None)
@given(
    entries=st.lists(st.tuples(_boxes, _masks), max_size=5),
    size=st.tuples(st.integers(1, 300), st.integers(1, 300)),
)
def test_any_masks_and_boxes_never_crash_and_stay_inside_their_box(
    entries: list[tuple[list[float], Any]], size: tuple[int, int]
) -> None:
    """Garbage masks, odd sizes and broken boxes are read or skipped; a kept mask is full size
    and empty outside its box."""
    reply = json.dumps([{"box_2d": box, "mask": mask, "label": "x"} for box, mask in entries])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DetectionWarning)
        found = parse_segmentations(reply, size)
    skipped = [w for w in caught if str(w.message).startswith("Skipped entry")]
    assert len(found) + len(skipped) == len(entries)  # each entry kept or said to be skipped
    event(f"kept: {bool(found)}")
    for item in found:
        assert item.mask.size == size
        assert item.mask.mode == "L"
        on = _bbox(item.mask)
        if on is not None:
            left, top, right, bottom = item.box_px
            assert on[0] >= left
            assert on[1] >= top
            assert on[2] <= right
            assert on[3] <= bottom


# --- drawing --------------------------------------------------------------------------


def _segmentation(
    label: str, box: tuple[int, int, int, int], size: tuple[int, int]
) -> Segmentation:
    mask = Image.new("L", size, 0)
    mask.paste(255, box)
    return Segmentation(label=label, box_2d=(0, 0, 0, 0), box_px=box, mask=mask)


@pytest.mark.parametrize("shade", [0, 255], ids=["dark", "light"])
def test_an_object_is_covered_translucently_and_outlined_in_its_colour(shade: int) -> None:
    """Inside the mask the picture shows through the label's colour; its edge is the colour
    itself; outside, nothing changes, on dark and light pictures alike."""
    image = Image.new("RGB", (200, 160), (shade,) * 3)
    box = (40, 60, 160, 150)
    out = draw_segmentations(image, [_segmentation("cat", box, image.size)])
    colour = colours_for(["cat"])["cat"]
    inside = out.getpixel((100, 110))
    expected = tuple(round(c * OVERLAY_OPACITY + shade * (1 - OVERLAY_OPACITY)) for c in colour)
    assert all(abs(a - b) <= 1 for a, b in zip(inside, expected, strict=True)), (inside, expected)
    assert out.getpixel((40, 110)) == colour  # the outline
    assert out.getpixel((20, 110)) == (shade,) * 3
    assert out.getpixel((100, 155)) == (shade,) * 3


def test_the_label_is_written_above_the_object() -> None:
    """The label sits on a box of its colour above the object's box, in black or white text."""
    image = Image.new("RGB", (300, 200), (255, 255, 255))
    out = draw_segmentations(image, [_segmentation("person", (50, 80, 250, 190), image.size)])
    fill = colours_for(["person"])["person"]
    colours = {c for _, c in out.crop((50, 0, 250, 80)).getcolors(maxcolors=100_000) or []}
    assert fill in colours
    assert text_colour(fill) in colours


def test_the_picture_given_is_left_alone_and_transparency_kept() -> None:
    """A new RGBA image is returned for an RGBA picture; the caller's pixels are untouched."""
    image = Image.new("RGBA", (60, 60), (0, 0, 0, 0))
    before = image.tobytes()
    out = draw_segmentations(image, [_segmentation("cat", (10, 10, 50, 50), image.size)])
    assert out is not image
    assert image.tobytes() == before
    assert out.mode == "RGBA"
    assert out.getpixel((2, 2)) == (0, 0, 0, 0)
    assert out.getpixel((30, 30))[3] > 0


def test_masks_for_another_size_are_refused() -> None:
    """Masks parsed for another image size cannot be drawn: the error says what to draw on."""
    item = _segmentation("cat", (1, 1, 5, 5), (10, 10))
    with pytest.raises(InvalidArgumentError, match=r"10x10 mask but the image is 20x10"):
        draw_segmentations(Image.new("RGB", (20, 10)), [item])


def test_an_image_with_exif_orientation_is_drawn_upright() -> None:
    """Masks refer to the upright picture, so a photo stored sideways is turned before drawing."""
    stored = encode(Image.new("RGB", (80, 40)), "JPEG", orientation=6)
    with Image.open(io.BytesIO(stored)) as image:
        out = draw_segmentations(image, [_segmentation("cat", (5, 50, 35, 75), (40, 80))])
    assert out.size == (40, 80)


# --- segment() against the hand-written cassette (cassettes/README.md) --------------------

# The answer was written by hand; re-recording would replace the exact masks asserted here.
hand_written = pytest.mark.vcr(record_mode="none")


def _check_house(found: list[Segmentation]) -> None:
    """The cassette's three masks, on example.png's own pixels."""
    assert [(s.label, s.box_2d, s.box_px) for s in found] == [
        ("house", (250, 213, 800, 575), (34, 30, 92, 96)),
        ("sun", (83, 738, 325, 919), (118, 10, 147, 39)),
        ("door", (600, 363, 800, 456), (58, 72, 73, 96)),
    ]
    house, sun, door = found
    for item in found:
        assert item.mask.size == (160, 120)
    # The sun is a disc (a mask without the data-URL prefix): its middle is on, its corners off.
    assert sun.mask.getpixel((132, 24)) == 255
    assert sun.mask.getpixel((118, 10)) == 0
    assert sun.mask.getpixel((146, 38)) == 0
    # The house's mask (100x100, not its box's size) has a roof: the top corners are off.
    assert house.mask.getpixel((63, 80)) == 255
    assert house.mask.getpixel((35, 31)) == 0
    assert house.mask.getpixel((63, 32)) == 255
    # The door fills its box but for a low-probability rim.
    assert door.mask.getpixel((65, 85)) == 255
    assert _bbox(door.mask) is not None
    assert door.area < 15 * 24


@hand_written
def test_segment_returns_masks_in_the_images_pixels(gemini_key: str) -> None:
    """One call with Google's segmentation prompt gives labelled masks on the image's pixels."""
    sent = SentBodies()
    with OpenAI(api_key=gemini_key, http_client=sent.client()) as client:
        found = segment(client, EXAMPLE)
    _check_house(found)
    assert (found.image.width, found.image.height) == (160, 120)  # the image sent
    (body,) = sent.bodies
    assert body["model"] == SEGMENTATION_MODEL
    assert "response_format" not in body
    image, text = body["messages"][0]["content"]
    assert image["image_url"]["url"].startswith("data:image/png;base64,")
    assert text == {"type": "text", "text": DEFAULT_SEGMENTATION_PROMPT}


@hand_written
@pytest.mark.default_cassette("test_segment_returns_masks_in_the_images_pixels.yaml")
def test_segment_works_with_a_plain_openai_client(gemini_key: str) -> None:
    """A plain openai.OpenAI pointed at Gemini gets the same masks: the image is inlined first."""
    with openai.OpenAI(api_key=gemini_key, base_url=GEMINI_BASE_URL) as client:
        _check_house(segment(client, EXAMPLE.read_bytes()))


@hand_written
@pytest.mark.default_cassette("test_segment_returns_masks_in_the_images_pixels.yaml")
@pytest.mark.asyncio
async def test_asegment_gives_the_same_masks(gemini_key: str) -> None:
    """The async twin sends the same request and reads the same masks."""
    async with AsyncOpenAI(api_key=gemini_key) as client:
        _check_house(await asegment(client, EXAMPLE))


# --- segment() against a loopback stand-in that segments what it receives -----------------


def red_masks(body: dict[str, Any]) -> str:
    """What a perfect model answers: the red region of the image it received, as box and mask."""
    ((_, data),) = images_in(body)
    with Image.open(io.BytesIO(data)) as sent:
        rgb = sent.convert("RGB")
    red = rgb.point(lambda v: v).split()
    on = Image.eval(red[0], lambda v: 255 if v > 160 else 0)
    on = Image.composite(
        on, Image.new("L", rgb.size, 0), Image.eval(red[2], lambda v: 255 if v < 100 else 0)
    )
    left, top, right, bottom = on.getbbox() or (0, 0, 1, 1)
    box = [
        round(top / rgb.height * 1000),
        round(left / rgb.width * 1000),
        round(bottom / rgb.height * 1000),
        round(right / rgb.width * 1000),
    ]
    mask = on.crop((left, top, right, bottom))
    return "```json\n" + json.dumps([_entry(box, _mask_url(mask), "red disc")]) + "\n```"


def test_masks_land_on_the_upright_originals_pixels_through_downscale_and_orientation() -> None:
    """A red disc on a 1200x800 photo stored sideways (orientation 6), sent downscaled with
    detail="low", comes back as a mask on the upright original covering that disc."""
    upright = Image.new("RGB", (800, 1200), (40, 90, 200))
    ImageDraw.Draw(upright).ellipse((200, 300, 600, 700), fill=(230, 20, 20))
    stored = encode(upright.transpose(Image.Transpose.ROTATE_90), "JPEG", orientation=6)
    with (
        FakeGemini(answer=red_masks) as fake,
        OpenAI(api_key="k", base_url=fake.base_url) as client,
    ):
        (disc,) = segment(client, stored, prompt="the red disc", detail="low")
        text = fake.requests[0]["messages"][0]["content"][1]["text"]
    assert text.startswith("the red disc\n")
    assert '"mask"' in text  # the format is added to a prompt that does not name it
    assert disc.mask.size == (800, 1200)
    on = _bbox(disc.mask)
    assert on is not None
    assert all(abs(a - b) <= 8 for a, b in zip(on, (200, 300, 600, 700), strict=True)), on
    assert disc.mask.getpixel((400, 500)) == 255
    assert disc.mask.getpixel((210, 310)) == 0  # the disc's bounding corner is not the disc
    assert abs(disc.area - 3.1416 * 200 * 200) / (3.1416 * 200 * 200) < 0.05
