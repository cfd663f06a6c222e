"""Broken, hostile and odd images: each gives a correct image or a typed error naming the fix.

Every case runs in a worker thread that must finish within a time bound (a hang in C code,
where no signal handler runs, fails the case as surely as one in Python), with every
warning recorded: none may escape. Whatever comes back is checked the same way: a
`PreparedImage` must be the expected type and size and decode to that size (and be the
input itself when nothing is listed in `changes`); an error must be the expected
`GeminiVisionError` whose message says what was found and what to do.
"""

from __future__ import annotations

import base64
import io
import re
import struct
import textwrap
import time
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes

import pytest
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

from .bounded import run_bounded
from .imaging import data_url, encode, exif_with_broken_tag, image_bytes, photo


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


def bomb_under_the_limit() -> bytes:
    """10000x10000 1-bit PNG, all black, complete in 12 KB: 100 MP, under max_pixels."""
    row = b"\x00" + bytes(10000 // 8)
    return png_by_hand(10000, 10000, 1, 0, zlib.compress(row * 10000, 9))


def png_16_bit(width: int, height: int, *, alpha: bool) -> bytes:
    """A 16-bit RGB(A) PNG, left half opaque red and right half blue (transparent with alpha)."""
    red, blue = b"\xff\xff\x00\x00\x00\x00", b"\x00\x00\x00\x00\xff\xff"
    if alpha:
        red, blue = red + b"\xff\xff", blue + b"\x00\x00"
    row = b"\x00" + red * (width // 2) + blue * (width - width // 2)
    return png_by_hand(width, height, 16, 6 if alpha else 2, zlib.compress(row * height))


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real JPEG whose frame header is rewritten to claim `width` x `height`."""
    data = bytearray(image_bytes("JPEG", 16, 16))
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def gif_claiming(width: int, height: int) -> bytes:
    """A real GIF whose logical screen is rewritten to claim `width` x `height`."""
    data = bytearray(image_bytes("GIF", 4, 4))
    data[6:10] = struct.pack("<HH", width, height)
    return bytes(data)


def webp_claiming_the_most() -> bytes:
    """A lossless WebP whose VP8L header claims 16384x16384, the format's largest size."""
    data = bytearray(image_bytes("WEBP", 16, 16, lossless=True))
    fields = int.from_bytes(data[21:25], "little")
    size_bits = 16383 | 16383 << 14  # 14 bits each of width - 1 and height - 1
    data[21:25] = (fields & ~((1 << 28) - 1) | size_bits).to_bytes(4, "little")
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


def bad_dc_symbols_jpeg() -> bytes:
    """A JPEG whose DC Huffman table holds a symbol over 15 (a DC difference has at most 15 bits)."""
    data = bytearray(image_bytes("JPEG", 32, 32))
    dht = data.find(b"\xff\xc4")
    assert data[dht + 4] >> 4 == 0, "libjpeg writes the DC table first"
    data[dht + 5 + 16] = 0x20  # the table's first symbol
    return bytes(data)


def zero_length_segment_jpeg() -> bytes:
    """A JPEG with an APP0 segment whose length field is 0 (it must be at least 2)."""
    data = image_bytes("JPEG", 8, 8)
    return data[:2] + b"\xff\xe0\x00\x00" + data[2:]


def bad_crc_png() -> bytes:
    """A PNG whose IHDR checksum is wrong."""
    data = bytearray(image_bytes("PNG", 16, 16))
    data[29] ^= 0xFF  # last byte of IHDR's CRC: 8 signature + 4 length + 4 type + 13 body
    return bytes(data)


def bad_text_crc_png() -> bytes:
    """A PNG whose tEXt chunk, before IEND, fails its CRC."""
    data = image_bytes("PNG", 16, 16)
    chunk = bytearray(_chunk(b"tEXt", b"Comment\x00hello"))
    chunk[-1] ^= 0xFF
    iend = len(data) - 12
    return data[:iend] + bytes(chunk) + data[iend:]


def huge_chunk_png() -> bytes:
    """A PNG whose IDAT length field claims 4 GB: nothing may try to read or allocate it."""
    head = image_bytes("PNG", 8, 8)[:33]  # signature and IHDR
    return head + struct.pack(">I", 0xFFFFFFFF) + b"IDAT" + bytes(20)


def corrupt_exif_jpeg() -> bytes:
    """A JPEG whose EXIF block points outside itself."""
    tiff = b"MM\x00\x2a\x00\x00\x00\x08" + b"\x00\x05" + b"\xff" * 20
    return encode(photo(24, 16), "JPEG", exif=b"Exif\x00\x00" + tiff)


def red_left(width: int, height: int) -> Image.Image:
    """Left half red, right half blue."""
    im = Image.new("RGB", (width, height), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, width // 2, height))
    return im


def tiff_with_looping_directories() -> bytes:
    """A red TIFF whose first image directory names itself as the next one."""
    data = bytearray(encode(Image.new("RGB", (4, 4), (255, 0, 0)), "TIFF"))
    first = int.from_bytes(data[4:8], "little")
    entries = int.from_bytes(data[first : first + 2], "little")
    pointer = first + 2 + 12 * entries
    data[pointer : pointer + 4] = first.to_bytes(4, "little")
    return bytes(data)


def ycck_jpeg(orientation: int | None = None, size: tuple[int, int] = (32, 32)) -> bytes:
    """A YCCK JPEG (Adobe transform 2) whose left half is red and right half blue."""
    width, height = size
    cmyk = Image.new("CMYK", size, (255, 255, 0, 0))
    cmyk.paste((0, 255, 255, 0), (0, 0, width // 2, height))
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


def half_transparent_palette_png(width: int, height: int) -> bytes:
    """A palette PNG, left half red and right half index 0, which tRNS makes transparent."""
    im = Image.new("P", (width, height), 0)
    im.putpalette([0, 0, 255, 255, 0, 0])
    im.paste(1, (0, 0, width // 2, height))
    return encode(im, "PNG", transparency=0)


def heic_with_alpha(width: int, height: int) -> bytes:
    """An HEIC image with an alpha plane: left half opaque red, right half transparent."""
    im = red_left(width, height).convert("RGBA")
    im.paste((0, 0, 255, 0), (width // 2, 0, width, height))
    return encode(im, "HEIF")


def half_black_one_bit_png(width: int, height: int) -> bytes:
    """A 1-bit PNG, left half black and right half white."""
    im = Image.new("1", (width, height), 1)
    im.paste(0, (0, 0, width // 2, height))
    return encode(im, "PNG")


def zip_of_png() -> bytes:
    """A ZIP archive holding a PNG."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("picture.png", image_bytes("PNG", 8, 8))
    return buf.getvalue()


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
    mime: str = ""
    """For an image: the type it must be sent as."""
    size: tuple[int, int] = (0, 0)
    """For an image: the width and height it must be sent at."""
    check: Callable[[PreparedImage], object] | None = None
    """For an image: more it must satisfy (pixels, alpha, what `changes` says)."""
    options: tuple[tuple[str, Any], ...] = ()


def _file(name: str, data: bytes) -> Callable[[Path], Path]:
    def make(tmp_path: Path) -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return make


def _const(value: object) -> Callable[[Path], object]:
    return lambda _tmp: value


def _ok(
    value: object,
    mime: str,
    size: tuple[int, int],
    check: Callable[[PreparedImage], object] | None = None,
    **options: Any,
) -> Case:
    """A case that must give an image of `mime` at `size`."""
    return Case(_const(value), mime=mime, size=size, check=check, options=tuple(options.items()))


def _is_passthrough(img: PreparedImage) -> None:
    assert img.changes == ()
    assert img.orientation == 1


def _all(*checks: Callable[[PreparedImage], object]) -> Callable[[PreparedImage], None]:
    def check(img: PreparedImage) -> None:
        for one in checks:
            one(img)

    return check


def _decoded(img: PreparedImage) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Pillow's own note on corrupt EXIF
        return Image.open(io.BytesIO(img.data)).convert("RGBA")


def _colour_at(
    colour: tuple[int, int, int], *points: tuple[int, int]
) -> Callable[[PreparedImage], None]:
    def check(img: PreparedImage) -> None:
        out = _decoded(img)
        for point in points:
            assert _is(out.getpixel(point), colour), (point, out.getpixel(point))

    return check


def _red_at(*points: tuple[int, int]) -> Callable[[PreparedImage], None]:
    return _colour_at((255, 0, 0), *points)


def _is(pixel: Any, colour: tuple[int, int, int]) -> bool:
    """Whether an RGB pixel is within 60 levels of `colour` on every channel (lossy codecs)."""
    return all(abs(a - b) <= 60 for a, b in zip(pixel[:3], colour, strict=True))


def _left_and_right(img: PreparedImage) -> tuple[tuple[int, int], tuple[int, int]]:
    """The middles of the left and right halves."""
    return (img.width // 4, img.height // 2), (img.width * 3 // 4, img.height // 2)


def _red_left_blue_right(img: PreparedImage) -> None:
    """Red in the left half and blue in the right half."""
    left, right = _left_and_right(img)
    _red_at(left)(img)
    _colour_at((0, 0, 255), right)(img)


def _ycck_colours(img: PreparedImage) -> None:
    """Blue on the left and red on the right: the stored halves, mirrored by orientation 2."""
    left, right = _left_and_right(img)
    _colour_at((0, 0, 255), left)(img)
    _red_at(right)(img)


def _red_on_top(img: PreparedImage) -> None:
    """Red along the top and blue along the bottom: a red-left image turned a quarter clockwise."""
    x = img.width // 2
    _red_at((x, 1))(img)
    _colour_at((0, 0, 255), (x, img.height - 2))(img)
    assert any("EXIF orientation 6" in c for c in img.changes), img.changes


def _not_turned(img: PreparedImage) -> None:
    assert img.orientation == 1
    assert not any("upright" in c for c in img.changes), img.changes


def _first_of(frames: int) -> Callable[[PreparedImage], None]:
    def check(img: PreparedImage) -> None:
        assert any(f"first of {frames:,} frames" in c for c in img.changes), img.changes
        _red_at((0, 0), (7, 7))(img)

    return check


def _alpha_on_the_right(img: PreparedImage) -> None:
    """Opaque red on the left, transparent on the right."""
    out = _decoded(img)
    left, right = (out.getpixel(point) for point in _left_and_right(img))
    assert _is(left, (255, 0, 0)), left
    assert left[3] > 200, left  # type: ignore[index]
    assert right[3] < 50, right  # type: ignore[index]


def _black_then_white(img: PreparedImage) -> None:
    out = _decoded(img).convert("L")
    left, right = _left_and_right(img)
    assert out.getpixel(left) < 60  # type: ignore[operator]
    assert out.getpixel(right) > 200  # type: ignore[operator]


def _declared(mime: str) -> Callable[[PreparedImage], None]:
    def check(img: PreparedImage) -> None:
        assert img.changes == (f"declared {mime}, is {img.mime_type}: sent as {img.mime_type}",)

    return check


_NOT_IMAGE = r"not an image"
_PASS_IMAGE = r"(Pass|pass) (a|the)"
_TRUNC = r"truncated or damaged"
_COMPLETE = r"Pass the complete"
_MALFORMED = "base64 payload .* is malformed"
_WRITE_B64 = "base64.b64encode"
_BOUNDS = "max_pixels"

CASES: dict[str, Case] = {
    # --- not images at all ----------------------------------------------------------
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
        "render_pages",
    ),
    "zip": Case(_const(zip_of_png()), CorruptImageError, "ZIP archive", "Extract the image"),
    # --- damaged containers ---------------------------------------------------------
    "png bad crc": Case(
        _const(bad_crc_png()), CorruptImageError, r"starts like a PNG image.*damaged", _COMPLETE
    ),
    "png ancillary chunk with a bad crc": Case(
        _const(bad_text_crc_png()), CorruptImageError, "'tEXt' chunk fails its CRC", _COMPLETE
    ),
    "png chunk claiming 4 GB": Case(
        _const(huge_chunk_png()), CorruptImageError, "'IDAT' chunk needs .* more bytes", _COMPLETE
    ),
    "png with garbage pixel data at low detail": Case(
        _const(png_by_hand(800, 10, 8, 0, b"\x78\x9c" + b"\xff" * 50)),
        CorruptImageError,
        "could not be decoded",
        _COMPLETE,
        options=(("detail", "low"),),
    ),
    "jpeg corrupt huffman table": Case(
        _const(bad_huffman_jpeg()), CorruptImageError, "Huffman table defines more codes", _COMPLETE
    ),
    "jpeg dc huffman table with impossible symbols": Case(
        _const(bad_dc_symbols_jpeg()), CorruptImageError, "impossible symbols", _COMPLETE
    ),
    "jpeg with a zero-length segment": Case(
        _const(zero_length_segment_jpeg()),
        CorruptImageError,
        "ends before the image data",
        _COMPLETE,
    ),
    "jpeg of only start and end markers": Case(
        _const(b"\xff\xd8\xff\xd9"), CorruptImageError, r"starts like a JPEG.*truncated", _COMPLETE
    ),
    "gif truncated": Case(
        _const(cut(image_bytes("GIF", 48, 32), -40)), CorruptImageError, _TRUNC, _COMPLETE
    ),
    "jpeg with trailing bytes": _ok(JPEG + b"\x00garbage", "image/jpeg", (48, 32), _is_passthrough),
    "tiff whose directories loop": _ok(
        tiff_with_looping_directories(), "image/png", (4, 4), _red_at((0, 0), (3, 3))
    ),
    # --- decompression bombs and extreme sizes --------------------------------------
    "decompression bomb png": Case(_const(bomb_png()), ImageTooLargeError, r"40000x40000", _BOUNDS),
    "jpeg claiming 65500x65500": Case(
        _const(jpeg_claiming(65500, 65500)), ImageTooLargeError, "65500x65500", _BOUNDS
    ),
    "gif claiming 65535x65535": Case(
        _const(gif_claiming(65535, 65535)), ImageTooLargeError, "65535x65535", _BOUNDS
    ),
    "webp claiming 16384x16384": Case(
        _const(webp_claiming_the_most()), ImageTooLargeError, "decompression bombs", _BOUNDS
    ),
    "bmp claiming a huge size": Case(
        _const(
            image_bytes("BMP", 8, 8)[:18]
            + struct.pack("<ii", 100_000, 100_000)
            + image_bytes("BMP", 8, 8)[26:]
        ),
        ImageTooLargeError,
        r"100000x100000",
        _BOUNDS,
    ),
    "bomb under the pixel limit at low detail": _ok(
        bomb_under_the_limit(),
        "image/png",
        (384, 384),
        _colour_at((0, 0, 0), (0, 0), (383, 383)),
        detail="low",
    ),
    "animated gif of 500 frames": _ok(animated_gif(500), "image/png", (8, 8), _first_of(500)),
    "1x1 png": _ok(image_bytes("PNG", 1, 1), "image/png", (1, 1), _is_passthrough),
    "1x1 png at low detail": _ok(
        image_bytes("PNG", 1, 1), "image/png", (1, 1), _is_passthrough, detail="low"
    ),
    "1x1 jpeg": _ok(image_bytes("JPEG", 1, 1), "image/jpeg", (1, 1), _is_passthrough),
    "1x1 webp": _ok(image_bytes("WEBP", 1, 1), "image/webp", (1, 1), _is_passthrough),
    "1x1 heic": _ok(encode(photo(1, 1), "HEIF"), "image/heic", (1, 1), _is_passthrough),
    "1x1 gif": _ok(image_bytes("GIF", 1, 1), "image/png", (1, 1)),
    "1x20000 strip": _ok(image_bytes("PNG", 1, 20000), "image/png", (1, 20000), _is_passthrough),
    "20000x1 strip": _ok(image_bytes("PNG", 20000, 1), "image/png", (20000, 1), _is_passthrough),
    "1x20000 strip at low detail": _ok(
        image_bytes("PNG", 1, 20000), "image/png", (1, 384), detail="low"
    ),
    "1x20000 jpeg strip at low detail": _ok(
        image_bytes("JPEG", 1, 20000), "image/jpeg", (1, 384), detail="low"
    ),
    # --- colour models and bit depths -----------------------------------------------
    "cmyk jpeg": _ok(cmyk_jpeg(), "image/jpeg", (32, 24), _is_passthrough),
    "cmyk jpeg at low detail": _ok(
        encode(Image.new("CMYK", (800, 600), (0, 255, 255, 0)), "JPEG"),
        "image/jpeg",
        (384, 288),
        _red_at((10, 10), (380, 280)),
        detail="low",
    ),
    "ycck jpeg": _ok(ycck_jpeg(), "image/jpeg", (32, 32), _is_passthrough),
    "ycck jpeg turned upright": _ok(
        ycck_jpeg(orientation=2), "image/jpeg", (32, 32), _ycck_colours
    ),
    "ycck jpeg at low detail": _ok(
        ycck_jpeg(size=(800, 400)), "image/jpeg", (384, 192), _red_left_blue_right, detail="low"
    ),
    "16-bit png": _ok(
        encode(Image.new("I;16", (20, 10), 40000), "PNG"), "image/png", (20, 10), _is_passthrough
    ),
    "16-bit rgb png": _ok(
        png_16_bit(4, 4, alpha=False),
        "image/png",
        (4, 4),
        _all(_is_passthrough, _red_left_blue_right),
    ),
    "16-bit rgba png at low detail": _ok(
        png_16_bit(800, 10, alpha=True), "image/png", (384, 5), _alpha_on_the_right, detail="low"
    ),
    "1-bit png": _ok(
        encode(photo(20, 10).convert("1"), "PNG"), "image/png", (20, 10), _is_passthrough
    ),
    "1-bit png at low detail": _ok(
        half_black_one_bit_png(800, 100), "image/png", (384, 48), _black_then_white, detail="low"
    ),
    "palette png with trns": _ok(palette_trns_png(), "image/png", (32, 24), _is_passthrough),
    "palette png with trns at low detail": _ok(
        half_transparent_palette_png(800, 100),
        "image/png",
        (384, 48),
        _alpha_on_the_right,
        detail="low",
    ),
    "heic with alpha": _ok(
        heic_with_alpha(32, 24), "image/heic", (32, 24), _all(_is_passthrough, _alpha_on_the_right)
    ),
    "heic with alpha at low detail": _ok(
        heic_with_alpha(400, 300), "image/heic", (384, 288), _alpha_on_the_right, detail="low"
    ),
    # --- EXIF -------------------------------------------------------------------------
    "exif orientation 0": _ok(
        encode(photo(30, 20), "JPEG", orientation=0), "image/jpeg", (30, 20), _is_passthrough
    ),
    "exif orientation 9": _ok(
        encode(photo(30, 20), "JPEG", orientation=9), "image/jpeg", (30, 20), _is_passthrough
    ),
    "exif orientation 255": _ok(
        encode(photo(30, 20), "JPEG", orientation=255), "image/jpeg", (30, 20), _is_passthrough
    ),
    "exif orientation 9 at low detail": _ok(
        encode(red_left(800, 600), "JPEG", orientation=9),
        "image/jpeg",
        (384, 288),
        _all(_not_turned, _red_left_blue_right),
        detail="low",
    ),
    "png exif orientation 0": _ok(
        encode(photo(30, 20), "PNG", orientation=0), "image/png", (30, 20), _is_passthrough
    ),
    "png exif orientation 9": _ok(
        encode(photo(30, 20), "PNG", orientation=9), "image/png", (30, 20), _is_passthrough
    ),
    "corrupt exif": _ok(corrupt_exif_jpeg(), "image/jpeg", (24, 16), _is_passthrough),
    "exif that is not tiff": _ok(
        encode(photo(30, 20), "JPEG", exif=b"Exif\x00\x00" + b"\xff" * 40),
        "image/jpeg",
        (30, 20),
        _is_passthrough,
    ),
    "corrupt exif with a readable orientation": _ok(
        encode(red_left(30, 20), "JPEG", exif=exif_with_broken_tag(6)),
        "image/jpeg",
        (20, 30),
        _red_on_top,
    ),
    "png corrupt exif with a readable orientation": _ok(
        encode(red_left(30, 20), "PNG", exif=exif_with_broken_tag(6)),
        "image/png",
        (20, 30),
        _red_on_top,
    ),
    "corrupt exif at low detail": _ok(
        encode(red_left(800, 600), "JPEG", exif=exif_with_broken_tag(1)),
        "image/jpeg",
        (384, 288),
        _all(_not_turned, _red_left_blue_right),
        detail="low",
    ),
    # --- data URLs --------------------------------------------------------------------
    "data url bad base64": Case(
        _const("data:image/png;base64,iVBOR*w0KGgo="), CorruptImageError, _MALFORMED, _WRITE_B64
    ),
    "data url one character too many": Case(
        _const(data_url(PNG) + "A"), CorruptImageError, "single character", _WRITE_B64
    ),
    "data url padding in the middle": Case(
        _const(f"data:image/png;base64,{B64_PNG[:8]}=={B64_PNG[8:]}"),
        CorruptImageError,
        _MALFORMED,
        _WRITE_B64,
    ),
    "data url non-ascii payload": Case(
        _const(f"data:image/png;base64,{B64_PNG[:8]}é{B64_PNG[8:]}"),
        CorruptImageError,
        _MALFORMED,
        _WRITE_B64,
    ),
    "data url missing comma": Case(
        _const("data:image/png;base64iVBORw0KGgo"),
        CorruptImageError,
        "no comma",
        r"data:image/png;base64,<payload>",
    ),
    "data url empty payload": Case(
        _const("data:image/png;base64,"), CorruptImageError, r"empty \(0 bytes\)", _PASS_IMAGE
    ),
    "data url wrong mime": _ok(
        data_url(PNG, "image/gif"), "image/png", (48, 32), _declared("image/gif")
    ),
    "data url text/plain mime": _ok(
        data_url(PNG, "text/plain"), "image/png", (48, 32), _declared("text/plain")
    ),
    "data url missing mime": _ok(data_url(PNG, ""), "image/png", (48, 32), _is_passthrough),
    "data url in upper case": _ok(
        "DATA:IMAGE/PNG;BASE64," + B64_PNG, "image/png", (48, 32), _is_passthrough
    ),
    "data url with a charset parameter": _ok(
        "data:image/png;charset=utf-8;base64," + B64_PNG, "image/png", (48, 32), _is_passthrough
    ),
    "data url percent-encoded, not base64": _ok(
        "data:image/png," + quote_from_bytes(PNG), "image/png", (48, 32), _is_passthrough
    ),
    "data url with newlines and spaces": _ok(
        "data:image/png;base64,\n " + "\r\n ".join(textwrap.wrap(B64_PNG, 60)) + "\n",
        "image/png",
        (48, 32),
        _is_passthrough,
    ),
    "data url url-safe alphabet": _ok(
        "data:image/jpeg;base64," + base64.urlsafe_b64encode(JPEG).decode().rstrip("="),
        "image/jpeg",
        (48, 32),
        _is_passthrough,
    ),
    "data url holding html": Case(
        _const(data_url(HTML, "image/png")),
        CorruptImageError,
        r"data URL: The input is an HTML page",
        "error or login page",
    ),
    "data url holding text": Case(
        _const(data_url(b"hello, this is a text file", "image/png")),
        CorruptImageError,
        r"data URL: The input is text",
        "base64 string goes in a data: URL",
    ),
    "data url holding svg": Case(
        _const(data_url(SVG, "image/svg+xml")), UnsupportedImageError, "SVG drawing", "Rasterize"
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


def _check_image(img: PreparedImage, case: Case, given: object) -> None:
    """The image is of the expected type and size, decodes whole, and is the input if unchanged."""
    assert img.mime_type in SUPPORTED_MIME_TYPES
    assert (img.mime_type, (img.width, img.height)) == (case.mime, case.size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Pillow's own note on corrupt EXIF
        out = Image.open(io.BytesIO(img.data))
    with out:
        out.load()
        assert out.size == (img.width, img.height)
    if img.changes == () and isinstance(given, bytes):
        assert img.data == given
    if case.check is not None:
        case.check(img)


def test_the_bound_fails_a_hang_and_records_warnings() -> None:
    """A call that outlives the bound fails its case; a warning it raises is reported."""
    with pytest.raises(pytest.fail.Exception, match=r"still running after 0\.05 s"):
        run_bounded(lambda: time.sleep(2), seconds=0.05)
    outcome = run_bounded(lambda: warnings.warn("from Pillow", UserWarning, stacklevel=1))
    assert outcome.warned == ["UserWarning: from Pillow"]


def test_there_are_at_least_forty_cases() -> None:
    """At least 40 hostile inputs stay covered, each kind above among them."""
    assert len(CASES) >= 40
    assert all((case.error is None) == bool(case.mime) for case in CASES.values())


@pytest.mark.parametrize("name", list(CASES))
def test_bad_image(name: str, tmp_path: Path) -> None:
    """Each bad input gives a correct image or a typed error naming the problem and the fix."""
    case = CASES[name]
    given = case.make(tmp_path)
    outcome = run_bounded(lambda: load_image(given, **dict(case.options)))
    assert outcome.warned == []
    if case.error is None:
        if outcome.error is not None:
            raise outcome.error
        assert isinstance(outcome.result, PreparedImage)
        _check_image(outcome.result, case, given)
        return
    assert isinstance(outcome.error, case.error), repr(outcome.error)
    message = str(outcome.error)
    assert re.search(case.message, message), message
    assert re.search(case.fix, message), message
