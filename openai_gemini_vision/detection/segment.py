"""Segmentation: Gemini's masks read onto the caller's pixels, and drawn as overlays.

Asked for segmentation masks, Gemini 2.5 and later answer a JSON list whose entries hold a
`box_2d` (as detection does), a `label`, and a `mask`: a PNG, as a base64 data URL, giving
a probability (0..255) for each point of the box only. Google's guide resizes the mask to
the box's size in pixels and keeps what is above 127
(https://ai.google.dev/gemini-api/docs/image-understanding#segmentation). Here each mask
becomes a full-size mode-"L" image of the caller's original, upright: 255 on the object,
0 elsewhere.
"""

from __future__ import annotations

import binascii
import functools
import io
import re
import warnings
from collections.abc import Sequence
from typing import Any

import anyio.to_thread
import pybase64
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from pydantic import ConfigDict, Field

from ..errors import InvalidArgumentError
from ..images.prepared import PreparedImage
from ..images.source import ImageSource, Source
from ..policy import Detail, ImagePolicy
from .boxes import Detection, check_size, make_detection, upright_size
from .detect import _load, _reply_text
from .draw import _canvas, _font_size, _label, colours_for, line_width
from .replies import DetectionWarning, extract_records

__all__ = [
    "DEFAULT_SEGMENTATION_PROMPT",
    "MASK_KEYS",
    "MASK_THRESHOLD",
    "OVERLAY_OPACITY",
    "SEGMENTATION_MODEL",
    "Segmentation",
    "Segmentations",
    "asegment",
    "draw_segmentations",
    "parse_segmentations",
    "segment",
    "segmentation_messages",
]

#: The model `segment` asks unless told otherwise (segmentation needs Gemini 2.5 or later).
SEGMENTATION_MODEL = "gemini-2.5-flash"

_FORMAT = (
    "Output a JSON list of segmentation masks where each entry contains the 2D bounding box in "
    'the key "box_2d", the segmentation mask in key "mask", and the text label in the key '
    '"label". Use descriptive labels.'
)
#: The prompt of Google's segmentation guide, for every prominent item.
DEFAULT_SEGMENTATION_PROMPT = f"Give the segmentation masks for the prominent items. {_FORMAT}"

#: Keys read as the mask, in order of preference.
MASK_KEYS = ("mask", "segmentation_mask", "segmentation")
#: A mask point is on the object above this probability (Google's guide uses 127).
MASK_THRESHOLD = 127
#: How much of the label's colour covers the object in `draw_segmentations` (0..1).
OVERLAY_OPACITY = 0.45

# A mask larger than this is refused before decoding: a 64 MP "mask" is an attack or a
# mistake, and Pillow would warn (or refuse) on the way.
_MAX_MASK_PIXELS = 64_000_000
_DATA_URL_HEAD = re.compile(r"^\s*data:[^,]*,", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")


class Segmentation(Detection):
    """A `Detection` with the object's mask on the caller's original image, upright."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    mask: Image.Image = Field(repr=False, exclude=True)
    """Mode "L", the size of the caller's original image as seen upright: 255 on the object,
    0 elsewhere (outside the box always)."""

    @property
    def area(self) -> int:
        """Pixels on the object."""
        histogram = self.mask.histogram()
        return sum(histogram[MASK_THRESHOLD + 1 :])


def segmentation_messages(image: PreparedImage, prompt: str | None = None) -> list[dict[str, Any]]:
    """The chat messages `segment` sends: the image, then the prompt (Google puts text last).

    A prompt of your own ("the cats", "every car") that names no "mask" gets Google's
    answer format appended.
    """
    text = prompt or DEFAULT_SEGMENTATION_PROMPT
    if "mask" not in text.lower():
        text = f"{text.rstrip()}\n{_FORMAT}"
    return [{"role": "user", "content": [image.part(), {"type": "text", "text": text}]}]


def _payload(value: Any) -> bytes | str:
    """The mask's bytes, or why there are none."""
    if not isinstance(value, str) or not value.strip():
        return f"is {type(value).__name__ if not isinstance(value, str) else 'empty'}, not a base64 PNG"
    text = _WHITESPACE.sub("", _DATA_URL_HEAD.sub("", value, count=1))
    text = text.replace("-", "+").replace("_", "/").rstrip("=")
    if len(text) % 4 == 1:
        return "is not valid base64 (it ends with a stray character)"
    try:
        return pybase64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return "is not valid base64"


def _probability(value: Any) -> Image.Image | str:
    """The mask as a mode-"L" probability map, or why it cannot be read."""
    data = _payload(value)
    if isinstance(data, str):
        return data
    try:
        with warnings.catch_warnings():
            # Pillow warns on opening a picture of 89 MP and more; the size check below
            # refuses it first, without decoding.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data))
        with opened:
            if opened.width * opened.height > _MAX_MASK_PIXELS:
                return f"is {opened.width}x{opened.height} pixels, too large to be a mask"
            opened.load()
            picture: Image.Image = opened
            if picture.mode in {"I", "I;16", "I;16B", "I;16L", "I;16N"}:
                # 16-bit grey: 0..65535 onto 0..255.
                picture = picture.convert("I").point(lambda v: v * (1 / 257))
            return picture.convert("L")
    except Image.DecompressionBombError:
        return "claims more pixels than Pillow will open, too large to be a mask"
    except (OSError, ValueError) as exc:
        return f"is not an image ({' '.join(str(exc).split())[:80]})"


def _full_mask(
    probability: Image.Image, box: tuple[int, int, int, int], size: tuple[int, int]
) -> Image.Image:
    """The box-sized probability map, thresholded, placed on a blank image of `size`."""
    left, top, right, bottom = box
    # Google's guide resizes with bilinear filtering before thresholding.
    inside = probability.resize((right - left, bottom - top), Image.Resampling.BILINEAR)
    inside = inside.point(lambda v: 255 if v > MASK_THRESHOLD else 0)
    mask = Image.new("L", size, 0)
    mask.paste(inside, (left, top))
    return mask


def parse_segmentations(text: str | None, image_size: tuple[int, int]) -> list[Segmentation]:
    """Parse a model's segmentation reply into masks on an image of `image_size`.

    Reads the JSON as `parse_detections` does (fences, prose, wrappers, a reply cut off
    mid-list). Each mask may be a data URL or bare base64, of any size (it is resized to
    its box). An entry whose box or mask cannot be read, or whose box has no area in these
    pixels, is skipped with a `DetectionWarning`; the rest are kept. Raises
    `DetectionParseError` when the text holds no list of `box_2d` entries at all.

    `image_size` is the (width, height) the masks are wanted in; for a photo with an EXIF
    orientation, its upright size (see `upright_size`).
    """
    size = check_size(image_size)
    records, skipped = extract_records(text)
    for reason in skipped:
        warnings.warn(reason, DetectionWarning, stacklevel=2)
    found: list[Segmentation] = []
    for number, (label, box, item) in enumerate(records, 1):
        detection = make_detection(label, box, size)
        left, top, right, bottom = detection.box_px
        problem: str | None = None
        key = next((k for k in MASK_KEYS if k in item), None)
        if key is None:
            problem = "has no mask"
        elif right <= left or bottom <= top:
            problem = (
                f"has a box {list(detection.box_2d)} with no area on a {size[0]}x{size[1]} image"
            )
        else:
            probability = _probability(item[key])
            if isinstance(probability, str):
                problem = f"has a mask that {probability}"
        if problem is not None:
            warnings.warn(
                f"Skipped entry {number} of {len(records)} ({label or 'no label'}): it {problem}. "
                'Each entry needs "mask": "data:image/png;base64,..." covering its box_2d.',
                DetectionWarning,
                stacklevel=2,
            )
            continue
        found.append(
            Segmentation(
                **detection.model_dump(),
                mask=_full_mask(probability, detection.box_px, size),  # type: ignore[arg-type]
            )
        )
    return found


def _request(
    source: ImageSource | Source,
    prompt: str | None,
    model: str,
    detail: Detail | None,
    policy: ImagePolicy | None,
    create_kwargs: dict[str, Any],
) -> tuple[PreparedImage, dict[str, Any]]:
    """The image sent (upright) and the keyword arguments of the one call: shared by both twins."""
    image = _load(source, detail, policy)  # upright, as detection sends it
    return image, {
        "model": model,
        "messages": segmentation_messages(image, prompt),
        **create_kwargs,
    }


class Segmentations(list[Segmentation]):
    """The segmentations `segment` found, and the image it sent for them (`image`)."""

    def __init__(self, segmentations: list[Segmentation], image: PreparedImage) -> None:
        super().__init__(segmentations)
        self.image = image
        """The image as sent: upright, converted or downscaled as `changes` says."""


def _answer(image: PreparedImage, response: Any) -> Segmentations:
    found = parse_segmentations(_reply_text(response), upright_size(image))
    return Segmentations(found, image)


def segment(
    client: Any,
    source: ImageSource | Source,
    *,
    prompt: str | None = None,
    model: str = SEGMENTATION_MODEL,
    detail: Detail | None = None,
    policy: ImagePolicy | None = None,
    **create_kwargs: Any,
) -> Segmentations:
    """Ask Gemini for segmentation masks in one call; masks come back on the original's pixels.

    `client` is any sync `openai.OpenAI` pointed at Gemini. The image is loaded with
    `load_image` (always turned upright, downscaled with `detail="low"`); each mask is the
    size of the original image as seen upright, and the result's `image` is the image
    sent. Google advises turning thinking off for
    segmentation: on models that allow it, pass `reasoning_effort="none"`. Extra keyword
    arguments go to `chat.completions.create`.
    """
    image, request = _request(source, prompt, model, detail, policy, create_kwargs)
    return _answer(image, client.chat.completions.create(**request))


async def asegment(
    client: Any,
    source: ImageSource | Source,
    *,
    prompt: str | None = None,
    model: str = SEGMENTATION_MODEL,
    detail: Detail | None = None,
    policy: ImagePolicy | None = None,
    **create_kwargs: Any,
) -> Segmentations:
    """`segment` for an `openai.AsyncOpenAI` client; the image is loaded off the event loop."""
    prepare = functools.partial(_request, source, prompt, model, detail, policy, create_kwargs)
    image, request = await anyio.to_thread.run_sync(prepare)
    return _answer(image, await client.chat.completions.create(**request))


def draw_segmentations(image: Image.Image, segmentations: Sequence[Segmentation]) -> Image.Image:
    """A copy of `image`, upright, with each mask as a translucent overlay, outlined, and labelled.

    Each label keeps its colour (the palette of `draw_detections`); the object is covered at
    `OVERLAY_OPACITY` and outlined in full colour so it shows on light and dark pictures, and
    the label is written in black or white on a box of its colour at the top left of its box.
    `image` is never modified. Raises InvalidArgumentError when the masks were made for an
    image of another size.
    """
    out = _canvas(image)
    colours = colours_for(s.label for s in segmentations)
    width = line_width(out.size)
    alpha = round(255 * OVERLAY_OPACITY)
    for number, item in enumerate(segmentations, 1):
        if item.mask.size != out.size:
            raise InvalidArgumentError(
                f"Segmentation {number} ({item.label!r}) has a {item.mask.width}x{item.mask.height} "
                f"mask but the image is {out.width}x{out.height} upright. Draw on the image the "
                "masks were parsed for (its upright size is what parse_segmentations was given)."
            )
        fill = colours[item.label] + ((255,) if out.mode == "RGBA" else ())
        # Everything happens within the box (and a line's width around it): the mask is 0
        # elsewhere, and a 12 MP photo is not filtered whole for each object.
        left, top, right, bottom = item.box_px
        region = (
            max(0, left - width),
            max(0, top - width),
            min(out.width, right + width),
            min(out.height, bottom + width),
        )
        if region[2] <= region[0] or region[3] <= region[1]:
            continue
        on = item.mask.crop(region).point(lambda v: 255 if v > MASK_THRESHOLD else 0)
        out.paste(fill, region, mask=on.point(lambda v: alpha if v else 0))
        # The outline: the mask's edge, thickened to the width of a box's line.
        edge = on.filter(ImageFilter.FIND_EDGES)
        if width > 1:
            edge = edge.filter(ImageFilter.MaxFilter(2 * (width // 2) + 1))
        out.paste(fill, region, mask=edge.point(lambda v: 255 if v else 0))
    draw = ImageDraw.Draw(out)
    font = ImageFont.load_default(size=_font_size(out.size))
    for item in segmentations:
        if item.label:
            left, top, _, _ = item.box_px
            _label(draw, out.size, item.label, (left, top), colours[item.label], font)
    return out
