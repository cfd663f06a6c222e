"""`detect()`: ask Gemini where the objects in one image are, in one call.

`detect()` sends the image upright (EXIF orientation applied) and reads the boxes of the
reply onto the caller's image as seen upright (`boxes`), whatever downscaling happened on
the way.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import anyio.to_thread
import openai

from ..errors import DetectionParseError, DetectionWarning
from ..images.load import load_image
from ..images.prepared import PreparedImage
from ..images.source import ImageSource, Source
from ..policy import DEFAULT_POLICY, Detail, ImagePolicy
from .boxes import Detection, parse_detections, upright_size

__all__ = [
    "DEFAULT_DETECTION_PROMPT",
    "DETECTION_MODEL",
    "DETECTION_SCHEMA",
    "Detections",
    "adetect",
    "detect",
    "detection_messages",
]

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


def detection_messages(image: PreparedImage, prompt: str | None = None) -> list[dict[str, Any]]:
    """The chat messages `detect` sends: the image, then the prompt (Google puts text last)."""
    text = prompt or DEFAULT_DETECTION_PROMPT
    if "box_2d" not in text:
        text = f"{text.rstrip()}\n{_FORMAT_HINT}"
    return [{"role": "user", "content": [image.part(), {"type": "text", "text": text}]}]


def _schema_refused(exc: openai.BadRequestError) -> bool:
    text = str(exc).lower()
    return any(word in text for word in _SCHEMA_REFUSED)


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


class Detections(list[Detection]):
    """The detections `detect` found, and the image it sent for them (`image`)."""

    def __init__(self, detections: list[Detection], image: PreparedImage) -> None:
        super().__init__(detections)
        self.image = image
        """The image as sent: upright, converted or downscaled as `changes` says."""


class _Exchange:
    """One detection: its request, a schema the endpoint refused, its answer read.

    What `detect` and `adetect` share; they differ only in how they call the client.
    """

    def __init__(
        self,
        image: PreparedImage,
        prompt: str | None,
        model: str,
        structured: bool,
        create_kwargs: dict[str, Any],
    ) -> None:
        self.image = image
        self.request: dict[str, Any] = {
            "model": model,
            "messages": detection_messages(image, prompt),
            **create_kwargs,
        }
        if structured:
            self.request["response_format"] = DETECTION_SCHEMA

    def refused(self, exc: openai.BadRequestError) -> None:
        """Ask again without the schema the endpoint refused (with a warning); else raise."""
        if "response_format" not in self.request or not _schema_refused(exc):
            raise exc
        del self.request["response_format"]
        warnings.warn(
            f"The endpoint refused response_format ({' '.join(str(exc).split())[:200]}); "
            "asked again with the prompt alone. Pass structured=False to skip the first "
            "attempt.",
            DetectionWarning,
            stacklevel=3,
        )

    def result(self, response: Any) -> Detections:
        """The boxes of the reply, in pixels of the caller's image as seen upright."""
        found = parse_detections(_reply_text(response), upright_size(self.image))
        return Detections(found, self.image)


def _load(
    source: ImageSource | Source, detail: Detail | None, policy: ImagePolicy | None
) -> PreparedImage:
    # Boxes are only meaningful on pixels whose orientation is known: send upright pixels
    # rather than leave EXIF orientation to the server.
    policy = policy or DEFAULT_POLICY
    if not policy.fix_orientation:
        policy = policy.model_copy(update={"fix_orientation": True})
    return load_image(source, detail=detail, policy=policy)


def detect(
    client: Any,
    source: ImageSource | Source,
    *,
    prompt: str | None = None,
    model: str = DETECTION_MODEL,
    detail: Detail | None = None,
    policy: ImagePolicy | None = None,
    structured: bool = True,
    **create_kwargs: Any,
) -> Detections:
    """Ask Gemini for bounding boxes in one call; boxes come back in the original's pixels.

    `client` is any sync `openai.OpenAI` pointed at Gemini (ours, a wrapped one, or a
    plain one). The image is loaded with `load_image` (always turned upright, downscaled
    when `detail="low"`) and sent as prepared; `box_px` is in pixels of the original
    image as seen upright, and the result's `image` is the image sent. With `structured`
    the request carries `DETECTION_SCHEMA` as `response_format`; an endpoint that
    refuses it is asked again with the prompt alone, with a warning. Extra keyword
    arguments go to `chat.completions.create`.
    """
    call = _Exchange(_load(source, detail, policy), prompt, model, structured, create_kwargs)
    while True:
        try:
            return call.result(client.chat.completions.create(**call.request))
        except openai.BadRequestError as exc:
            call.refused(exc)


async def adetect(
    client: Any,
    source: ImageSource | Source,
    *,
    prompt: str | None = None,
    model: str = DETECTION_MODEL,
    detail: Detail | None = None,
    policy: ImagePolicy | None = None,
    structured: bool = True,
    **create_kwargs: Any,
) -> Detections:
    """`detect` for an `openai.AsyncOpenAI` client; the image is loaded off the event loop."""
    load = functools.partial(_load, source, detail, policy)
    call = _Exchange(await anyio.to_thread.run_sync(load), prompt, model, structured, create_kwargs)
    while True:
        try:
            return call.result(await client.chat.completions.create(**call.request))
        except openai.BadRequestError as exc:
            call.refused(exc)
