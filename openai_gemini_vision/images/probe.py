"""What an image is, from its header alone: format, type, size, orientation.

`probe()` reads only an image's header; `planned_size()` says, from that header alone,
what size the image will be sent at. Sending and estimating both use them, so an
estimate made before the call matches what the call sends.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image
from pydantic import BaseModel, ConfigDict

from ..errors import CorruptImageError, ImageTooLargeError
from ..policy import DEFAULT_POLICY, LOW_DETAIL_MAX_SIDE, Detail, ImagePolicy
from .prepared import SUPPORTED_MIME_TYPES

__all__ = [
    "ImageInfo",
    "fit_within",
    "info_of",
    "open_image",
    "orientation_of",
    "planned_size",
    "probe",
]

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


def orientation_of(im: Image.Image) -> int:
    """The EXIF Orientation of an opened image, 1 (upright) when absent, invalid or unreadable."""
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
        f"or raise ImagePolicy(max_pixels=...){also} if you trust its source.",
        limit=limit,
        actual=None if size is None else size[0] * size[1],
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
            orientation=orientation_of(im),
            frames=getattr(im, "n_frames", 1),
            mode=im.mode,
        )


def info_of(im: Image.Image) -> ImageInfo:
    """What an already opened PIL image says of itself (a caller's image, not file bytes)."""
    return ImageInfo(
        format=im.format or "",
        mime_type=Image.MIME.get(im.format or "", ""),
        width=im.width,
        height=im.height,
        orientation=orientation_of(im),
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
