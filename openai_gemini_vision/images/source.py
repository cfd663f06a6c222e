"""Any image source (path, bytes, PIL image, file object, data URL, http(s) URL) -> `PreparedImage`.

The format is always read from the bytes, never from a file name or a declared type.
A supported image that needs nothing done passes through byte for byte: no decode, no
re-encode; everything else goes to `convert` and says what was done in `changes`.
"""

from __future__ import annotations

import binascii
import os
import re
from typing import IO, Any, TypeAlias
from urllib.parse import unquote_to_bytes, urlsplit
from urllib.request import url2pathname

import pybase64
from PIL import Image

from .. import fetch
from ..errors import BlockedURLError, CorruptImageError, ImageError, UnsupportedImageError
from ..fetch import public_url
from ..policy import DEFAULT_POLICY, Detail, ImagePolicy
from . import convert
from .prepared import SUPPORTED_MIME_TYPES, PreparedImage
from .probe import planned_size, probe
from .sniff import check_complete, not_an_image, vector_error

__all__ = [
    "ImageSource",
    "image_part",
    "load_image",
    "load_url_source",
    "local_path",
    "parse_data_url",
    "prepare_bytes",
]

ImageSource: TypeAlias = (
    str | os.PathLike[str] | bytes | bytearray | memoryview | Image.Image | IO[bytes]
)

_ACCEPTED = (
    "a path (str or pathlib.Path), a file://, data: or http(s):// URL, bytes, bytearray, "
    "memoryview, a PIL.Image.Image or a binary file object"
)
_WHITESPACE = re.compile(rb"\s+")


def _label_note(declared: str | None, actual: str) -> list[str]:
    if declared is None or declared.lower() == actual:
        return []
    if len(declared) > 60:  # a stranger's label must not fill logs and reports
        declared = f"{declared[:40]}...({len(declared):,} characters)"
    return [f"declared {declared}, is {actual}: sent as {actual}"]


def prepare_bytes(
    data: bytes,
    *,
    detail: Detail | None = None,
    policy: ImagePolicy | None = None,
    source: str = "bytes",
    declared_mime: str | None = None,
) -> PreparedImage:
    """Check, convert, orient and downscale image bytes; passthrough when nothing is needed.

    `declared_mime` is the type the bytes were labelled with (a data URL's); a wrong
    label is corrected and listed in `changes`.
    """
    policy = policy or DEFAULT_POLICY
    if not isinstance(data, bytes):
        data = bytes(data)
    try:
        info = probe(data, policy)
    except CorruptImageError as exc:
        raise not_an_image(data, source) or exc from None
    check_complete(info, data, source)
    vector = vector_error(info, source)
    if vector:
        raise vector
    notes = _label_note(declared_mime, info.mime_type)
    target = planned_size(info, detail=detail, policy=policy)
    oriented = policy.fix_orientation and info.orientation != 1
    if info.supported and not oriented and target == (info.width, info.height):
        return PreparedImage(
            mime_type=info.mime_type,
            width=info.width,
            height=info.height,
            original_width=info.width,
            original_height=info.height,
            original_format=info.format,
            data=data,
            changes=tuple(notes),
            source=source,
        )
    if not info.supported and not policy.convert_unsupported:
        raise UnsupportedImageError(
            f"The image ({source}) is {info.format} ({info.mime_type}); Gemini takes only "
            f"{', '.join(sorted(SUPPORTED_MIME_TYPES))}. Convert it first, or leave "
            "ImagePolicy(convert_unsupported=True) to have it converted to PNG or JPEG."
        )
    return convert.transform(
        data, info, target=target, detail=detail, policy=policy, source=source, notes=notes
    )


def parse_data_url(url: str) -> tuple[str | None, bytes]:
    """The declared MIME type (None when absent) and decoded bytes of a `data:` URL.

    Lenient where it is harmless: whitespace or newlines inside the base64, the URL-safe
    alphabet and missing padding are accepted. Raises CorruptImageError otherwise.
    """
    if url[:5].lower() != "data:":
        raise CorruptImageError(
            f"{url[:30]!r}... is not a data: URL. Write data:<mime>;base64,<payload>."
        )
    header, comma, payload = url[5:].partition(",")
    if not comma:
        raise CorruptImageError(
            "The data: URL has no comma between its header and its payload. Write "
            "data:image/png;base64,<payload>."
        )
    params = [p.strip() for p in header.split(";")]
    mime = params[0].lower() or None
    if "base64" not in (p.lower() for p in params[1:]):
        return mime, unquote_to_bytes(payload)
    try:
        return mime, pybase64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        pass  # not strict base64: try the lenient forms below
    try:
        raw = _WHITESPACE.sub(b"", payload.encode("ascii"))
        raw = raw.replace(b"-", b"+").replace(b"_", b"/").rstrip(b"=")
        if len(raw) % 4 == 1:
            raise binascii.Error("a base64 payload cannot end with a single character")
        return mime, pybase64.b64decode(raw + b"=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise CorruptImageError(
            f"The data: URL's base64 payload ({len(payload):,} characters) is malformed: "
            f"{exc}. Encode the image bytes with base64.b64encode and write "
            "data:<mime>;base64,<payload>."
        ) from None


_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/=_-]{64,}")


def _read_file(path: str | os.PathLike[str]) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (OSError, ValueError) as exc:  # ValueError: a NUL inside the path
        name = os.fsdecode(path)
        shown = name if len(name) <= 100 else f"{name[:60]}...({len(name):,} characters)"
        where = ""
        if isinstance(exc, FileNotFoundError) and not os.path.isabs(name):
            where = f" (relative to {os.getcwd()})"
        fix = "Check that the path names a readable image file."
        if _BASE64_TEXT.fullmatch(name):
            fix = (
                "It looks like base64 image data, not a path: pass it as "
                "data:image/png;base64,<payload>, or decode it and pass the bytes."
            )
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ImageError(f"Cannot read the image file {shown!r}{where}: {reason}. {fix}") from None


def _load_string(
    url: str, detail: Detail | None, policy: ImagePolicy, local_files: bool
) -> PreparedImage:
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        scheme = ""
    if scheme == "data":
        mime, data = parse_data_url(url)
        return prepare_bytes(
            data, detail=detail, policy=policy, source="data URL", declared_mime=mime
        )
    if scheme in {"http", "https"}:
        data = fetch.fetch_image(url, policy)
        return prepare_bytes(data, detail=detail, policy=policy, source=public_url(url))
    path = local_path(url, scheme, local_files=local_files)
    return prepare_bytes(_read_file(path), detail=detail, policy=policy, source=path)


def local_path(url: str, scheme: str, *, local_files: bool) -> str:
    """The file a string that is no data: or http(s) URL names, if policy lets it be read.

    `scheme` is `url`'s, lower-cased. The one gate for sending and estimating alike.
    """
    if scheme not in {"file", ""} and len(scheme) > 1:  # one letter: a Windows drive
        raise BlockedURLError(
            f"Cannot load an image from a {scheme}: URL ({public_url(url)}). Use an "
            "http(s):// or data: URL, or a local path."
        )
    if not local_files:
        raise BlockedURLError(
            f"The image {url[:80]!r} is a local file path inside the messages; reading it is "
            "off because message JSON may come from strangers. Pass ImagePolicy("
            "allow_local_files=True) to allow it, or put a pathlib.Path in the content list."
        )
    if scheme != "file":
        return url
    parts = urlsplit(url)
    if parts.netloc not in {"", "localhost"}:
        raise BlockedURLError(
            f"The file URL {url[:80]!r} names another host ({parts.netloc}); only "
            "local files (file:///path) can be read."
        )
    return url2pathname(parts.path)


def load_url_source(
    url: str, *, detail: Detail | None = None, policy: ImagePolicy | None = None
) -> PreparedImage:
    """Load the string found in a message's `image_url.url`: data:, http(s), or a gated path."""
    policy = policy or DEFAULT_POLICY
    return _load_string(url, detail, policy, local_files=policy.allow_local_files)


def _read_stream(stream: Any) -> tuple[bytes, str]:
    name = getattr(stream, "name", None)
    source = os.fsdecode(name) if isinstance(name, str | bytes) else "file object"
    text_mode = ImageError(
        f"The file object {source} is open in text mode; images are binary. Open it "
        "with open(path, 'rb') or pass its path."
    )
    try:
        data = stream.read()
    except UnicodeDecodeError:  # image bytes read through a text-mode file
        raise text_mode from None
    except OSError as exc:
        raise ImageError(f"Cannot read the image from {source}: {exc}.") from None
    if isinstance(data, str):
        raise text_mode
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ImageError(
            f"Reading the file object {source} gave {type(data).__name__}, not bytes. "
            "Pass a binary file object (open(path, 'rb'), io.BytesIO) or the bytes."
        )
    return bytes(data), source


def load_image(
    source: ImageSource, *, detail: Detail | None = None, policy: ImagePolicy | None = None
) -> PreparedImage:
    """Turn any image source into a checked `PreparedImage`.

    Paths and file:// URLs given here are always read: `allow_local_files` only gates
    strings found inside message JSON.
    """
    policy = policy or DEFAULT_POLICY
    if isinstance(source, str):
        return _load_string(source, detail, policy, local_files=True)
    if isinstance(source, os.PathLike):
        path = os.fspath(source)
        return prepare_bytes(
            _read_file(path), detail=detail, policy=policy, source=os.fsdecode(path)
        )
    if isinstance(source, bytes | bytearray | memoryview):
        return prepare_bytes(bytes(source), detail=detail, policy=policy)
    if isinstance(source, Image.Image):
        return convert.encode_pil(source, detail=detail, policy=policy)
    if callable(getattr(source, "read", None)):
        data, name = _read_stream(source)
        return prepare_bytes(data, detail=detail, policy=policy, source=name)
    raise TypeError(f"Cannot load an image from a {type(source).__name__}; pass {_ACCEPTED}.")


def image_part(
    source: ImageSource, *, detail: Detail | None = None, policy: ImagePolicy | None = None
) -> dict[str, Any]:
    """An OpenAI `image_url` content part holding `source` as a checked data URL."""
    return load_image(source, detail=detail, policy=policy).part(detail)
