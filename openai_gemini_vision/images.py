"""Checked, encoded image bytes: what Gemini will accept, and what was done to get there.

`probe()` reads only an image's header; `planned_size()` says, from that header alone,
what size the image will be sent at. The preparer and the token estimator both use
them, so an estimate made before the call matches what the call sends.
"""

from __future__ import annotations

import hashlib
import io
import math
import warnings
from functools import cached_property
from typing import Any

import pybase64
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from .errors import CorruptImageError, ImageTooLargeError
from .policy import DEFAULT_POLICY, LOW_DETAIL_MAX_SIDE, Detail, ImagePolicy

__all__ = [
    "SUPPORTED_MIME_TYPES",
    "ImageInfo",
    "PreparedImage",
    "data_url",
    "fit_within",
    "payload_placeholder",
    "planned_size",
    "probe",
    "shrink_step",
]

#: The only image types Gemini's endpoint takes; its own rejection text lists them:
#: "MIME type must be image/png, image/jpeg, image/webp, image/heic, or image/heif".
SUPPORTED_MIME_TYPES: frozenset[str] = frozenset(
    {"image/png", "image/jpeg", "image/webp", "image/heic", "image/heif"}
)

# HEIF files name their coding in the ftyp box: these brands are HEVC-coded (image/heic);
# any other HEIF brand ("mif1", "msf1", ...) without one of them among its compatible
# brands is plain image/heif. ISO/IEC 23008-12 Annex B and the IANA registrations.
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})

# EXIF Orientation values 5..8 turn the image a quarter: width and height swap.
_QUARTER_TURNS = frozenset({5, 6, 7, 8})


def _register_heif() -> None:
    # pillow-heif adds HEIC/HEIF (and, where libheif has it, AVIF) to Pillow's openers.
    from pillow_heif import register_heif_opener

    register_heif_opener()


_register_heif()


class ImageInfo(BaseModel):
    """What an image's header says, read without decoding its pixels."""

    model_config = ConfigDict(frozen=True)

    format: str
    """Pillow's format name: "JPEG", "PNG", "GIF", "HEIF", ..."""
    mime_type: str
    """The type the bytes really are (image/heic vs image/heif from the ftyp brand)."""
    width: int
    """Stored width, before any EXIF rotation."""
    height: int
    orientation: int = 1
    """EXIF Orientation tag, 1 (upright) when absent or invalid."""
    frames: int = 1
    mode: str = ""

    @property
    def supported(self) -> bool:
        """Whether Gemini takes this type as it is."""
        return self.mime_type in SUPPORTED_MIME_TYPES

    def upright_size(self, fix_orientation: bool = True) -> tuple[int, int]:
        """Width and height once EXIF orientation is applied (when `fix_orientation`)."""
        if fix_orientation and self.orientation in _QUARTER_TURNS:
            return self.height, self.width
        return self.width, self.height


def _heif_mime(data: bytes) -> str:
    """image/heic or image/heif, from the ftyp box's major and compatible brands."""
    if len(data) < 16 or data[4:8] != b"ftyp":
        return "image/heif"
    box_size = int.from_bytes(data[0:4], "big")
    brands = [data[8:12]]
    end = min(box_size, len(data), 256)
    brands += [data[i : i + 4] for i in range(16, end - 3, 4)]
    return "image/heic" if any(b in _HEIC_BRANDS for b in brands) else "image/heif"


def _mime_for(im: Image.Image, data: bytes) -> str:
    fmt = im.format or ""
    if fmt == "HEIF":
        return _heif_mime(data)
    if fmt == "MPO":
        # Pillow names a JPEG with a Multi-Picture index (phone depth maps, gain maps) MPO;
        # the file is still a JPEG whose first image every decoder shows (CIPA DC-007).
        return "image/jpeg"
    return Image.MIME.get(fmt) or f"image/{fmt.lower() or 'unknown'}"


def _orientation(im: Image.Image) -> int:
    if im.format == "PNG" and "exif" not in im.info:
        # Pillow's PNG getexif() decodes every pixel to look for an eXIf chunk after the
        # image data; the PNG spec (3rd ed., chunk ordering) puts eXIf before IDAT, where
        # the header read has already found it.
        return 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns on corrupt EXIF; it is read as upright
            value = im.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - corrupt EXIF must not make a readable image unreadable
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def open_image(data: bytes, policy: ImagePolicy = DEFAULT_POLICY) -> Image.Image:
    """Open `data` lazily (header only) or raise a typed error; checks the pixel limit.

    Pillow's decompression-bomb warning is turned into our own check against
    `policy.max_pixels`, so it never escapes as a warning or a crash.
    """
    if not data:
        raise CorruptImageError(
            "The image is empty (0 bytes). Pass the bytes of a PNG, JPEG, WebP, HEIC or HEIF image."
        )
    try:
        with warnings.catch_warnings():
            # Pillow warns while opening about corrupt metadata (EXIF, ICC) and sizes over
            # its bomb threshold: the first leaves a usable image, the second is checked
            # below against policy.max_pixels.
            warnings.simplefilter("ignore")
            im = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise _too_large(_claimed_size(data), policy) from None
    except Exception as exc:  # noqa: BLE001 - Pillow's plugins raise many types on garbage
        raise CorruptImageError(
            f"The bytes ({len(data):,}) are not an image Pillow can read ({type(exc).__name__}). "
            "Pass a PNG, JPEG, WebP, HEIC or HEIF image."
        ) from None
    if im.width * im.height > policy.max_pixels:
        im.close()
        raise _too_large(im.size, policy)
    return im


def _claimed_size(data: bytes) -> tuple[int, int] | None:
    """The size a header claims, read past Pillow's bomb check (only to word the error)."""
    prefix = data[:16]
    for name in Image.ID:
        factory, accept = Image.OPEN[name]
        try:
            accepted = accept is None or accept(prefix)
            if accepted and not isinstance(accepted, str):  # a str is a "maybe" warning
                with factory(io.BytesIO(data), "") as im:
                    return im.size
        except Exception:  # noqa: BLE001, S112 - this plugin does not read it: try the next
            continue
    return None


def _too_large(size: tuple[int, int] | None, policy: ImagePolicy) -> ImageTooLargeError:
    limit = min(policy.max_pixels, 2 * (Image.MAX_IMAGE_PIXELS or policy.max_pixels))
    if size is None:
        found = f"over the decoding limit of {limit:,} pixels"
    else:
        found = f"{size[0]}x{size[1]} = {size[0] * size[1]:,} pixels, over the limit of {limit:,}"
    also = (
        " (and PIL.Image.MAX_IMAGE_PIXELS, Pillow's own guard)" if limit < policy.max_pixels else ""
    )
    return ImageTooLargeError(
        f"The image is {found} (a guard against decompression bombs). Downscale it first, "
        f"or raise ImagePolicy(max_pixels=...){also} if you trust its source."
    )


def probe(data: bytes, policy: ImagePolicy = DEFAULT_POLICY) -> ImageInfo:
    """Read format, type, size and orientation from the header; never decodes pixels."""
    im = open_image(data, policy)
    with im:
        return ImageInfo(
            format=im.format or "",
            mime_type=_mime_for(im, data),
            width=im.width,
            height=im.height,
            orientation=_orientation(im),
            frames=getattr(im, "n_frames", 1),
            mode=im.mode,
        )


def fit_within(width: int, height: int, max_side: int) -> tuple[int, int]:
    """The largest size with the same aspect ratio whose sides are both <= `max_side`.

    The one rounding rule used everywhere, so estimates match what is sent.
    """
    longest = max(width, height)
    if longest <= max_side:
        return width, height
    scale = max_side / longest
    return max(1, min(max_side, round(width * scale))), max(1, min(max_side, round(height * scale)))


def planned_size(
    info: ImageInfo, *, detail: Detail | None = None, policy: ImagePolicy = DEFAULT_POLICY
) -> tuple[int, int]:
    """The size the image will be sent at, before any request-budget shrinking."""
    width, height = info.upright_size(policy.fix_orientation)
    if (detail or policy.detail) == "low":
        return fit_within(width, height, LOW_DETAIL_MAX_SIDE)
    return width, height


def shrink_step(image: PreparedImage, policy: ImagePolicy = DEFAULT_POLICY) -> PreparedImage | None:
    """The next smaller version of `image` for fitting a request budget, or None.

    Lossless without alpha -> JPEG (quality 85) at the same size; lossless with alpha ->
    lossy WebP (quality 85); otherwise (or when that is not smaller) both sides halved and
    re-encoded. None once the longest side is 256 px or less. Each step is in `changes`.
    """
    from .convert import shrink  # convert builds on this module

    return shrink(image, policy)


def data_url(mime_type: str, data: bytes) -> str:
    """`data:<mime>;base64,<data>`: what goes into `image_url.url`.

    The plain `f"...{base64.b64encode(data).decode()}"` cost 1.6x the bare encoder on a
    20 MB PNG (two more copies of the payload through fresh memory); pybase64's SIMD
    encoder returns the str directly, faster than the bare encoder (bench/bench_images.py).
    """
    return f"data:{mime_type};base64," + pybase64.b64encode_as_string(data)


def payload_placeholder(mime_type: str, data: bytes) -> str:
    """An image payload as people read it: `<image/jpeg 38,112 bytes sha256:ab12cd34ef567890>`.

    Shown wherever base64 would drown the rest (`ogv ask --dry-run`, recorded requests);
    16 hex digits of the digest tell images apart without filling the line.
    """
    return f"<{mime_type} {len(data):,} bytes sha256:{hashlib.sha256(data).hexdigest()[:16]}>"


class PreparedImage(BaseModel):
    """An image ready for Gemini: the bytes as sent, and what was done to them."""

    model_config = ConfigDict(frozen=True)

    mime_type: str
    width: int
    """Width as sent."""
    height: int
    original_width: int
    """Width of the image as given, before orientation or resizing."""
    original_height: int
    original_format: str
    """Pillow's name of the format given ("JPEG", "GIF", "HEIF", ...)."""
    data: bytes = Field(repr=False)
    """The bytes as sent."""
    changes: tuple[str, ...] = ()
    """What was done, in words; empty exactly when `data` is the input byte for byte.

    A corrected type label is listed too ("declared image/jpg, is image/jpeg"), although
    the bytes are untouched: the type sent is part of what was done."""
    source: str = ""
    """Where the image came from (a path, a URL without its query, "bytes", ...)."""
    orientation: int = 1
    """The EXIF orientation that was applied (1 when none was, or it was already upright)."""

    @property
    def byte_size(self) -> int:
        """Number of bytes as sent (before base64)."""
        return len(self.data)

    @cached_property
    def sha256(self) -> str:
        """Hex SHA-256 of the bytes as sent."""
        return hashlib.sha256(self.data).hexdigest()

    @cached_property
    def data_url(self) -> str:
        """`data:<mime>;base64,...`: what goes into `image_url.url`."""
        return data_url(self.mime_type, self.data)

    @property
    def placeholder(self) -> str:
        """This image's payload in short: `<image/jpeg 38,112 bytes sha256:ab12cd34ef567890>`."""
        return payload_placeholder(self.mime_type, self.data)

    @property
    def encoded_size(self) -> int:
        """Length of `data_url` in characters, computed without encoding."""
        return len("data:;base64,") + len(self.mime_type) + 4 * math.ceil(len(self.data) / 3)

    def part(self, detail: str | None = None) -> dict[str, Any]:
        """This image as an OpenAI `image_url` content part."""
        image_url: dict[str, Any] = {"url": self.data_url}
        if detail is not None:
            image_url["detail"] = detail
        return {"type": "image_url", "image_url": image_url}

    def __repr__(self) -> str:
        changed = f", changes={list(self.changes)!r}" if self.changes else ""
        return (
            f"PreparedImage({self.mime_type}, {self.width}x{self.height}, "
            f"{self.byte_size:,} bytes, sha256={self.sha256[:12]}{changed})"
        )
