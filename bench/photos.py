"""Synthetic 12 MP photos for the image benchmarks, written once under bench/out/photos/.

A real photo is smooth regions, edges and sensor noise; an image of shapes, gradients
and Gaussian noise compresses about the same (a 4000x3000 JPEG at quality 90 of a few
MB, a PNG of tens of MB, a HEIC of a few MB), so timings and payload ratios carry over.
"""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter
from pillow_heif import register_heif_opener

# Pillow writes HEIF only through pillow-heif's plugin.
register_heif_opener()

__all__ = ["SIZE", "photo", "photo_file"]

OUT = Path(__file__).parent / "out" / "photos"
SIZE = (4000, 3000)


def photo(size: tuple[int, int] = SIZE, seed: int = 0) -> Image.Image:
    """A photo-like RGB image: coloured gradients, soft shapes and sensor-like noise."""
    rng = random.Random(seed)
    width, height = size
    red = Image.linear_gradient("L").resize(size)
    green = Image.radial_gradient("L").resize(size)
    blue = Image.linear_gradient("L").rotate(90).resize(size)
    im = Image.merge("RGB", (red, green, blue))
    draw = ImageDraw.Draw(im)
    for _ in range(60):
        x, y = rng.randrange(width), rng.randrange(height)
        r = rng.randrange(width // 40, width // 6)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    # Blur the hard edges the way a lens does, then add noise the way a sensor does.
    im = im.filter(ImageFilter.GaussianBlur(3))
    noise = Image.effect_noise(size, 12).convert("RGB")
    return ImageChops.add(im, noise, scale=1.0, offset=-128)


def photo_file(fmt: str, size: tuple[int, int] = SIZE, quality: int = 90, seed: int = 0) -> Path:
    """A photo of `size` saved as `fmt` ("JPEG" at `quality`, "PNG" or "HEIF"), cached on disk.

    HEIF is saved at pillow-heif's default quality: about the size a phone's HEIC of the
    same scene would be.
    """
    name = f"photo_{size[0]}x{size[1]}" + (f"_s{seed}" if seed else "")
    suffix = {"JPEG": f"_q{quality}.jpg", "PNG": ".png", "HEIF": ".heic"}[fmt]
    path = OUT / (name + suffix)
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        save: dict[str, object] = {"quality": quality} if fmt == "JPEG" else {}
        photo(size, seed).save(path, fmt, **save)
    return path
