"""Pixel work: decode, turn upright, downscale, convert modes and encode one image.

Only reached when an image cannot pass through as given: the passthrough path in
`sources.prepare_bytes` never decodes. Every step appends a plain-words entry to the
image's `changes`, so a caller can see what was done and what it cost.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image, ImageCms, ImageOps

from ..errors import CorruptImageError, GeminiVisionError, ImageTooLargeError
from ..policy import DEFAULT_POLICY, Detail, ImagePolicy
from .prepared import PreparedImage
from .probe import ImageInfo, info_of, open_image, planned_size

__all__ = [
    "encode_pil",
    "is_lossless",
    "shrink",
    "transform",
    "upright",
]

#: Output type of each format this module writes.
MIME_OF = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "HEIF": "image/heic"}

# Re-encoding at the same size should not cost visible quality: 95 is libjpeg's
# "near-lossless" end of the scale. A downscale or a conversion hides more than 90 loses.
QUALITY_SAME_SIZE = 95
QUALITY_CONVERT = 90
# Shrinking to fit the request budget trades quality for bytes on purpose.
QUALITY_SHRINK = 85
# Below this longest side, halving again leaves too little for a model to read.
SHRINK_MIN_SIDE = 256

# Formats whose pixels were already lossy-coded: converting them to PNG would only
# inflate the bytes. Everything else Pillow reads (GIF, BMP, TIFF, ICO, PPM, ...) is lossless.
_LOSSY_FORMATS = frozenset({"JPEG", "MPO", "AVIF", "JPEG2000", "HEIF"})

_ORIENTATION_WORDS = {
    2: "mirrored left to right",
    3: "rotated 180°",
    4: "mirrored top to bottom",
    5: "mirrored and rotated 90° counter-clockwise",
    6: "rotated 90° clockwise",
    7: "mirrored and rotated 90° clockwise",
    8: "rotated 90° counter-clockwise",
}


def _webp_lossless(data: bytes) -> bool:
    """Whether a WebP file's image chunk is VP8L (lossless) rather than VP8 (lossy)."""
    pos = 12
    while pos + 8 <= len(data):
        fourcc = data[pos : pos + 4]
        if fourcc in {b"VP8L", b"VP8 "}:
            return fourcc == b"VP8L"
        if fourcc == b"ANMF":
            pos += 8 + 16  # an animation frame wraps its own image chunks after a header
            continue
        pos += 8 + ((int.from_bytes(data[pos + 4 : pos + 8], "little") + 1) & ~1)
    return False


def is_lossless(mime_type: str, data: bytes) -> bool:
    """Whether an image of a supported type holds lossless pixels (PNG, lossless WebP)."""
    return mime_type == "image/png" or (mime_type == "image/webp" and _webp_lossless(data))


@contextmanager
def _decoding(what: str) -> Iterator[None]:
    """Turn whatever Pillow raises or warns while decoding into a typed error."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    except GeminiVisionError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"{exc} Pass a smaller image.") from None
    except MemoryError:
        raise ImageTooLargeError(
            f"Not enough memory to decode {what}. Downscale it first, or lower "
            "ImagePolicy(max_pixels=...) so such images are refused before decoding."
        ) from None
    except Exception as exc:  # noqa: BLE001 - any decoder failure means damaged bytes
        raise CorruptImageError(
            f"{what} could not be decoded: it is truncated or damaged "
            f"({type(exc).__name__}: {exc}). Pass the complete, undamaged file."
        ) from None


def _cmyk_to_rgb(im: Image.Image) -> Image.Image:
    icc = im.info.get("icc_profile")
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(
                im, source, ImageCms.createProfile("sRGB"), outputMode="RGB"
            )
        except (ImageCms.PyCMSError, OSError, ValueError):
            converted = None  # a broken profile: fall back to Pillow's plain formula
        if converted is not None:
            converted.info.pop("icc_profile", None)
            return converted
    out = im.convert("RGB")
    out.info.pop("icc_profile", None)
    return out


def _to_8bit(im: Image.Image) -> Image.Image:
    """Grey levels of 16/32 bit or float scaled into 0..255 (Pillow's convert would clip)."""
    if im.mode != "F":
        im = im.convert("I")
    extrema = im.getextrema()
    low, high = float(extrema[0]), float(extrema[1])  # type: ignore[arg-type]
    if im.mode == "I" and low >= 0 and high <= 255:
        return im.convert("L")
    if im.mode == "I" and low >= 0 and high <= 65535:
        low, high = 0.0, 65535.0  # 16-bit data: keep its levels, do not stretch contrast
    scale = 255.0 / (high - low) if high > low else 1.0
    return im.point(lambda v: (v - low) * scale).convert("L")


def _pixels_for(im: Image.Image, fmt: str, resizing: bool) -> tuple[Image.Image, str | None]:
    """`im` in a mode `fmt` can store and Pillow can resample; a note if colours changed."""
    mode = im.mode
    if mode == "CMYK":
        return _cmyk_to_rgb(im), "converted CMYK colours to RGB"
    if mode in {"YCbCr", "LAB", "HSV", "RGBX"}:
        return im.convert("RGB"), None
    if mode.startswith("I;16") and fmt == "PNG" and not resizing:
        return im, None  # PNG keeps 16-bit grey as it is
    if mode in {"I", "F"} or mode.startswith("I;16"):
        return _to_8bit(im), f"scaled {mode} grey levels to 8 bits"
    alpha = im.has_transparency_data
    if mode in {"P", "1"} and fmt == "PNG" and not resizing:
        return im, None  # a palette or bilevel PNG stays exact and small
    if mode in {"P", "PA"}:
        return im.convert("RGBA" if alpha else "RGB"), None
    if mode == "1":
        return im.convert("L"), None
    if fmt in {"WEBP", "HEIF"} and mode in {"L", "LA", "La", "RGBa"}:
        return im.convert("RGBA" if alpha else "RGB"), None
    if fmt == "JPEG" and mode not in {"L", "RGB"}:
        return im.convert("RGB"), None
    return im, None


def _resize(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    # Bicubic after a reduce down to within 2x of the target: Pillow's own choice for
    # Image.thumbnail(); it resamples RGBA and LA with premultiplied alpha, so hidden
    # colours of transparent pixels do not bleed into the edges.
    return im.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0)


def _encode(im: Image.Image, fmt: str, quality: int, lossless: bool, exif: bytes | None) -> bytes:
    save: dict[str, object] = {}
    icc = im.info.get("icc_profile")
    if icc:
        save["icc_profile"] = icc
    if exif and fmt in {"JPEG", "PNG", "WEBP"}:
        save["exif"] = exif
    if fmt == "WEBP":
        save.update(lossless=True, quality=100) if lossless else save.update(quality=quality)
    elif fmt in {"JPEG", "HEIF"}:
        save["quality"] = quality
    buf = io.BytesIO()
    with _decoding("The image"):
        im.save(buf, fmt, **save)
    return buf.getvalue()


def _bytes(n: int) -> str:
    return f"{n:,} bytes"


def _frames_note(frames: int) -> str:
    return f", first of {frames:,} frames" if frames > 1 else ""


def upright(im: Image.Image) -> Image.Image:
    """`im` turned by its EXIF orientation: a new image (a copy when it is upright already)."""
    with warnings.catch_warnings():
        # exif_transpose reads the EXIF again, and Pillow warns when other tags in it
        # are broken; the orientation itself reads fine (images._orientation).
        warnings.simplefilter("ignore")
        return ImageOps.exif_transpose(im)


def _render(
    im: Image.Image,
    info: ImageInfo,
    target: tuple[int, int],
    output: tuple[str, int, bool],
    policy: ImagePolicy,
    detail: Detail | None,
) -> tuple[Image.Image, list[str], bytes]:
    """Decode `im`, turn it upright, fit it to `target`, encode it as `output` (format,
    quality, lossless): the picture, the steps taken in words, and the bytes."""
    fmt, quality, lossless = output
    changes: list[str] = []
    orientation = info.orientation if policy.fix_orientation else 1
    exif = None if policy.fix_orientation else im.info.get("exif")
    with _decoding(f"The {info.format or 'given'} image"):
        im.load()
        if orientation != 1:
            im = upright(im)
            changes.append(
                f"turned upright by its EXIF orientation {orientation} "
                f"({_ORIENTATION_WORDS[orientation]})"
            )
        resizing = im.size != target
        im, note = _pixels_for(im, fmt, resizing)
        if note:
            changes.append(note)
        if resizing:
            before = "x".join(map(str, info.upright_size(policy.fix_orientation)))
            im = _resize(im, target)
            why = (
                " for detail='low' (both sides <= 384 px)"
                if (detail or policy.detail) == "low"
                else ""
            )
            changes.append(f"downscaled {before} -> {target[0]}x{target[1]}{why}")
    return im, changes, _encode(im, fmt, quality, lossless, exif)


def _output_for(
    info: ImageInfo, im: Image.Image, data: bytes, target: tuple[int, int], policy: ImagePolicy
) -> tuple[str, int, bool]:
    """Format, quality and losslessness to write: own format if Gemini takes it."""
    if info.supported:
        own = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}.get(
            info.mime_type, "HEIF"
        )
        lossless = is_lossless(info.mime_type, data)
        same_size = target == info.upright_size(policy.fix_orientation)
        return own, QUALITY_SAME_SIZE if same_size else QUALITY_CONVERT, lossless
    lossy = info.format in _LOSSY_FORMATS or (
        info.format == "TIFF" and "jpeg" in str(im.info.get("compression", ""))
    )
    if im.has_transparency_data or not lossy:
        return "PNG", 0, True
    return "JPEG", QUALITY_CONVERT, False


def transform(
    data: bytes,
    info: ImageInfo,
    *,
    target: tuple[int, int],
    detail: Detail | None,
    policy: ImagePolicy,
    source: str,
    notes: list[str],
) -> PreparedImage:
    """Decode `data` and write what Gemini takes: converted, upright and fitted to `target`."""
    im = open_image(data, policy)
    with im:
        fmt, quality, lossless = _output_for(info, im, data, target, policy)
        quarter = policy.fix_orientation and info.upright_size() != (info.width, info.height)
        stored = (target[1], target[0]) if quarter else target
        if im.size != stored and info.format in {"JPEG", "MPO"}:
            # libjpeg decodes straight at 1/2, 1/4 or 1/8 scale (never below the target):
            # a 12 MP photo bound for 384 px is never decoded whole.
            im.draft(None, stored)
        out, steps, encoded = _render(im, info, target, (fmt, quality, lossless), policy, detail)
    how = fmt if lossless else f"{fmt} (quality {quality})"
    if info.supported:
        lead = f"re-encoded as {how}"
    else:
        lead = (
            f"converted {info.format} ({info.mime_type}, which Gemini does not take) "
            f"to {how}{_frames_note(info.frames)}"
        )
    steps.append(f"{lead}: {_bytes(len(data))} -> {_bytes(len(encoded))}")
    return PreparedImage(
        mime_type=MIME_OF[fmt],
        width=out.width,
        height=out.height,
        original_width=info.width,
        original_height=info.height,
        original_format=info.format,
        data=encoded,
        changes=(*notes, *steps),
        source=source,
        orientation=info.orientation if policy.fix_orientation else 1,
    )


def encode_pil(
    im: Image.Image,
    *,
    detail: Detail | None = None,
    policy: ImagePolicy = DEFAULT_POLICY,
    source: str = "PIL image",
) -> PreparedImage:
    """Encode a PIL image: PNG when lossless or transparent, JPEG when it came from a lossy file."""
    width, height = im.size
    if width * height > policy.max_pixels:
        raise ImageTooLargeError(
            f"The PIL image is {width}x{height} = {width * height:,} pixels, over the limit "
            f"of {policy.max_pixels:,}. Downscale it first, or raise ImagePolicy(max_pixels=...)."
        )
    info = info_of(im)
    fmt, quality, lossless = (
        ("JPEG", QUALITY_CONVERT, False)
        if info.format in _LOSSY_FORMATS | {"WEBP"} and not im.has_transparency_data
        else ("PNG", 0, True)
    )
    target = planned_size(info, detail=detail, policy=policy)
    out, steps, encoded = _render(im, info, target, (fmt, quality, lossless), policy, detail)
    how = f"JPEG (quality {quality})" if fmt == "JPEG" else "PNG"
    origin = (
        f"; it was read from a {info.format} file whose original bytes are not at hand, "
        "so it was re-encoded (pass the file's path or bytes to send them as they are)"
        if info.format
        else ""
    )
    frame = f", frame {im.tell() + 1} of {info.frames:,}" if info.frames > 1 else ""
    steps.append(
        f"encoded the PIL image ({info.mode}, {width}x{height}{frame}) as {how}, "
        f"{_bytes(len(encoded))}{origin}"
    )
    return PreparedImage(
        mime_type=MIME_OF[fmt],
        width=out.width,
        height=out.height,
        original_width=width,
        original_height=height,
        original_format=info.format or "PIL",
        data=encoded,
        changes=tuple(steps),
        source=source,
        orientation=info.orientation if policy.fix_orientation else 1,
    )


def _budget(policy: ImagePolicy) -> str:
    n = policy.max_request_bytes
    size = f"{n // 1_000_000} MB" if n % 1_000_000 == 0 else _bytes(n)
    return f"to fit the {size} request budget"


def _replace(image: PreparedImage, **update: object) -> PreparedImage:
    # Not model_copy(): it would carry the cached `sha256` and `data_url` of the old bytes.
    fields = {name: getattr(image, name) for name in PreparedImage.model_fields}
    return PreparedImage.model_validate({**fields, **update})


def shrink(image: PreparedImage, policy: ImagePolicy = DEFAULT_POLICY) -> PreparedImage | None:
    """The next smaller version of `image` (see `images.shrink_step`), or None."""
    data = image.data
    lossless = is_lossless(image.mime_type, data)
    with _decoding("The image"), open_image(data, policy) as im:
        exif = None if policy.fix_orientation else im.info.get("exif")
        if lossless:
            im.load()
            fmt = "WEBP" if im.has_transparency_data else "JPEG"
            pic, _ = _pixels_for(im, fmt, resizing=True)
            encoded = _encode(pic, fmt, QUALITY_SHRINK, False, exif)
            if len(encoded) < len(data):
                kind = "lossy WebP" if fmt == "WEBP" else "JPEG"
                return _replace(
                    image,
                    mime_type=MIME_OF[fmt],
                    data=encoded,
                    changes=(
                        *image.changes,
                        f"re-encoded {_kind(image, lossless)} as {kind} (quality "
                        f"{QUALITY_SHRINK}) {_budget(policy)}: "
                        f"{_bytes(len(data))} -> {_bytes(len(encoded))}",
                    ),
                )
        if max(image.width, image.height) <= SHRINK_MIN_SIDE:
            return None
        size = (math.ceil(image.width / 2), math.ceil(image.height / 2))
        if image.mime_type == "image/jpeg":
            im.draft(None, (image.width // 2, image.height // 2))  # libjpeg's own 1/2 scale
        im.load()
        fmt = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}.get(
            image.mime_type, "WEBP" if im.has_transparency_data else "JPEG"
        )  # HEIC/HEIF become JPEG (WebP with alpha): x265 encodes many times slower
        pic, _ = _pixels_for(im, fmt, resizing=True)
        if pic.size != size:
            pic = pic.reduce(2)  # a 2x2 box average: exact for halving, and fast
        encoded = _encode(pic, fmt, QUALITY_SHRINK, lossless, exif)
    how = fmt if lossless else f"{fmt} (quality {QUALITY_SHRINK})"
    return _replace(
        image,
        mime_type=MIME_OF[fmt],
        width=pic.width,
        height=pic.height,
        data=encoded,
        changes=(
            *image.changes,
            f"downscaled {image.width}x{image.height} -> {pic.width}x{pic.height} and "
            f"re-encoded as {how} {_budget(policy)}: "
            f"{_bytes(len(data))} -> {_bytes(len(encoded))}",
        ),
    )


def _kind(image: PreparedImage, lossless: bool) -> str:
    if image.mime_type == "image/webp":
        return "lossless WebP" if lossless else "WebP"
    return image.mime_type.removeprefix("image/").upper()
