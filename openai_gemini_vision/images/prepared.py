"""`PreparedImage`: the bytes Gemini will be sent, and what was done to get there."""

from __future__ import annotations

import hashlib
import math
import weakref
from functools import cached_property
from typing import Any

import pybase64
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "SUPPORTED_MIME_TYPES",
    "PreparedImage",
    "data_url",
    "encoded_length",
    "payload_placeholder",
    "prepared_image_of",
]

#: The only image types Gemini's endpoint takes; its own rejection text lists them:
#: "MIME type must be image/png, image/jpeg, image/webp, image/heic, or image/heif".
SUPPORTED_MIME_TYPES: frozenset[str] = frozenset(
    {"image/png", "image/jpeg", "image/webp", "image/heic", "image/heif"}
)


def data_url(mime_type: str, data: bytes) -> str:
    """`data:<mime>;base64,<data>`: what goes into `image_url.url`.

    The plain `f"...{base64.b64encode(data).decode()}"` cost 1.6x the bare encoder on a
    20 MB PNG (two more copies of the payload through fresh memory); pybase64's SIMD
    encoder returns the str directly, faster than the bare encoder (bench/bench_images.py).
    """
    return f"data:{mime_type};base64," + pybase64.b64encode_as_string(data)


def encoded_length(mime_type: str, size: int) -> int:
    """Length of the data URL of `size` bytes of `mime_type`, computed without encoding."""
    return len("data:;base64,") + len(mime_type) + 4 * math.ceil(size / 3)


def payload_placeholder(mime_type: str, data: bytes) -> str:
    """An image payload as people read it: `<image/jpeg 38,112 bytes sha256:ab12cd34ef567890>`.

    Shown wherever base64 would drown the rest (`ogv ask --dry-run`, recorded requests);
    16 hex digits of the digest tell images apart without filling the line.
    """
    return f"<{mime_type} {len(data):,} bytes sha256:{hashlib.sha256(data).hexdigest()[:16]}>"


class PreparedImage(BaseModel):
    """An image ready for Gemini: the bytes as sent, and what was done to them."""

    model_config = ConfigDict(frozen=True)

    mime_type: str
    width: int
    """Width as sent."""
    height: int
    original_width: int
    """Width of the image as given, before orientation or resizing."""
    original_height: int
    original_format: str
    """Pillow's name of the format given ("JPEG", "GIF", "HEIF", ...)."""
    data: bytes = Field(repr=False)
    """The bytes as sent."""
    changes: tuple[str, ...] = ()
    """What was done, in words; empty exactly when `data` is the input byte for byte.

    A corrected type label is listed too ("declared image/jpg, is image/jpeg"), although
    the bytes are untouched: the type sent is part of what was done."""
    source: str = ""
    """Where the image came from (a path, a URL without its query, "bytes", ...)."""
    orientation: int = 1
    """The EXIF orientation that was applied (1 when none was, or it was already upright)."""

    @property
    def byte_size(self) -> int:
        """Number of bytes as sent (before base64)."""
        return len(self.data)

    @cached_property
    def sha256(self) -> str:
        """Hex SHA-256 of the bytes as sent."""
        return hashlib.sha256(self.data).hexdigest()

    @cached_property
    def data_url(self) -> str:
        """`data:<mime>;base64,...`: what goes into `image_url.url`.

        The string is remembered as prepared (`prepared_image_of`) for as long as this
        image lives, so a body holding it is passed on without being prepared again.
        """
        url = data_url(self.mime_type, self.data)
        _PREPARED[id(url)] = self
        return url

    @property
    def placeholder(self) -> str:
        """This image's payload in short: `<image/jpeg 38,112 bytes sha256:ab12cd34ef567890>`."""
        return payload_placeholder(self.mime_type, self.data)

    @property
    def encoded_size(self) -> int:
        """Length of `data_url` in characters, computed without encoding."""
        return encoded_length(self.mime_type, len(self.data))

    def part(self, detail: str | None = None) -> dict[str, Any]:
        """This image as an OpenAI `image_url` content part."""
        image_url: dict[str, Any] = {"url": self.data_url}
        if detail is not None:
            image_url["detail"] = detail
        return {"type": "image_url", "image_url": image_url}

    def __repr__(self) -> str:
        changed = f", changes={list(self.changes)!r}" if self.changes else ""
        return (
            f"PreparedImage({self.mime_type}, {self.width}x{self.height}, "
            f"{self.byte_size:,} bytes, sha256={self.sha256[:12]}{changed})"
        )


# Data URLs this library made, by the identity of the string, each with its image. The
# image keeps its string alive (`data_url` is cached on it), so while an entry lives its
# id cannot be taken by another string; entries go with their images. A marker in a
# str subclass would cost a copy of every payload (11 ms for a 20 MB image).
_PREPARED: weakref.WeakValueDictionary[int, PreparedImage] = weakref.WeakValueDictionary()


def prepared_image_of(url: object) -> PreparedImage | None:
    """The image whose `data_url` is this very string object, if it is alive; else None."""
    image = _PREPARED.get(id(url))
    if image is not None and image.__dict__.get("data_url") is url:
        return image
    return None
