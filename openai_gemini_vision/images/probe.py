"""What an image is, from its header alone: format, type, size, orientation.

`probe()` reads only an image's header; `planned_size()` says, from that header alone,
what size the image will be sent at. Sending and estimating both use them, so an
estimate made before the call matches what the call sends.
"""

from __future__ import annotations

import functools
import io
import warnings
from collections.abc import Callable
from typing import TypeAlias

from PIL import Image, TiffImagePlugin
from pydantic import BaseModel, ConfigDict

from ..errors import CorruptImageError, ImageError, ImageTooLargeError, UnsupportedImageError
from ..policy import DEFAULT_POLICY, LOW_DETAIL_MAX_SIDE, Detail, ImagePolicy
from .prepared import SUPPORTED_MIME_TYPES

__all__ = [
    "Explain",
    "ImageInfo",
    "fit_within",
    "info_of",
    "open_image",
    "orientation_of",
    "planned_size",
    "probe",
    "too_large",
]

# HEIF files name their coding in the ftyp box: these brands are HEVC-coded (image/heic);
# any other HEIF brand ("mif1", "msf1", ...) without one of them among its compatible
# brands is plain image/heif. ISO/IEC 23008-12 Annex B and the IANA registrations.
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})

# EXIF Orientation values 5..8 turn the image a quarter: width and height swap.
_QUARTER_TURNS = frozenset({5, 6, 7, 8})

# Pillow's TIFF reader applies the orientation itself: it reports the upright size as
# soon as the header is read and turns the pixels as it loads them (TiffImagePlugin's
# _setup and load_end, in every Pillow from 11.0, this project's oldest).
_TURNED_ON_LOAD = frozenset({"TIFF"})


def _register_heif() -> None:
    # pillow-heif adds HEIC/HEIF (and, where libheif has it, AVIF) to Pillow's openers.
    from pillow_heif import register_heif_opener

    register_heif_opener()


_register_heif()

#: Names what bytes Pillow cannot open are instead (`sniff.not_an_image`), or None.
Explain: TypeAlias = Callable[[bytes], ImageError | None]


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
    """EXIF Orientation tag (or the XMP / PNG-text one Pillow reads as such), 1 (upright)
    when absent or invalid."""
    frames: int = 1
    mode: str = ""
    turned_on_load: bool = False
    """Pillow turns these pixels upright while it decodes them (its TIFF reader does), so
    decoding gives the upright picture; `width` and `height` are still the stored size."""

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


def orientation_of(im: Image.Image, *, header_only: bool = False) -> int:
    """The orientation of an opened image, 1 (upright) when absent, invalid or unreadable.

    Pillow reads it from EXIF, or failing that from XMP (tiff:Orientation) or
    ImageMagick's "Raw profile type exif" PNG text. `header_only` keeps a PNG undecoded.
    """
    read = im.getexif
    if header_only and im.format == "PNG":
        # PngImageFile.getexif() decodes every pixel to look for an eXIf chunk after the
        # image data; the PNG spec (3rd ed., chunk ordering) puts eXIf before IDAT, where
        # the header read has found it, with the text chunks. Image.getexif reads what
        # the header read found (eXIf, the raw EXIF profile text, XMP), and nothing more.
        read = functools.partial(Image.Image.getexif, im)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns on corrupt EXIF; it is read as upright
            value = read().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - corrupt EXIF must not make a readable image unreadable
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def open_image(
    data: bytes, policy: ImagePolicy = DEFAULT_POLICY, *, explain: Explain | None = None
) -> Image.Image:
    """Open `data` lazily (header only) or raise a typed error; checks the pixel limit.

    Pillow's decompression-bomb warning is turned into our own check against
    `policy.max_pixels`, so it never escapes as a warning or a crash. `explain` names
    what bytes Pillow cannot open are instead (an SVG, a cut-off PNG), when it can.
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
        raise too_large(_claimed_size(data), policy) from None
    except Exception as exc:  # noqa: BLE001 - Pillow's plugins raise many types on garbage
        raise _unreadable(data, exc, explain) from None
    if im.width * im.height > policy.max_pixels:
        im.close()
        raise too_large(im.size, policy)
    return im


def _unreadable(data: bytes, exc: Exception, explain: Explain | None) -> ImageError:
    """The error for bytes Pillow cannot open: a TIFF layout it has no decoder for, what
    `explain` finds them to be, or no image at all."""
    layout = _tiff_layout(data) if data[:4] in {b"II*\x00", b"MM\x00*"} else None
    if layout:
        return UnsupportedImageError(
            f"Pillow reads this TIFF's header but has no decoder for its pixel layout "
            f"({layout}), and Gemini takes no TIFF: convert it to PNG or JPEG first (for "
            "example with tifffile or GDAL), then pass that."
        )
    explained = explain(data) if explain is not None else None
    if explained is not None:
        return explained
    return CorruptImageError(
        f"The bytes ({len(data):,}) are not an image Pillow can read ({type(exc).__name__}). "
        "Pass a PNG, JPEG, WebP, HEIC or HEIF image."
    )


_SAMPLE_FORMATS = {1: "unsigned integer", 2: "signed integer", 3: "floating point"}


def _tiff_layout(data: bytes) -> str | None:
    """A TIFF's pixel layout in words, when Pillow's reader finds no mode for it; else None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            TiffImagePlugin.TiffImageFile(io.BytesIO(data)).close()
    except SyntaxError as exc:
        if "unknown pixel mode" not in str(exc):  # TiffImagePlugin._setup's words
            return None
    except Exception:  # noqa: BLE001 - any other failure: the file is damaged, not exotic
        return None
    else:
        return None
    try:
        directory = TiffImagePlugin.ImageFileDirectory_v2(data[:8])
        stream = io.BytesIO(data)
        stream.seek(directory.next)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            directory.load(stream)
        bits, formats = directory.get(258, (1,)), directory.get(339, (1,))
        samples, planar = directory.get(277, 1), directory.get(284, 1)
        kind = _SAMPLE_FORMATS.get(formats[0], f"sample format {formats[0]}")
    except Exception:  # noqa: BLE001 - read once already; say what can be said
        return "one Pillow has no mode for"
    stored = "stored plane by plane" if planar == 2 else "interleaved"
    return f"{samples} samples of {bits[0]}-bit {kind}, {stored}"


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


def too_large(size: tuple[int, int] | None, policy: ImagePolicy) -> ImageTooLargeError:
    """The error for an image over the pixel limit (`size` None when no header says it)."""
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


def probe(
    data: bytes, policy: ImagePolicy = DEFAULT_POLICY, *, explain: Explain | None = None
) -> ImageInfo:
    """Read format, type, size and orientation from the header; never decodes pixels.

    `explain` names what bytes Pillow cannot open are (see `open_image`).
    """
    im = open_image(data, policy, explain=explain)
    with im:
        return _info(im, _mime_for(im, data), header_only=True)


def info_of(im: Image.Image) -> ImageInfo:
    """What an already opened PIL image says of itself (a caller's image, not file bytes)."""
    return _info(im, Image.MIME.get(im.format or "", ""), header_only=False)


def _info(im: Image.Image, mime_type: str, *, header_only: bool) -> ImageInfo:
    orientation = orientation_of(im, header_only=header_only)
    width, height = im.size
    turned = im.format in _TURNED_ON_LOAD and orientation != 1
    if turned and orientation in _QUARTER_TURNS:
        width, height = height, width  # the reader reports the upright size: store the other
    return ImageInfo(
        format=im.format or "",
        mime_type=mime_type,
        width=width,
        height=height,
        orientation=orientation,
        frames=_frames(im),
        mode=im.mode,
        turned_on_load=turned,
    )


def _frames(im: Image.Image) -> int:
    """How many frames (pages, layers) the image holds; counting reads every directory."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's notes on corrupt EXIF in later pages
            frames = getattr(im, "n_frames", 1)
    except Exception as exc:  # noqa: BLE001 - a damaged PSD or TIFF raises what it meets
        raise CorruptImageError(
            f"The {im.format} image is damaged: its frames cannot be counted "
            f"({type(exc).__name__}: {exc}). Pass the complete, undamaged file."
        ) from None
    return frames if isinstance(frames, int) and frames > 0 else 1


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
