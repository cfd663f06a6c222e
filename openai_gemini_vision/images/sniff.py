"""What bytes really are, beyond Pillow's header read, without decoding any pixels.

`not_an_image()` names common non-image payloads (SVG, PDF, HTML, ZIP, text) so the
error says what was found. `check_complete()` catches truncated files and broken JPEG
Huffman tables from the container structure alone: Pillow's lazy open reads only the
header, and a passed-through image is never decoded, so without it a cut-off download
would reach Gemini.
"""

from __future__ import annotations

import struct

try:
    # ISA-L's CRC-32 (carry-less multiply): 2.4 ms over a 19.6 MB PNG's chunks where
    # zlib's takes 7.5 ms, and 2.8 ms against 8.5 ms in libpng's 8 kB chunks; zlib-ng's
    # and libdeflate's take 3-4 ms (bench/bench_png_crc.py, medians on a shared 2-core
    # machine). Same polynomial and results as zlib.crc32, which is used where no isal
    # wheel exists.
    from isal.isal_zlib import crc32
except ImportError:  # pragma: no cover - platforms pyproject.toml installs no isal on
    from zlib import crc32

from ..errors import CorruptImageError, ImageError, UnsupportedImageError
from .blob import Blob
from .probe import ImageInfo

__all__ = ["check_complete", "is_pdf", "is_video", "not_an_image", "vector_error"]

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

# A chunk's length and type, and the CRC after its body (PNG spec 5.3).
_CHUNK_HEAD = struct.Struct(">I4s")
_CRC = struct.Struct(">I")
# Bytes read at a time from a PNG not in memory (an estimate reads the file in place):
# IDAT chunks run 8 kB (libpng) to 64 kB (Pillow), so one read covers many of them.
_PNG_WINDOW = 1 << 20

# APNG's frame chunks: an fdAT may follow only its frame's fcTL (or another fdAT).
_FRAME_CHUNKS = frozenset({b"fcTL", b"IDAT", b"fdAT"})
_FRAME_STARTS = frozenset({b"fcTL", b"fdAT"})

# How many leading bytes to look at when naming a non-image payload.
_SNIFF_BYTES = 1024


# How far into the input a PDF's "%PDF-" may sit (the PDF spec lets junk precede it).
_PDF_WINDOW = 1024
# ISO base media brands that are still images (HEIF, AVIF), not video.
_IMAGE_BRANDS = frozenset(
    {
        b"heic",
        b"heix",
        b"heim",
        b"heis",
        b"hevc",
        b"hevx",
        b"mif1",
        b"msf1",
        b"mif2",
        b"avif",
        b"avis",
    }
)
# A QuickTime file may start with its movie box and no ftyp at all.
_QUICKTIME_BOXES = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})
_SIGNATURES = (
    b"\x1a\x45\xdf\xa3",  # Matroska, WebM
    b"\x00\x00\x01\xba",  # MPEG program stream
    b"FLV\x01",
    b"OggS",
    b"\x30\x26\xb2\x75\x8e\x66\xcf\x11",  # ASF (WMV)
)


def is_pdf(data: bytes | bytearray | memoryview) -> bool:
    """Whether `data` starts like a PDF (`%PDF-` within its first 1,024 bytes)."""
    return b"%PDF-" in bytes(data[:_PDF_WINDOW])


def is_video(data: bytes | bytearray | memoryview) -> bool:
    """Whether `data` starts like a video container (MP4/MOV, WebM/MKV, AVI, MPEG, FLV, ASF, Ogg)."""
    head = bytes(data[:376])
    if head[4:8] == b"ftyp":
        return head[8:12] not in _IMAGE_BRANDS
    return (
        head[4:8] in _QUICKTIME_BOXES
        or head.startswith(_SIGNATURES)
        or (head[:4] == b"RIFF" and head[8:12] == b"AVI ")
        or (len(head) > 188 and head[0] == head[188] == 0x47)  # MPEG-TS: a sync byte per 188
    )


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
    if is_pdf(data):
        return UnsupportedImageError(
            "The input is a PDF document, not an image. Put it in a message's content list "
            "(prepare_messages and the clients send each page as an image; ogv ask takes "
            "it with --pages), or render pages with openai_gemini_vision.documents."
            "render_pages."
        )
    if is_video(data):
        return UnsupportedImageError(
            "The input is a video, not an image. Put it in a message's content list "
            "(prepare_messages and the clients send frames sampled from it; ogv ask takes "
            "it with --fps and --max-frames), or sample frames with "
            "openai_gemini_vision.documents.sample_frames."
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
        # Past the longest code length in use the check cannot fail (a count of zero
        # only doubles both sides), so all 16 lengths are walked without finding it.
        for length, count in enumerate(counts, 1):
            code += count
            if code >= 1 << length:  # more codes than bits allow (all-ones is reserved)
                return "a Huffman table defines more codes than fit"
            code <<= 1
        symbols = segment[pos + 17 : pos + 17 + total]
        if table_class == 0 and symbols and max(symbols) > 15:
            return "a DC Huffman table holds impossible symbols"
        pos += 17 + total
    return None


def _png_problem(blob: Blob) -> str | None:
    """Why a PNG is not whole and sound, or None: every chunk complete up to IEND and
    matching its CRC (PNG spec 5.3), image data present, animation frames in order.

    The pixel data's CRCs are checked too: a flipped bit in compressed pixels decodes to
    garbage or not at all. On a 19.6 MB PNG the whole check takes about 3 ms in Pillow's
    64 kB chunks and 8 ms in libpng's 8 kB ones, where reading and base64-encoding it
    take 40-60 ms (bench/bench_png_crc.py). A file not yet in memory (an estimate) is
    read a window at a time, not a chunk at a time.
    """
    end = blob.exact_size()
    buf, at = (blob.all(), 0) if blob.complete else (b"", 0)
    view = memoryview(buf)
    pos, image_data = 8, False
    frame: bytes | None = None  # the last of fcTL / IDAT / fdAT seen
    while pos + 12 <= end:
        if pos + 8 > at + len(buf):
            buf, at = blob.read_at(pos, _PNG_WINDOW), pos
            view = memoryview(buf)
        length, kind = _CHUNK_HEAD.unpack_from(buf, pos - at)
        stop = pos + 12 + length
        if stop > end:
            return f"the {kind.decode('latin-1')!r} chunk needs {stop - end:,} more bytes"
        if stop > at + len(buf):
            buf, at = blob.read_at(pos, max(_PNG_WINDOW, stop - pos)), pos
            view = memoryview(buf)
            if stop > at + len(buf):  # the file shrank while being read
                return f"the {kind.decode('latin-1')!r} chunk is cut short"
        body = pos - at + 4
        if crc32(view[body : body + 4 + length]) != _CRC.unpack_from(buf, body + 4 + length)[0]:
            return f"the {kind.decode('latin-1')!r} chunk fails its CRC check"
        if kind == b"IEND":
            return None if image_data else "it has no image data (no IDAT chunk)"
        if kind == b"fdAT" and frame not in _FRAME_STARTS:
            # APNG 1.0: a frame is an fcTL followed by its IDAT or fdAT chunks.
            return "its frame data (fdAT) comes before any frame control chunk (fcTL)"
        if kind in _FRAME_CHUNKS:
            frame = kind
            image_data = image_data or kind == b"IDAT"
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
# image, which ends with a marker of its own). The last few kilobytes are tried first:
# the marker is almost always in them.
_JPEG_TAILS = (4 * 1024, 64 * 1024)


def _jpeg_problem(blob: Blob) -> str | None:
    """Whether a JPEG's segments are sound up to its first scan, and an end marker follows."""
    start = _jpeg_scan_start(blob.all() if blob.complete else blob.head())
    if isinstance(start, str) and not blob.complete:
        start = _jpeg_scan_start(blob.all())  # segments longer than the head (big ICC)
    if isinstance(start, str):
        return start
    if not blob.complete:
        for length in _JPEG_TAILS:
            if start < blob.size - length and blob.tail(length).rfind(b"\xff\xd9") >= 0:
                return None
    # Entropy-coded data never holds FF D9 (0xFF is stuffed as FF 00), so the
    # end-of-image marker after the first scan is the file's true end.
    if blob.all().rfind(b"\xff\xd9", start) < 0:
        return "the end-of-image marker is missing"
    return None


def check_complete(info: ImageInfo, blob: Blob) -> None:
    """Raise CorruptImageError when a PNG, JPEG, WebP or HEIF file is cut short or broken.

    Reads only what the check needs: a JPEG's head and tail, a PNG's chunks (every
    byte, for their CRCs), a HEIF file's box headers.
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
