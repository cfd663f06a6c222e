"""`Source`: what an image source is, decided once for sending, estimating and every command.

Anything that can name an image (a content-list item, a message's `image_url.url`
string, a command-line argument, an argument of `load_image`) is classified here and
nowhere else: its kind, its label in messages and errors, the key that tells a repeat
of it, and whether the local-files gate applies. Schemes are read as RFC 3986 defines
them (letters, digits, `+ - .`, matched without regard to case), so `DATA:` and `HTTPS:`
are URLs everywhere.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import cached_property
from typing import IO, Any, Literal, TypeAlias
from urllib.parse import urlsplit
from urllib.request import url2pathname

from PIL import Image

from .. import fetch
from ..errors import BlockedURLError, ImageError
from ..fetch import public_url
from ..policy import ImagePolicy
from .blob import (
    Blob,
    DataURLBlob,
    FileBlob,
    MemoryBlob,
    data_url_header,
    parse_data_url,
    read_file,
)
from .prepared import prepared_image_of

__all__ = [
    "ACCEPTED_SOURCES",
    "RAW_IMAGE_TYPES",
    "ImageSource",
    "Source",
    "SourceKind",
    "scheme_of",
]

ImageSource: TypeAlias = (
    str | os.PathLike[str] | bytes | bytearray | memoryview | Image.Image | IO[bytes]
)

#: What kind of thing names the image.
SourceKind = Literal[
    "path",  # a local file named by a path
    "file",  # a file:// URL
    "data",  # a data: URL
    "http",  # an http:// or https:// URL
    "url",  # a URL of any other scheme: never loaded
    "bytes",  # bytes, bytearray or memoryview
    "pil",  # a PIL.Image.Image
    "stream",  # a binary file object
    "prepared",  # a data URL this library prepared already
]

#: The sources an image may come from, in words, for error messages.
ACCEPTED_SOURCES = (
    "a path (str or pathlib.Path), a file://, data: or http(s):// URL, bytes, bytearray, "
    "memoryview, a PIL.Image.Image or a binary file object"
)

# RFC 3986, section 3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then ":".
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_KINDS_BY_SCHEME: dict[str, SourceKind] = {
    "data": "data",
    "http": "http",
    "https": "http",
    "file": "file",
}


def scheme_of(text: str) -> str:
    """The URL scheme `text` starts with, lower-cased; "" for none.

    One letter before the colon is a Windows drive (`C:\\photos\\a.jpg`), not a scheme.
    """
    match = _SCHEME.match(text)
    if match is None or len(match[1]) == 1:
        return ""
    return match[1].lower()


def _unusable(value: Any) -> ImageError:
    """The error for an `image_url.url` that is no string (`null`, a number, ...)."""
    return ImageError(
        f"image_url.url is a {type(value).__name__}; write a data: or http(s):// URL "
        "string, or put a PIL image, pathlib.Path or bytes in the content list."
    )


def _stream_name(stream: Any) -> str:
    name = getattr(stream, "name", None)
    return os.fsdecode(name) if isinstance(name, str | bytes) else "file object"


@dataclass(frozen=True, eq=False)
class Source:
    """One image source, classified: its kind, its label, its repeat key, and its gate.

    Build one with `Source.of(...)` (library values and message items) or
    `Source.argument(...)` (command-line arguments).
    """

    kind: SourceKind
    value: Any
    """The object as given: a str, a Path, bytes, a PIL image, a file object."""
    label: str
    """How messages, errors and reports name it: a path, a URL without its query or
    credentials, "data URL", "bytes", "PIL image", "stdin", a file object's name."""
    from_messages: bool = False
    """A string found in message JSON: local paths and file:// URLs are read only when
    the policy allows local files, as such JSON may come from strangers."""

    @classmethod
    def of(cls, value: Any, *, from_messages: bool = False) -> Source:
        """Classify any image source; `from_messages` for strings taken from message JSON."""
        if isinstance(value, Source):
            return value
        if isinstance(value, str):
            image = prepared_image_of(value)
            if image is not None:
                return cls("prepared", image, image.source or "prepared image")
            return cls._of_string(value, from_messages)
        if from_messages and not isinstance(value, RAW_IMAGE_TYPES):
            raise _unusable(value)
        if isinstance(value, os.PathLike):
            return cls("path", value, os.fsdecode(os.fspath(value)))
        if isinstance(value, bytes | bytearray | memoryview):
            return cls("bytes", value, "bytes")
        if isinstance(value, Image.Image):
            return cls("pil", value, "PIL image")
        if callable(getattr(value, "read", None)):
            return cls("stream", value, _stream_name(value))
        raise TypeError(
            f"Cannot load an image from a {type(value).__name__}; pass {ACCEPTED_SOURCES}."
        )

    @classmethod
    def _of_string(cls, text: str, from_messages: bool) -> Source:
        scheme = scheme_of(text)
        if not scheme:
            return cls("path", text, text, from_messages)
        kind = _KINDS_BY_SCHEME.get(scheme, "url")
        label = "data URL" if kind == "data" else public_url(text)
        if kind == "file":
            label = text if len(text) <= 200 else f"{text[:120]}..."
        return cls(kind, text, label, from_messages)

    @classmethod
    def argument(cls, text: str, read_stdin: Callable[[], bytes]) -> Source:
        """A command-line IMAGE argument: `-` is the bytes on stdin, anything else as `of`."""
        if text == "-":
            return cls("bytes", read_stdin(), "stdin")
        return cls.of(text)

    @property
    def is_raw(self) -> bool:
        """Whether the source is a Python object rather than a string from JSON."""
        return not isinstance(self.value, str)

    @property
    def error_label(self) -> str | None:
        """The label errors carry as their `source`; None for anonymous bytes."""
        return None if self.label in {"bytes", "file object"} else self.label

    @cached_property
    def key(self) -> Hashable:
        """What makes two sources the same image: the path, the URL, the bytes, the object."""
        if self.kind == "path":
            return ("path", os.path.normpath(os.path.abspath(os.fsdecode(self.value))))
        if isinstance(self.value, str) and self.kind != "prepared":
            return ("string", self.value)
        if isinstance(self.value, bytes | bytearray | memoryview):
            return ("bytes", bytes(self.value))
        return ("object", id(self.value))  # alive in the caller's hands for the whole call

    @cached_property
    def declared_mime(self) -> str | None:
        """The MIME type a data: URL declares (None for other sources or none declared)."""
        return data_url_header(self.value)[0] if self.kind == "data" else None

    def local_path(self, policy: ImagePolicy) -> str:
        """The file a path or file:// URL names, if the policy lets it be read.

        The one gate for sending and estimating alike: a string from message JSON is
        read only with `allow_local_files`; a URL of another scheme is never read.
        """
        if self.kind == "url":
            raise BlockedURLError(
                f"Cannot load an image from a {scheme_of(self.value)}: URL. Use an http(s):// or data: URL, or a local path (write ./name for a file "
                "whose name holds a colon).",
                source=self.label,
            )
        if self.from_messages and not policy.allow_local_files:
            raise BlockedURLError(
                "The image is a local file path inside the messages; reading it is off because message JSON may come from strangers. Pass "
                "ImagePolicy(allow_local_files=True) to allow it, or put a pathlib.Path in "
                "the content list.",
                source=self.label,
            )
        if self.kind == "path":
            return os.fsdecode(os.fspath(self.value))
        parts = urlsplit(self.value)
        if parts.netloc not in {"", "localhost"}:
            raise BlockedURLError(
                f"The file URL names another host ({parts.netloc}); only local files "
                "(file:///path) can be read.",
                source=self.label,
            )
        return url2pathname(parts.path)

    def blob(
        self, policy: ImagePolicy, *, lazy: bool = False, fetched: bytes | None = None
    ) -> Blob:
        """The source's bytes, read whole, or (`lazy`) as far as the checks will need.

        An http(s) URL is fetched now unless its bytes are given as `fetched`.
        """
        kind = self.kind
        if kind in {"path", "file", "url"}:
            path = self.local_path(policy)
            return FileBlob(path) if lazy else MemoryBlob(read_file(path))
        if kind == "data":
            return DataURLBlob(self.value) if lazy else MemoryBlob(parse_data_url(self.value)[1])
        if kind == "http":
            return MemoryBlob(
                fetched if fetched is not None else fetch.fetch_image(self.value, policy)
            )
        if kind == "bytes":
            return MemoryBlob(bytes(self.value))
        if kind == "stream":
            return MemoryBlob(_read_stream(self.value, self.label))
        raise TypeError(f"A {kind} source has no bytes to read; prepare it as an image.")


#: Content-list items that are images themselves, in the google-genai habit
#: `["What is this?", image]`. They cannot come from JSON, so they are trusted.
RAW_IMAGE_TYPES = (Image.Image, os.PathLike, bytes, bytearray, memoryview, Source)


def _read_stream(stream: Any, name: str) -> bytes:
    label = None if name == "file object" else name
    text_mode = ImageError(
        "The file object is open in text mode; images are binary. Open it with "
        "open(path, 'rb') or pass its path.",
        source=label,
    )
    try:
        data = stream.read()
    except UnicodeDecodeError:  # image bytes read through a text-mode file
        raise text_mode from None
    except OSError as exc:
        raise ImageError(
            f"Cannot read the image from the file object: {exc}.", source=label
        ) from None
    if isinstance(data, str):
        raise text_mode
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ImageError(
            f"Reading the file object gave {type(data).__name__}, not bytes. Pass a binary "
            "file object (open(path, 'rb'), io.BytesIO) or the bytes.",
            source=label,
        )
    return bytes(data)
