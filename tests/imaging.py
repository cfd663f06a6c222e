"""Tiny images made in the tests: every format and mode, with or without EXIF orientation."""

from __future__ import annotations

import base64
import io
import random
import struct
from pathlib import Path

from PIL import Image


def photo(width: int = 64, height: int = 48, *, seed: int = 0, mode: str = "RGB") -> Image.Image:
    """A small image with a gradient and noise, so it compresses like a photo and has no symmetry."""
    rng = random.Random(seed)
    im = Image.new("RGB", (width, height))
    im.putdata(
        [
            (
                (x * 255 // max(1, width - 1) + rng.randrange(32)) % 256,
                (y * 255 // max(1, height - 1) + rng.randrange(32)) % 256,
                rng.randrange(256),
            )
            for y in range(height)
            for x in range(width)
        ]
    )
    return im.convert(mode) if mode != "RGB" else im


def encode(im: Image.Image, fmt: str, *, orientation: int | None = None, **save: object) -> bytes:
    """`im` saved as `fmt` ("PNG", "JPEG", "GIF", ...), with an EXIF Orientation tag if given."""
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        save["exif"] = exif.tobytes()
    buf = io.BytesIO()
    im.save(buf, fmt, **save)
    return buf.getvalue()


def photo_files(
    folder: Path,
    count: int,
    *,
    fmt: str = "PNG",
    size: tuple[int, int] = (24, 16),
    start: int = 0,
    name: str = "img",
) -> list[Path]:
    """`count` distinct small photos written into `folder` (made if missing), in order."""
    folder.mkdir(parents=True, exist_ok=True)
    suffix = {"JPEG": "jpg"}.get(fmt, fmt.lower())
    paths = []
    for seed in range(start, start + count):
        path = folder / f"{name}{seed:03d}.{suffix}"
        path.write_bytes(encode(photo(*size, seed=seed), fmt))
        paths.append(path)
    return paths


def image_bytes(fmt: str = "PNG", width: int = 64, height: int = 48, **save: object) -> bytes:
    """A small photo-like image encoded as `fmt`."""
    mode = "RGB" if fmt in {"JPEG", "BMP", "PPM"} else "RGBA" if fmt == "ICO" else "RGB"
    return encode(photo(width, height, mode=mode), fmt, **save)


def exif_with_broken_tag(orientation: int) -> bytes:
    """EXIF holding `orientation` and an ImageDescription whose data lies past the block."""
    entries = struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0)
    entries += struct.pack(">HHII", 0x010E, 2, 1000, 0xFFFF0000)
    ifd = struct.pack(">H", 2) + entries + struct.pack(">I", 0)
    return b"Exif\x00\x00" + b"MM\x00\x2a\x00\x00\x00\x08" + ifd


def data_url(data: bytes, mime: str = "image/png") -> str:
    """`data:<mime>;base64,<data>`, written with the standard library, not the code under test."""
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"
