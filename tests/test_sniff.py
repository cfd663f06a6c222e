"""A PNG's structure, checked without decoding: image data present, animation chunks in
order, every chunk's CRC (the pixel data's too); sending and estimating refuse alike."""

from __future__ import annotations

import io
import random
import struct
import zlib
from pathlib import Path

import pytest

from openai_gemini_vision import CorruptImageError, estimate_tokens, load_image

from .imaging import photo

MODEL = "gemini-2.0-flash"


def chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk: length, type, body and the CRC of type and body."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_of(*chunks: bytes) -> bytes:
    """The PNG signature followed by `chunks`."""
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


WIDTH, HEIGHT = 8, 4
IHDR = chunk(b"IHDR", struct.pack(">IIBBBBB", WIDTH, HEIGHT, 8, 0, 0, 0, 0))  # 8-bit grey
PIXELS = zlib.compress((b"\x00" + bytes(range(WIDTH))) * HEIGHT)
IEND = chunk(b"IEND", b"")


def actl(frames: int) -> bytes:
    """An animation control chunk: `frames` frames, looping forever."""
    return chunk(b"acTL", struct.pack(">II", frames, 0))


def fdat(sequence: int, data: bytes) -> bytes:
    """A frame data chunk: a sequence number, then compressed pixels."""
    return chunk(b"fdAT", struct.pack(">I", sequence) + data)


def refused_alike(data: bytes, tmp_path: Path) -> str:
    """The message sending gives for `data`, after checking the estimate gives the same."""
    path = tmp_path / "image.png"
    path.write_bytes(data)
    with pytest.raises(CorruptImageError) as sent:
        load_image(path)
    with pytest.raises(CorruptImageError) as estimated:
        estimate_tokens([{"role": "user", "content": [path]}], MODEL)
    assert (estimated.value.message, estimated.value.source) == (sent.value.message, str(path))
    return str(sent.value)


def test_a_png_without_image_data_is_refused(tmp_path: Path) -> None:
    """IHDR, acTL and IEND alone (no IDAT) is no image, though Pillow reads its header."""
    message = refused_alike(png_of(IHDR, actl(0), IEND), tmp_path)
    assert "has no image data (no IDAT chunk)" in message
    assert "Pass the complete" in message


def test_an_animated_png_with_frame_data_before_any_frame_control_is_refused(
    tmp_path: Path,
) -> None:
    """An fdAT chunk with no fcTL before it breaks the first frame Pillow would decode."""
    data = png_of(IHDR, actl(2), chunk(b"IDAT", PIXELS), fdat(0, PIXELS), IEND)
    message = refused_alike(data, tmp_path)
    assert "frame data (fdAT) comes before any frame control chunk (fcTL)" in message


def test_a_png_whose_pixel_data_fails_its_crc_is_refused(tmp_path: Path) -> None:
    """A flipped bit in the compressed pixels is caught by the IDAT chunk's CRC."""
    idat = bytearray(chunk(b"IDAT", PIXELS))
    idat[-1] ^= 0x01  # the CRC's last bit: the pixels themselves may still inflate
    message = refused_alike(png_of(IHDR, bytes(idat), IEND), tmp_path)
    assert "the 'IDAT' chunk fails its CRC check" in message


def test_a_crc_failure_deep_in_a_large_png_is_found_by_the_estimate_too(tmp_path: Path) -> None:
    """Past the first megabyte the estimate reads the file in windows, and still finds it."""
    width, height = 1000, 3000  # 3 MB of noise: its compressed data is about as large
    noise = random.Random(0).randbytes(width * height)
    rows = b"".join(b"\x00" + noise[y * width : (y + 1) * width] for y in range(height))
    data = zlib.compress(rows, 1)
    idats = [chunk(b"IDAT", data[i : i + 8192]) for i in range(0, len(data), 8192)]
    ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    sound = png_of(ihdr, *idats, IEND)
    path = tmp_path / "sound.png"
    path.write_bytes(sound)
    estimate = estimate_tokens([{"role": "user", "content": [path]}], MODEL)
    assert (estimate.images[0].changes, estimate.images[0].size) == ((), (width, height))
    late = len(idats) * 5 // 6
    idats[late] = idats[late][:-1] + bytes([idats[late][-1] ^ 0x80])
    message = refused_alike(png_of(ihdr, *idats, IEND), tmp_path)
    assert "the 'IDAT' chunk fails its CRC check" in message


def test_a_sound_animated_png_still_passes_through(tmp_path: Path) -> None:
    """An APNG Pillow wrote (fcTL before IDAT, then fcTL + fdAT) is sent byte for byte."""
    buf = io.BytesIO()
    frames = [photo(16, 12, seed=seed) for seed in range(3)]
    frames[0].save(buf, "PNG", save_all=True, append_images=frames[1:])
    path = tmp_path / "animated.png"
    path.write_bytes(buf.getvalue())
    img = load_image(path)
    assert (img.data, img.changes) == (buf.getvalue(), ())
