"""An image's bytes, read as far as needed: the head, the tail, a range, or all of them.

Sending needs every byte; estimating needs only what the checks look at (a JPEG's
segments and its end marker, a PNG's chunks and their CRCs, a HEIF file's top-level
boxes). One `Blob` serves both: checks read through it, so an estimate refuses a broken
file in the very words sending would, while reading 64 KB of a 5 MB photo instead of all
of it.
A file is read with `pread`, a data URL decoded a few kilobytes at a time.
"""

from __future__ import annotations

import binascii
import math
import os
import re
import stat
from typing import IO
from urllib.parse import unquote_to_bytes

import pybase64

from ..errors import CorruptImageError, ImageError

__all__ = [
    "HEAD_BYTES",
    "Blob",
    "DataURLBlob",
    "FileBlob",
    "MemoryBlob",
    "data_url_header",
    "parse_data_url",
    "read_file",
    "split_data_url",
]

#: Bytes read to find an image's size and orientation. JPEG keeps both before its first
#: scan (EXIF is one APP1 segment of at most 64 KiB), PNG and WebP at the very start.
#: When the head is not enough (a large ICC profile, TIFF's trailing directory) the whole
#: input is read instead: still a read, never a decode.
HEAD_BYTES = 64 * 1024

_WHITESPACE = re.compile(rb"\s+")
_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/=_-]{64,}")


class Blob:
    """Random access to an image's bytes; `all()` reads (and keeps) every one of them."""

    size: int
    """The number of bytes. For a data URL it is counted from the payload's length, so
    whitespace inside the base64 (which decoding drops) can make it a few bytes high;
    `exact_size()` is exact."""

    def read_at(self, offset: int, length: int) -> bytes:
        """Up to `length` bytes from `offset` (fewer at the end)."""
        return self.all()[offset : offset + length]

    def head(self, length: int = HEAD_BYTES) -> bytes:
        """The first `length` bytes (all of them when there are fewer)."""
        return self.read_at(0, length)

    def tail(self, length: int) -> bytes:
        """The last `length` bytes (all of them when there are fewer)."""
        return self.read_at(max(0, self.size - length), length)

    def all(self) -> bytes:
        """Every byte."""
        raise NotImplementedError

    def exact_size(self) -> int:
        """The number of bytes, exactly (a data URL with whitespace is decoded to count)."""
        return self.size

    @property
    def complete(self) -> bool:
        """Whether every byte is in memory already (reading more costs nothing)."""
        return False

    def close(self) -> None:
        """Let go of any open file (bytes already read stay readable)."""


class MemoryBlob(Blob):
    """Bytes already in memory."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.size = len(data)

    def read_at(self, offset: int, length: int) -> bytes:
        return self._data[offset : offset + length]

    def all(self) -> bytes:
        return self._data

    @property
    def complete(self) -> bool:
        return True


def _file_error(path: str | os.PathLike[str], exc: Exception) -> ImageError:
    """A typed error for a file that cannot be read, naming the fix."""
    name = os.fsdecode(path)
    shown = name if len(name) <= 100 else f"{name[:60]}...({len(name):,} characters)"
    where = ""
    if isinstance(exc, FileNotFoundError) and not os.path.isabs(name):
        where = f" (relative to {os.getcwd()})"
    fix = "Check that the path names a readable image file."
    if isinstance(exc, IsADirectoryError):
        fix = "It is a folder: name an image file in it (ogv caption takes folders)."
    elif _BASE64_TEXT.fullmatch(name):
        fix = (
            "It looks like base64 image data, not a path: pass it as "
            "data:image/png;base64,<payload>, or decode it and pass the bytes."
        )
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return ImageError(f"Cannot read the image file{where}: {reason}. {fix}", source=shown)


def read_file(path: str | os.PathLike[str]) -> bytes:
    """Every byte of the file at `path`, or an `ImageError` naming the fix."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (OSError, ValueError) as exc:  # ValueError: a NUL inside the path
        raise _file_error(path, exc) from None


class FileBlob(Blob):
    """A file on disk, read by range; the whole file only when `all()` is asked for.

    Close it (or use it as a context manager) when done. Anything but a regular file (a
    pipe, a device) is read whole at once, as only a regular file can be read by range.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = path
        self._data: bytes | None = None
        self._handle: IO[bytes] | None = None
        # The first bytes, once read: the header probe, the completeness check and the
        # document sniff all start there, and each would otherwise read them again.
        self._head = b""
        try:
            handle = open(path, "rb")  # noqa: SIM115 - kept open for range reads; see close()
        except (OSError, ValueError) as exc:
            raise _file_error(path, exc) from None
        status = os.fstat(handle.fileno())
        if not stat.S_ISREG(status.st_mode):
            with handle:
                self._data = self._read(handle)
            self.size = len(self._data)
            return
        self._handle = handle
        self.size = status.st_size

    def _read(self, handle: IO[bytes]) -> bytes:
        try:
            return handle.read()
        except OSError as exc:
            raise _file_error(self.path, exc) from None

    def read_at(self, offset: int, length: int) -> bytes:
        if self._data is not None or self._handle is None:
            return self.all()[offset : offset + length]
        if offset + length <= len(self._head) or len(self._head) >= self.size > 0:
            return self._head[offset : offset + length]  # the head, or the whole small file
        try:
            return os.pread(self._handle.fileno(), max(0, length), offset)
        except OSError as exc:
            raise _file_error(self.path, exc) from None

    def head(self, length: int = HEAD_BYTES) -> bytes:
        if (
            self._data is None
            and self._handle is not None
            and len(self._head) < min(length, self.size)
        ):
            self._head = self.read_at(0, length)
        return self.read_at(0, length)

    def all(self) -> bytes:
        if self._data is None:
            if self._handle is None:
                raise ValueError("the file blob is closed")
            self._handle.seek(0)
            self._data = self._read(self._handle)
            self.size = len(self._data)  # the file may have grown or shrunk since
            self.close()
        return self._data

    @property
    def complete(self) -> bool:
        return self._data is not None

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> FileBlob:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def data_url_header(url: str) -> tuple[str | None, bool, int]:
    """(declared MIME type or None, whether it is base64, where the payload starts).

    Reads only the header: a data URL can hold megabytes, and slicing it copies them.
    """
    if url[:5].lower() != "data:":
        raise CorruptImageError(
            f"{url[:30]!r}... is not a data: URL. Write data:<mime>;base64,<payload>."
        )
    comma = url.find(",", 5)
    if comma < 0:
        raise CorruptImageError(
            "The data: URL has no comma between its header and its payload. Write "
            "data:image/png;base64,<payload>."
        )
    params = [p.strip() for p in url[5:comma].split(";")]
    base64 = "base64" in (p.lower() for p in params[1:])
    return params[0].lower() or None, base64, comma + 1


def split_data_url(url: str) -> tuple[str | None, bool, str]:
    """(declared MIME type or None, whether it is base64, payload) of a `data:` URL.

    Raises CorruptImageError for a string that is no data: URL or has no payload.
    """
    mime, base64, start = data_url_header(url)
    return mime, base64, url[start:]


def _decode_base64(payload: str) -> bytes:
    """Strict base64 first (the common case, at full speed), then the lenient forms."""
    try:
        return pybase64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        pass  # not strict base64: try the lenient forms below
    try:
        raw = _WHITESPACE.sub(b"", payload.encode("ascii"))
        raw = raw.replace(b"-", b"+").replace(b"_", b"/").rstrip(b"=")
        if len(raw) % 4 == 1:
            raise binascii.Error("a base64 payload cannot end with a single character")
        return pybase64.b64decode(raw + b"=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise CorruptImageError(
            f"The data: URL's base64 payload ({len(payload):,} characters) is malformed: "
            f"{exc}. Encode the image bytes with base64.b64encode and write "
            "data:<mime>;base64,<payload>.",
            source="data URL",
        ) from None


def parse_data_url(url: str) -> tuple[str | None, bytes]:
    """The declared MIME type (None when absent) and decoded bytes of a `data:` URL.

    Lenient where it is harmless: whitespace or newlines inside the base64, the URL-safe
    alphabet and missing padding are accepted. Raises CorruptImageError otherwise.
    """
    mime, base64, payload = split_data_url(url)
    if not base64:
        return mime, unquote_to_bytes(payload)
    return mime, _decode_base64(payload)


class DataURLBlob(Blob):
    """The bytes of a `data:` URL, its head and tail decoded on their own until all are needed.

    Base64 groups of 4 characters carry 3 bytes, aligned from the payload's start (and,
    as a valid payload's length is a multiple of 4, from its end): the head and the tail
    are decoded from the matching stretch of characters, checked strictly. Anything else
    (a range in the middle, a payload with whitespace or URL-safe letters inside the
    stretch) decodes the whole payload, leniently, as sending does.
    """

    def __init__(self, url: str) -> None:
        self.declared_mime, base64, self._start = data_url_header(url)
        self._url = url  # the payload is url[self._start:], sliced only where read
        self._data: bytes | None = None
        if not base64:
            self._data = unquote_to_bytes(url[self._start :])
            self.size = len(self._data)
            return
        length = len(url) - self._start
        padding = (url[-1:] == "=") + (url[-2:-1] == "=") if length >= 2 else 0
        # Counted from the length: whitespace inside the payload makes it a few bytes
        # high until the payload is decoded (`exact_size`).
        self.size = max(0, 3 * length // 4 - padding)
        self._ranged = length % 4 == 0

    def _strict(self, piece: str) -> bytes | None:
        try:
            return pybase64.b64decode(piece, validate=True)
        except (binascii.Error, ValueError):
            return None

    def head(self, length: int = HEAD_BYTES) -> bytes:
        if self._data is None and self._ranged and length < self.size:
            decoded = self._strict(self._url[self._start : self._start + 4 * math.ceil(length / 3)])
            if decoded is not None:
                return decoded[:length]
        return self.all()[:length]

    def tail(self, length: int) -> bytes:
        if length <= 0:
            return b""
        if self._data is None and self._ranged and length < self.size:
            first = max(self._start, len(self._url) - 4 * math.ceil((length + 2) / 3))
            decoded = self._strict(self._url[first:])
            if decoded is not None:
                return decoded[-length:]
        return self.all()[-length:]

    def read_at(self, offset: int, length: int) -> bytes:
        return self.all()[offset : offset + length]

    def all(self) -> bytes:
        if self._data is None:
            self._data = _decode_base64(self._url[self._start :])
            self.size = len(self._data)
        return self._data

    def exact_size(self) -> int:
        return len(self.all())

    @property
    def complete(self) -> bool:
        return self._data is not None
