"""Reading OpenAI chat messages: a private copy to rewrite, and where the images are.

Messages arrive as dicts, openai's typed params (which are dicts at run time) or
pydantic models (a `ChatCompletionMessage` fed back into the next turn). `copy_messages`
turns them into plain dicts and lists without touching the caller's objects;
`image_slots` finds every place an image sits, and each slot classifies its image once
(`images.Source`), so the preparer and the token estimator walk messages the same way.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ..errors import GeminiVisionError, MessageFormatError
from ..images.source import RAW_IMAGE_TYPES, Source

__all__ = ["ImageSlot", "copy_messages", "image_slots", "located", "text_of"]


def located(exc: Exception, where: str) -> Exception:
    """`exc` of the same type, its message starting with where the image sits."""
    if isinstance(exc, GeminiVisionError):
        return exc.located(where)
    try:
        moved = type(exc)(f"{where}: {exc}")
    except Exception:  # noqa: BLE001 - an exception type that does not take one message
        exc.add_note(f"while preparing the image at {where}")
        return exc
    moved.__dict__.update(exc.__dict__)
    return moved.with_traceback(exc.__traceback__)


@dataclass
class ImageSlot:
    """One image in a message: the content list holding it, and its position there."""

    content: list[Any]
    index: int
    value: Any
    """The `image_url.url` string, or the raw object (PIL image, Path, bytes, Source)."""
    detail: str | None
    """The part's own `image_url.detail`, if any."""
    message: int = -1
    """Position of the message holding the image in the request (-1 when not known)."""

    @cached_property
    def source(self) -> Source:
        """The image, classified; a string is gated as JSON from strangers may be.

        Raises ImageError for a `url` that is no string (`null`, a number).
        """
        return Source.of(self.value, from_messages=not isinstance(self.value, RAW_IMAGE_TYPES))

    @property
    def where(self) -> str:
        """The image's place as a reader finds it: `messages[2].content[1]`."""
        return f"messages[{self.message}].content[{self.index}]"

    def replace(self, part: dict[str, Any]) -> None:
        """Put `part` where this image was."""
        self.content[self.index] = part


def _plain(value: Any) -> Any:
    """A deep copy made of dicts and lists; pydantic models become their JSON-ready dicts."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, RAW_IMAGE_TYPES):
        return value
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump):
        return _plain(model_dump(exclude_unset=True, mode="json"))
    if isinstance(value, Iterator) and not isinstance(value, io.IOBase):
        # openai's types take any Iterable of parts (a generator, a map object) and
        # list it before sending; a file object is an iterator too but never a part list.
        return [_plain(item) for item in value]
    return value


def copy_messages(messages: Iterable[Any]) -> list[dict[str, Any]]:
    """The messages as new plain dicts and lists; the caller's objects stay untouched."""
    if isinstance(messages, str | bytes | Mapping):
        raise MessageFormatError(
            "messages must be a list of message dicts, e.g. "
            '[{"role": "user", "content": [...]}], not a single '
            f"{type(messages).__name__}."
        )
    copied = [_plain(message) for message in messages]
    for position, message in enumerate(copied):
        if not isinstance(message, dict):
            raise MessageFormatError(
                f"messages[{position}] is a {type(message).__name__}; each message must be a "
                'dict such as {"role": "user", "content": "..."}.'
            )
    return copied


def image_slots(messages: list[dict[str, Any]]) -> Iterator[ImageSlot]:
    """Every image in copied messages, in message order."""
    for position, message in enumerate(messages):
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for index, part in enumerate(content):
            if isinstance(part, RAW_IMAGE_TYPES):
                yield ImageSlot(content, index, part, None, position)
            elif isinstance(part, dict) and part.get("type") == "image_url":
                image_url = part.get("image_url")
                if isinstance(image_url, str):  # a loose but common spelling
                    yield ImageSlot(content, index, image_url, None, position)
                elif isinstance(image_url, dict) and "url" in image_url:
                    detail = image_url.get("detail")
                    yield ImageSlot(
                        content,
                        index,
                        image_url["url"],
                        detail if isinstance(detail, str) else None,
                        position,
                    )


def text_of(messages: list[dict[str, Any]]) -> str:
    """All the text a request carries (contents, text parts, tool-call arguments), joined."""
    pieces: list[str] = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            pieces.append(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, str):
                    pieces.append(part)
                elif isinstance(part, dict) and isinstance(part.get("text"), str):
                    pieces.append(part["text"])
        calls = message.get("tool_calls")
        for call in calls if isinstance(calls, list) else ():  # JSON from strangers: any type
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                pieces.extend(str(function.get(key, "")) for key in ("name", "arguments"))
    return "\n".join(pieces)
