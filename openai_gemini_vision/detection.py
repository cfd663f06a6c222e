"""Object detection: Gemini's 0..1000 boxes in the caller's original pixels, and drawing them.

Gemini answers a detection prompt with `box_2d: [ymin, xmin, ymax, xmax]` on a 0..1000
grid laid over the image *it received* (Google's docs, "Object detection"). `detect()`
sends the image upright (EXIF orientation applied) and maps the grid back onto the
caller's image as seen upright, whatever downscaling happened on the way.
"""

from __future__ import annotations

import asyncio
import math
import warnings
from collections.abc import Sequence
from typing import Any

import openai
from pydantic import BaseModel, ConfigDict

from .drawing import draw_detections
from .errors import DetectionParseError
from .images import PreparedImage
from .policy import DEFAULT_POLICY, Detail, ImagePolicy
from .reply_json import DetectionWarning, extract_entries
from .sources import ImageSource, load_image

__all__ = [
    "DEFAULT_DETECTION_PROMPT",
    "DETECTION_MODEL",
    "DETECTION_SCHEMA",
    "GRID",
    "Detection",
    "DetectionWarning",
    "adetect",
    "box_to_pixels",
    "detect",
    "detection_messages",
    "draw_detections",
    "parse_detections",
    "upright_size",
]

#: Gemini's boxes are normalised to 0..1000 on each axis (Google's docs, "Object detection").
GRID = 1000

#: The model `detect` asks unless told otherwise.
DETECTION_MODEL = "gemini-2.5-flash"

#: The prompt of Google's object-detection guide
#: (https://ai.google.dev/gemini-api/docs/image-understanding#object-detection).
DEFAULT_DETECTION_PROMPT = (
    "Detect all prominent items in the image. "
    "The box_2d should be [ymin, xmin, ymax, xmax] normalized to 0-1000."
)

# Added to a caller's own prompt ("find every cat") that does not name the format itself.
_FORMAT_HINT = (
    'Answer with a JSON list of objects, each with a "label" and a "box_2d": '
    "[ymin, xmin, ymax, xmax] normalized to 0-1000."
)

#: Structured output for `response_format`; Google's compatibility reference lists
#: `response_format` with a JSON schema (https://ai.google.dev/api/compatibility). An
#: object at the top (not a bare list) because OpenAI's own endpoint requires one.
DETECTION_SCHEMA: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {
        "name": "detections",
        "schema": {
            "type": "object",
            "properties": {
                "detections": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "box_2d": {
                                "type": "array",
                                "items": {"type": "integer"},
                                "description": "[ymin, xmin, ymax, xmax] normalized to 0-1000",
                            },
                            "label": {"type": "string"},
                        },
                        "required": ["box_2d", "label"],
                    },
                }
            },
            "required": ["detections"],
        },
    },
}

# Words in a 400 answer that say the endpoint refused the schema rather than the request.
_SCHEMA_REFUSED = ("response_format", "response_schema", "responseschema", "json_schema", "schema")


class Detection(BaseModel):
    """One detected object: its label and box, on Gemini's grid and in the caller's pixels."""

    model_config = ConfigDict(frozen=True)

    label: str
    """What the model called it ("" when it gave no label)."""
    box_2d: tuple[int, int, int, int]
    """Gemini's `[ymin, xmin, ymax, xmax]` on 0..1000, ordered (min <= max) and clamped."""
    box_px: tuple[int, int, int, int]
    """`(left, top, right, bottom)` in pixels of the caller's original image as seen upright
    (EXIF orientation applied); right and bottom are exclusive, as in `PIL.Image.crop`."""


def box_to_pixels(
    box_2d: Sequence[float], image_size: tuple[int, int]
) -> tuple[int, int, int, int]:
    """`[ymin, xmin, ymax, xmax]` on 0..1000 -> `(left, top, right, bottom)` in pixels.

    `image_size` is the (width, height) of the image the pixels are wanted in: the
    caller's original, upright. The grid covers the image Gemini received; resizing keeps
    each point's fraction of the width and height, so the size sent drops out and the
    fraction lands on the original directly (no rounding to the smaller image's pixels).
    Values are clamped to 0..1000, so the box stays inside the image.
    """
    width, height = image_size
    ymin, xmin, ymax, xmax = (min(max(float(v), 0.0), GRID) for v in box_2d)

    return (
        _round(xmin * width / GRID),
        _round(ymin * height / GRID),
        _round(xmax * width / GRID),
        _round(ymax * height / GRID),
    )


def _round(value: float) -> int:
    # Halves away from zero, not Python's to-even: 12.5 px and 13.5 px both go up.
    return math.floor(value + 0.5)


def upright_size(image: PreparedImage) -> tuple[int, int]:
    """(width, height) of the caller's original image once its EXIF orientation is applied."""
    if image.orientation in {5, 6, 7, 8}:  # a quarter turn: width and height swap
        return image.original_height, image.original_width
    return image.original_width, image.original_height


def _check_size(image_size: tuple[int, int]) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in image_size)
    except (TypeError, ValueError):
        width = height = 0
    if width <= 0 or height <= 0:
        raise ValueError(
            f"image_size must be (width, height) in pixels, both positive; got {image_size!r}. "
            "Pass the size of the image the boxes are wanted in, e.g. image.size."
        )
    return width, height


def parse_detections(text: str | None, image_size: tuple[int, int]) -> list[Detection]:
    """Parse a model's reply into detections in pixels of an image of `image_size`.

    Takes the JSON whatever its wrapping: a bare list of `{"box_2d": [...], "label": ...}`,
    a Markdown fence, an object holding the list (`{"objects": [...]}`), prose around it,
    single quotes or trailing commas, a reply cut off mid-list. An entry whose `box_2d` is
    not four numbers is skipped with a `DetectionWarning`; the rest are kept. Raises
    `DetectionParseError` when the text holds no such JSON at all.

    `image_size` is (width, height) of the image the pixels are wanted in; for a photo
    with an EXIF orientation, that is its upright size (see `upright_size`).
    """
    size = _check_size(image_size)
    entries, skipped = extract_entries(text)
    for reason in skipped:
        warnings.warn(reason, DetectionWarning, stacklevel=2)
    detections = []
    for label, box in entries:
        ymin, xmin, ymax, xmax = (min(max(v, 0.0), float(GRID)) for v in box)
        ordered = (min(ymin, ymax), min(xmin, xmax), max(ymin, ymax), max(xmin, xmax))
        detections.append(
            Detection(
                label=label,
                box_2d=(
                    _round(ordered[0]),
                    _round(ordered[1]),
                    _round(ordered[2]),
                    _round(ordered[3]),
                ),
                box_px=box_to_pixels(ordered, size),
            )
        )
    return detections


def detection_messages(image: PreparedImage, prompt: str | None = None) -> list[dict[str, Any]]:
    """The chat messages `detect` sends: the image, then the prompt (Google puts text last)."""
    text = prompt or DEFAULT_DETECTION_PROMPT
    if "box_2d" not in text:
        text = f"{text.rstrip()}\n{_FORMAT_HINT}"
    return [{"role": "user", "content": [image.part(), {"type": "text", "text": text}]}]


def _upright_policy(policy: ImagePolicy | None) -> ImagePolicy:
    # Boxes are only meaningful on pixels whose orientation is known: send upright pixels
    # rather than leave EXIF orientation to the server.
    policy = policy or DEFAULT_POLICY
    return policy if policy.fix_orientation else policy.model_copy(update={"fix_orientation": True})


def _schema_refused(exc: openai.BadRequestError) -> bool:
    text = str(exc).lower()
    return any(word in text for word in _SCHEMA_REFUSED)


def _refused_warning(exc: openai.BadRequestError) -> None:
    warnings.warn(
        f"The endpoint refused response_format ({' '.join(str(exc).split())[:200]}); asked "
        "again with the prompt alone. Pass structured=False to skip the first attempt.",
        DetectionWarning,
        stacklevel=3,
    )


def _reply_text(response: Any) -> str:
    choices = getattr(response, "choices", None) or []
    if not choices:
        raise DetectionParseError(
            "The response holds no choices, so no boxes to read. Rerun; if it persists, "
            "check --model / model= names a Gemini model that takes images."
        )
    content = choices[0].message.content
    if not isinstance(content, str) or not content.strip():
        raise DetectionParseError(
            f"The reply holds no text (finish_reason={choices[0].finish_reason!r}), so no "
            "boxes to read. Rerun, or change the prompt or model."
        )
    return content


def detect(
    client: Any,
    source: ImageSource,
    *,
    prompt: str | None = None,
    model: str = DETECTION_MODEL,
    detail: Detail | None = None,
    policy: ImagePolicy | None = None,
    structured: bool = True,
    **create_kwargs: Any,
) -> list[Detection]:
    """Ask Gemini for bounding boxes in one call; boxes come back in the original's pixels.

    `client` is any sync `openai.OpenAI` pointed at Gemini (ours, a wrapped one, or a
    plain one). The image is loaded with `load_image` (always turned upright, downscaled
    when `detail="low"`); `box_px` is in pixels of the original image as seen upright.
    With `structured` the request carries `DETECTION_SCHEMA` as `response_format`; an
    endpoint that refuses it is asked again with the prompt alone, with a warning.
    Extra keyword arguments go to `chat.completions.create`.
    """
    image = load_image(source, detail=detail, policy=_upright_policy(policy))
    messages = detection_messages(image, prompt)
    request: dict[str, Any] = {"model": model, "messages": messages, **create_kwargs}
    if structured:
        try:
            response = client.chat.completions.create(**request, response_format=DETECTION_SCHEMA)
        except openai.BadRequestError as exc:
            if not _schema_refused(exc):
                raise
            _refused_warning(exc)
            response = client.chat.completions.create(**request)
    else:
        response = client.chat.completions.create(**request)
    return parse_detections(_reply_text(response), upright_size(image))


async def adetect(
    client: Any,
    source: ImageSource,
    *,
    prompt: str | None = None,
    model: str = DETECTION_MODEL,
    detail: Detail | None = None,
    policy: ImagePolicy | None = None,
    structured: bool = True,
    **create_kwargs: Any,
) -> list[Detection]:
    """`detect` for an `openai.AsyncOpenAI` client; the image is loaded off the event loop."""
    image = await asyncio.to_thread(
        load_image, source, detail=detail, policy=_upright_policy(policy)
    )
    messages = detection_messages(image, prompt)
    request: dict[str, Any] = {"model": model, "messages": messages, **create_kwargs}
    if structured:
        try:
            response = await client.chat.completions.create(
                **request, response_format=DETECTION_SCHEMA
            )
        except openai.BadRequestError as exc:
            if not _schema_refused(exc):
                raise
            _refused_warning(exc)
            response = await client.chat.completions.create(**request)
    else:
        response = await client.chat.completions.create(**request)
    return parse_detections(_reply_text(response), upright_size(image))
