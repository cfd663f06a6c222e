"""What bytes really are, beyond Pillow's header read, without decoding any pixels.

`not_an_image()` names common non-image payloads (SVG, PDF, HTML, ZIP, text) so the
error says what was found. `check_complete()` catches truncated files and broken JPEG
Huffman tables from the container structure alone: Pillow's lazy open reads only the
header, and a passed-through image is never decoded, so without it a cut-off download
would reach Gemini.
"""

from __future__ import annotations

import zlib

from ..errors import CorruptImageError, ImageError, UnsupportedImageError
from .blob import Blob
from .probe import ImageInfo

__all__ = ["check_complete", "not_an_image", "vector_error"]

_FIVE = "PNG, JPEG, WebP, HEIC or HEIF"

# Leading bytes of image formats, from each format's specification.
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)

_PNG_PIXEL_CHUNKS = frozenset({b"IDAT", b"fdAT"})

# How many leading bytes to look at when naming a non-image payload.
_SNIFF_BYTES = 1024


def _text_head(data: bytes) -> str:
    head = data[:_SNIFF_BYTES]
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    return head.decode("utf-8", "replace").lstrip().lower()


def _looks_like_text(data: bytes) -> bool:
    head = data[:_SNIFF_BYTES]
    if b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A cut in the middle of a multi-byte character at the end of the window is fine.
        if exc.start < len(head) - 3:
            return False
        text = head[: exc.start].decode("utf-8")
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return bool(text) and printable >= 0.95 * len(text)


def _known_magic(data: bytes) -> str | None:
    """The image format `data` announces in its first bytes, if any."""
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if data[4:8] == b"ftyp":
        return "HEIF/AVIF"
    return None


def not_an_image(data: bytes, size: int | None = None) -> ImageError | None:
    """A typed error naming what `data` is when it is a known non-image, else None.

    `data` may be only the first bytes of the input (`size` then counts all of them).
    """
    size = len(data) if size is None else size
    head = _text_head(data)
    if head.startswith("<svg") or (head.startswith("<?xml") and "<svg" in head):
        return UnsupportedImageError(
            f"The input is an SVG drawing, which Gemini does not take. Rasterize it "
            f"first (for example with cairosvg.svg2png) and pass the {_FIVE} bytes."
        )
    if data.startswith(b"%PDF-"):
        return UnsupportedImageError(
            f"The input is a PDF document, not an image. Render the pages you need "
            f"to images first (for example with pypdfium2) and pass those as {_FIVE}."
        )
    if head.startswith(("<!doctype html", "<html", "<head", "<body")):
        return CorruptImageError(
            f"The input is an HTML page, not an image: often a server's error or "
            f"login page saved under an image name. Check where it came from and pass "
            f"the {_FIVE} image itself."
        )
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return CorruptImageError(
            f"The input is a ZIP archive, not an image. Extract the image and pass "
            f"its {_FIVE} bytes."
        )
    known = _known_magic(data)
    if known:
        return CorruptImageError(
            f"The input starts like a {known} image but cannot be read: it is "
            f"truncated or damaged ({size:,} bytes). Pass the complete, undamaged file."
        )
    if _looks_like_text(data):
        preview = data[:40].decode("utf-8", "replace")
        return CorruptImageError(
            f"The input is text ({preview!r}...), not an image. Pass the bytes of "
            f"a {_FIVE} image; a base64 string goes in a data: URL."
        )
    return None


def vector_error(info: ImageInfo) -> UnsupportedImageError | None:
    """An error for formats Pillow opens but can only draw through Ghostscript (EPS)."""
    if info.format != "EPS":
        return None
    return UnsupportedImageError(
        f"The input is Encapsulated PostScript, a vector format Gemini does not "
        f"take. Rasterize it first (for example with Ghostscript) and pass {_FIVE} bytes."
    )


def _truncated(info: ImageInfo, size: int, what: str) -> CorruptImageError:
    return CorruptImageError(
        f"The {info.format} image is truncated or damaged: {what} "
        f"({size:,} bytes). Pass the complete file (a cut-off download or copy looks like this)."
    )


def _jpeg_scan_start(data: bytes) -> int | str:
    """Offset of the first scan's entropy-coded data, or a description of what is broken."""
    pos, end = 2, len(data)
    while pos < end:
        if data[pos] != 0xFF:
            pos += 1  # stray bytes between segments: libjpeg and Pillow skip them too
            continue
        while pos < end and data[pos] == 0xFF:
            pos += 1
        if pos >= end:
            break
        marker = data[pos]
        pos += 1
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:
            continue  # standalone markers carry no length
        if pos + 2 > end:
            break
        length = int.from_bytes(data[pos : pos + 2], "big")
        if length < 2 or pos + length > end:
            break
        if marker == 0xC4:
            problem = _huffman_problem(data[pos + 2 : pos + length])
            if problem:
                return problem
        if marker == 0xDA:
            return pos + length
        pos += length
    return "the file ends before the image data starts"


def _huffman_problem(segment: bytes) -> str | None:
    """Why a DHT segment is invalid, by the checks libjpeg makes before decoding, or None."""
    # ITU-T T.81 B.2.4.2 and libjpeg's jpeg_make_d_derived_tbl ("Bogus Huffman table").
    pos = 0
    while pos < len(segment):
        if pos + 17 > len(segment):
            return "a Huffman table is cut short"
        table_class, table_id = segment[pos] >> 4, segment[pos] & 0x0F
        counts = segment[pos + 1 : pos + 17]
        total = sum(counts)
        if table_class > 1 or table_id > 3 or total > 256 or pos + 17 + total > len(segment):
            return "a Huffman table is invalid"
        code = 0
        last = max((i for i, n in enumerate(counts, 1) if n), default=0)
        for length in range(1, last + 1):
            code += counts[length - 1]
            if code >= 1 << length:  # more codes than bits allow (all-ones is reserved)
                return "a Huffman table defines more codes than fit"
            code <<= 1
        symbols = segment[pos + 17 : pos + 17 + total]
        if table_class == 0 and any(s > 15 for s in symbols):
            return "a DC Huffman table holds impossible symbols"
        pos += 17 + total
    return None


def _png_problem(blob: Blob) -> str | None:
    """Whether every PNG chunk is whole up to IEND, and every chunk but the pixel data
    matches its CRC (PNG spec 5.3).

    The pixel data (IDAT, fdAT) is most of the file: its CRCs would cost a fifth of the
    base64 encoding on every passthrough, and a flipped bit inside compressed pixels goes
    as undetected in JPEG and WebP, which carry no checksum at all.
    """
    pos, end = 8, blob.exact_size()
    while pos + 12 <= end:
        header = blob.read_at(pos, 8)
        length = int.from_bytes(header[:4], "big")
        kind = header[4:8]
        stop = pos + 12 + length
        if stop > end:
            return f"the {kind.decode('latin-1')!r} chunk needs {stop - end:,} more bytes"
        if kind not in _PNG_PIXEL_CHUNKS:
            chunk = blob.read_at(pos + 4, length + 8)
            if zlib.crc32(chunk[:-4]) != int.from_bytes(chunk[-4:], "big"):
                return f"the {kind.decode('latin-1')!r} chunk fails its CRC check"
        if kind == b"IEND":
            return None
        pos = stop
    return "the IEND chunk is missing"


def _heif_problem(blob: Blob) -> str | None:
    """Whether the top-level ISO BMFF boxes fit inside the file."""
    pos, end = 0, blob.exact_size()
    while pos + 8 <= end:
        header = blob.read_at(pos, 16)
        size = int.from_bytes(header[0:4], "big")
        length = 8
        if size == 1:
            if pos + 16 > end:
                return "a box header is cut short"
            size, length = int.from_bytes(header[8:16], "big"), 16
        elif size == 0:
            return None  # the last box runs to the end of the file
        if size < length:
            return "a box has an impossible size"
        if pos + size > end:
            return f"a {header[4:8].decode('latin-1')!r} box needs {pos + size - end:,} more bytes"
        pos += size
    return None if pos == end else "the file ends inside a box header"


# How far from the end a JPEG's end-of-image marker is looked for before reading the
# whole file: cameras append a few kilobytes after it at most (and MPO files a second
# image, which ends with a marker of its own).
_JPEG_TAIL = 64 * 1024


def _jpeg_problem(blob: Blob) -> str | None:
    """Whether a JPEG's segments are sound up to its first scan, and an end marker follows."""
    start = _jpeg_scan_start(blob.all() if blob.complete else blob.head())
    if isinstance(start, str) and not blob.complete:
        start = _jpeg_scan_start(blob.all())  # segments longer than the head (big ICC)
    if isinstance(start, str):
        return start
    if (
        not blob.complete
        and start < blob.size - _JPEG_TAIL
        and b"\xff\xd9" in blob.tail(_JPEG_TAIL)
    ):
        return None
    # Entropy-coded data never holds FF D9 (0xFF is stuffed as FF 00), so the
    # end-of-image marker after the first scan is the file's true end.
    if blob.all().rfind(b"\xff\xd9", start) < 0:
        return "the end-of-image marker is missing"
    return None


def check_complete(info: ImageInfo, blob: Blob) -> None:
    """Raise CorruptImageError when a PNG, JPEG, WebP or HEIF file is cut short or broken.

    Reads only what the check needs: a JPEG's head and tail, a PNG's chunk headers (and
    the small chunks), a HEIF file's box headers.
    """
    problem = None
    if info.format in {"JPEG", "MPO"}:
        problem = _jpeg_problem(blob)
    elif info.format == "PNG":
        problem = _png_problem(blob)
    elif info.format == "WEBP":
        declared = int.from_bytes(blob.head(8)[4:8], "little") + 8
        if declared > blob.exact_size():
            problem = f"the RIFF header promises {declared:,} bytes"
    elif info.format == "HEIF":
        problem = _heif_problem(blob)
    if problem:
        raise _truncated(info, blob.exact_size(), problem)
