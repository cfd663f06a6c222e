"""Broken, hostile and odd images: each gives a correct image or a typed error naming the fix.

Every case runs under a time bound, and whatever comes back is checked the same way:
a `PreparedImage` must be a supported type whose bytes decode to the size it claims
(and be the input itself when nothing is listed in `changes`); an error must be a
`GeminiVisionError` whose message says what was found and what to do.
"""

from __future__ import annotations

import base64
import io
import re
import signal
import struct
import textwrap
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from imaging import encode, image_bytes, photo
from PIL import Image

from openai_gemini_vision import (
    SUPPORTED_MIME_TYPES,
    CorruptImageError,
    GeminiVisionError,
    ImageTooLargeError,
    PreparedImage,
    UnsupportedImageError,
    load_image,
)

# Seconds any single case may take (they take milliseconds; a hang or a full decode of
# a decompression bomb would not).
TIME_BOUND = 10.0


class CaseTimedOut(BaseException):
    """Raised by the alarm; a BaseException so no `except Exception` in the code swallows it."""


@contextmanager
def time_bound(seconds: float) -> Iterator[None]:
    """Fail the running case if it takes longer than `seconds`."""

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        raise CaseTimedOut(f"took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_by_hand(width: int, height: int, bit_depth: int, colour: int, idat: bytes) -> bytes:
    """A PNG written chunk by chunk, so a test can claim any size without Pillow's help."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


def bomb_png() -> bytes:
    """40000x40000 1-bit PNG (1.6 gigapixels) of a few hundred bytes.

    Only the first rows' data is present: the header alone must get it refused, so a
    decode attempt would fail as truncated instead of passing this test.
    """
    row = b"\x00" + bytes(40000 // 8)
    return png_by_hand(40000, 40000, 1, 0, zlib.compress(row * 200, 9))


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real JPEG whose frame header is rewritten to claim `width` x `height`."""
    data = bytearray(image_bytes("JPEG", 16, 16))
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def bad_huffman_jpeg() -> bytes:
    """A JPEG whose first Huffman table gives two 1-bit codes: more than one bit can hold."""
    data = bytearray(image_bytes("JPEG", 32, 32))
    dht = data.find(b"\xff\xc4")
    counts = dht + 5  # marker (2), length (2), class/id (1), then 16 code counts
    most = max(range(16), key=lambda i: data[counts + i])
    data[counts + most] -= 2  # keep the symbol total, so only the code lengths lie
    data[counts] += 2
    return bytes(data)


def bad_crc_png() -> bytes:
    """A PNG whose IHDR checksum is wrong."""
    data = bytearray(image_bytes("PNG", 16, 16))
    data[29] ^= 0xFF  # last byte of IHDR's CRC: 8 signature + 4 length + 4 type + 13 body
    return bytes(data)


def corrupt_exif_jpeg() -> bytes:
    """A JPEG whose EXIF block points outside itself."""
    tiff = b"MM\x00\x2a\x00\x00\x00\x08" + b"\x00\x05" + b"\xff" * 20
    return encode(photo(24, 16), "JPEG", exif=b"Exif\x00\x00" + tiff)


def ycck_jpeg(orientation: int | None = None) -> bytes:
    """A YCCK JPEG (Adobe transform 2) whose left half is blue and right half red."""
    cmyk = Image.new("CMYK", (32, 32), (0, 255, 255, 0))
    cmyk.paste((255, 255, 0, 0), (0, 0, 16, 32))
    inverted = [Image.eval(ch, lambda v: 255 - v) for ch in cmyk.split()[:3]]
    y, cb, cr = Image.merge("RGB", inverted).convert("YCbCr").split()
    stored = Image.merge("CMYK", [y, cb, cr, cmyk.split()[3]])
    data = bytearray(encode(stored, "JPEG", orientation=orientation))
    adobe = data.find(b"Adobe")
    data[adobe + 11] = 2  # APP14 "Adobe" transform flag: 2 = YCCK
    return bytes(data)


def cmyk_jpeg() -> bytes:
    """A plain CMYK JPEG, all red."""
    return encode(Image.new("CMYK", (32, 24), (0, 255, 255, 0)), "JPEG")


def animated_gif(frames: int) -> bytes:
    """A GIF of `frames` tiny frames, each different from the one before; the first is red."""
    images = [Image.new("RGB", (8, 8), (255, 0, 0))]
    images += [Image.new("RGB", (8, 8), (0, i % 256, 255 - i % 256)) for i in range(1, frames)]
    buf = io.BytesIO()
    images[0].save(buf, "GIF", save_all=True, append_images=images[1:], duration=10)
    return buf.getvalue()


def palette_trns_png() -> bytes:
    """A palette PNG with a tRNS chunk making index 0 transparent."""
    im = photo(32, 24).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    return encode(im, "PNG", transparency=0)


def heic_with_alpha() -> bytes:
    """An HEIC image with an alpha plane."""
    im = photo(32, 24).convert("RGBA")
    im.putalpha(128)
    return encode(im, "HEIF")


def zip_of_png() -> bytes:
    """A ZIP archive holding a PNG."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("picture.png", image_bytes("PNG", 8, 8))
    return buf.getvalue()


def data_url(data: bytes, mime: str = "image/png") -> str:
    """`data` as a base64 data URL."""
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def cut(data: bytes, at: int) -> bytes:
    """`data` truncated to `at` bytes (negative: that many from the end)."""
    return data[:at]


JPEG = image_bytes("JPEG", 48, 32)
PNG = image_bytes("PNG", 48, 32)
WEBP = image_bytes("WEBP", 48, 32)
HEIC = encode(photo(48, 32), "HEIF")
B64_PNG = base64.b64encode(PNG).decode()
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect/></svg>'
HTML = b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head></html>"


@dataclass(frozen=True)
class Case:
    """One bad input: how to make it, and what must come back."""

    make: Callable[[Path], Any]
    error: type[GeminiVisionError] | None = None
    message: str = ""
    """Regex the error message must match: what was found."""
    fix: str = ""
    """Regex the error message must match: what to do."""
    check: Callable[[PreparedImage], object] | None = None
    options: tuple[tuple[str, Any], ...] = ()


def _file(name: str, data: bytes) -> Callable[[Path], Path]:
    def make(tmp_path: Path) -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return make


def _const(value: object) -> Callable[[Path], object]:
    return lambda _tmp: value


def _is_passthrough(img: PreparedImage) -> None:
    assert img.changes == ()


def _size(width: int, height: int) -> Callable[[PreparedImage], None]:
    def check(img: PreparedImage) -> None:
        assert (img.width, img.height) == (width, height)

    return check


def _red_at(*points: tuple[int, int]) -> Callable[[PreparedImage], None]:
    def check(img: PreparedImage) -> None:
        out = Image.open(io.BytesIO(img.data)).convert("RGB")
        for point in points:
            assert _is(out.getpixel(point), (255, 0, 0)), point

    return check


def _is(pixel: Any, colour: tuple[int, int, int]) -> bool:
    """Whether an RGB pixel is within 60 levels of `colour` on every channel (lossy codecs)."""
    return all(abs(a - b) <= 60 for a, b in zip(pixel, colour, strict=True))


def _ycck_colours(img: PreparedImage) -> None:
    """Blue on the right and red on the left: the stored halves, mirrored by orientation 2."""
    out = Image.open(io.BytesIO(img.data)).convert("RGB")
    left, right = out.getpixel((4, 16)), out.getpixel((img.width - 4, 16))
    assert _is(right, (0, 0, 255)), right
    assert _is(left, (255, 0, 0)), left


def _first_of(frames: int) -> Callable[[PreparedImage], None]:
    def check(img: PreparedImage) -> None:
        assert img.mime_type == "image/png"
        assert any(f"first of {frames:,} frames" in c for c in img.changes), img.changes
        _red_at((0, 0), (7, 7))(img)

    return check


def _keeps_alpha(img: PreparedImage) -> None:
    assert Image.open(io.BytesIO(img.data)).has_transparency_data


def _mime(mime: str) -> Callable[[PreparedImage], None]:
    def check(img: PreparedImage) -> None:
        assert img.mime_type == mime

    return check


_NOT_IMAGE = r"not an image"
_PASS_IMAGE = r"(Pass|pass) (a|the)"
_TRUNC = r"truncated or damaged"
_COMPLETE = r"Pass the complete"

CASES: dict[str, Case] = {
    "zero bytes": Case(_const(b""), CorruptImageError, r"empty \(0 bytes\)", _PASS_IMAGE),
    "one byte": Case(_const(b"\x89"), CorruptImageError, _NOT_IMAGE, _PASS_IMAGE),
    "text named .png": Case(
        _file("notes.png", b"remember to buy milk\n"),
        CorruptImageError,
        r"notes\.png.*is text",
        r"base64 string goes in a data: URL",
    ),
    "html named .jpg": Case(
        _file("photo.jpg", HTML),
        CorruptImageError,
        r"photo\.jpg.*HTML page",
        r"error or login page",
    ),
    "svg": Case(_const(SVG), UnsupportedImageError, "SVG drawing", "Rasterize it"),
    "svg with xml prolog": Case(
        _const(b'<?xml version="1.0"?>\n' + SVG), UnsupportedImageError, "SVG", "Rasterize"
    ),
    "pdf": Case(
        _const(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj"),
        UnsupportedImageError,
        "PDF document",
        "Render the pages",
    ),
    "zip": Case(_const(zip_of_png()), CorruptImageError, "ZIP archive", "Extract the image"),
    "png bad crc": Case(
        _const(bad_crc_png()), CorruptImageError, r"starts like a PNG image.*damaged", _COMPLETE
    ),
    "jpeg corrupt huffman table": Case(
        _const(bad_huffman_jpeg()), CorruptImageError, "Huffman table defines more codes", _COMPLETE
    ),
    "decompression bomb png": Case(
        _const(bomb_png()), ImageTooLargeError, r"40000x40000", r"max_pixels"
    ),
    "jpeg claiming 65500x65500": Case(
        _const(jpeg_claiming(65500, 65500)), ImageTooLargeError, "65500x65500", "max_pixels"
    ),
    "animated gif of 500 frames": Case(_const(animated_gif(500)), check=_first_of(500)),
    "1x1 png": Case(_const(image_bytes("PNG", 1, 1)), check=_is_passthrough),
    "1x1 gif": Case(_const(image_bytes("GIF", 1, 1)), check=_mime("image/png")),
    "1x20000 strip": Case(_const(image_bytes("PNG", 1, 20000)), check=_is_passthrough),
    "1x20000 strip at low detail": Case(
        _const(image_bytes("PNG", 1, 20000)), check=_size(1, 384), options=(("detail", "low"),)
    ),
    "cmyk jpeg": Case(_const(cmyk_jpeg()), check=_is_passthrough),
    "cmyk jpeg at low detail": Case(
        _const(encode(Image.new("CMYK", (800, 600), (0, 255, 255, 0)), "JPEG")),
        check=_red_at((10, 10), (380, 280)),
        options=(("detail", "low"),),
    ),
    "ycck jpeg": Case(_const(ycck_jpeg()), check=_is_passthrough),
    "ycck jpeg turned upright": Case(_const(ycck_jpeg(orientation=2)), check=_ycck_colours),
    "16-bit png": Case(
        _const(encode(Image.new("I;16", (20, 10), 40000), "PNG")), check=_is_passthrough
    ),
    "1-bit png": Case(_const(encode(photo(20, 10).convert("1"), "PNG")), check=_is_passthrough),
    "palette png with trns": Case(_const(palette_trns_png()), check=_is_passthrough),
    "palette png with trns at low detail": Case(
        _const(encode(photo(800, 100).convert("P", colors=8), "PNG", transparency=0)),
        check=_keeps_alpha,
        options=(("detail", "low"),),
    ),
    "exif orientation 0": Case(
        _const(encode(photo(30, 20), "JPEG", orientation=0)), check=_is_passthrough
    ),
    "exif orientation 9": Case(
        _const(encode(photo(30, 20), "JPEG", orientation=9)), check=_is_passthrough
    ),
    "exif orientation 255": Case(
        _const(encode(photo(30, 20), "JPEG", orientation=255)), check=_is_passthrough
    ),
    "corrupt exif": Case(_const(corrupt_exif_jpeg()), check=_is_passthrough),
    "heic with alpha": Case(_const(heic_with_alpha()), check=_mime("image/heic")),
    "heic with alpha at low detail": Case(
        _const(encode(photo(400, 300).convert("RGBA"), "HEIF")),
        check=_mime("image/heic"),
        options=(("detail", "low"),),
    ),
    "jpeg with trailing bytes": Case(_const(JPEG + b"\x00garbage"), check=_is_passthrough),
    "gif truncated": Case(
        _const(cut(image_bytes("GIF", 48, 32), -40)), CorruptImageError, _TRUNC, _COMPLETE
    ),
    "bmp claiming a huge size": Case(
        _const(
            image_bytes("BMP", 8, 8)[:18]
            + struct.pack("<ii", 100_000, 100_000)
            + image_bytes("BMP", 8, 8)[26:]
        ),
        ImageTooLargeError,
        r"100000x100000",
        "max_pixels",
    ),
    "data url bad base64": Case(
        _const("data:image/png;base64,iVBOR*w0KGgo="),
        CorruptImageError,
        "base64 payload",
        "base64.b64encode",
    ),
    "data url missing comma": Case(
        _const("data:image/png;base64iVBORw0KGgo"),
        CorruptImageError,
        "no comma",
        r"data:image/png;base64,<payload>",
    ),
    "data url wrong mime": Case(
        _const(data_url(PNG, "image/gif")),
        check=lambda img: img.changes == ("declared image/gif, is image/png: sent as image/png",),
    ),
    "data url missing mime": Case(_const(data_url(PNG, "")), check=_is_passthrough),
    "data url with newlines and spaces": Case(
        _const("data:image/png;base64,\n " + "\r\n ".join(textwrap.wrap(B64_PNG, 60)) + "\n"),
        check=_mime("image/png"),
    ),
    "data url url-safe alphabet": Case(
        _const("data:image/jpeg;base64," + base64.urlsafe_b64encode(JPEG).decode().rstrip("=")),
        check=_mime("image/jpeg"),
    ),
    "data url holding html": Case(
        _const(data_url(HTML, "image/png")),
        CorruptImageError,
        r"data URL\) is an HTML page",
        "error or login page",
    ),
}
for _name, _data, _offsets in (
    ("jpeg", JPEG, (2, 20, len(JPEG) // 2, -2)),
    ("png", PNG, (8, 40, len(PNG) // 2, -12)),
    ("webp", WEBP, (12, 30, len(WEBP) // 2, -1)),
    ("heic", HEIC, (30, len(HEIC) // 2, -10)),
):
    for _at in _offsets:
        CASES[f"{_name} truncated at {_at}"] = Case(
            _const(cut(_data, _at)),
            CorruptImageError,
            r"(truncated|not an image)",
            _PASS_IMAGE + "|" + _COMPLETE,
        )


def _check_result(img: PreparedImage, given: object) -> None:
    assert img.mime_type in SUPPORTED_MIME_TYPES
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Pillow's own note on corrupt EXIF
        out = Image.open(io.BytesIO(img.data))
    with out:
        out.load()
        assert out.size == (img.width, img.height)
    if img.changes == () and isinstance(given, bytes):
        assert img.data == given


@pytest.mark.parametrize("name", list(CASES))
def test_bad_image(name: str, tmp_path: Path) -> None:
    """Each bad input gives a correct image or a typed error naming the problem and the fix."""
    case = CASES[name]
    given = case.make(tmp_path)
    with time_bound(TIME_BOUND):
        if case.error is None:
            img = load_image(given, **dict(case.options))
            _check_result(img, given)
            if case.check is not None:
                assert case.check(img) is not False
            return
        with pytest.raises(GeminiVisionError) as info:
            load_image(given, **dict(case.options))
    assert isinstance(info.value, case.error), repr(info.value)
    message = str(info.value)
    assert re.search(case.message, message), message
    assert re.search(case.fix, message), message
