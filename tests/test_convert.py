"""What is done to each kind of image: passthrough, conversion, orientation, detail, modes, shrinking."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms, ImageFile, JpegImagePlugin

from openai_gemini_vision import (
    SUPPORTED_MIME_TYPES,
    ImageError,
    ImagePolicy,
    PreparedImage,
    UnsupportedImageError,
)
from openai_gemini_vision.images.blob import parse_data_url
from openai_gemini_vision.images.convert import is_lossless
from openai_gemini_vision.images.convert import shrink as shrink_step
from openai_gemini_vision.images.load import prepare_bytes
from openai_gemini_vision.images.prepared import data_url
from openai_gemini_vision.images.probe import planned_size, probe

from .imaging import encode, image_bytes, photo

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def opened(img: PreparedImage) -> Image.Image:
    """The image as sent, decoded."""
    out = Image.open(io.BytesIO(img.data))
    out.load()
    return out


def near(pixel: Any, colour: tuple[int, ...], tolerance: int = 40) -> bool:
    """Whether `pixel` is within `tolerance` of `colour` on every channel."""
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=False))


# --- passthrough --------------------------------------------------------------------

SUPPORTED = {
    "png": (image_bytes("PNG"), "image/png"),
    "jpeg": (image_bytes("JPEG"), "image/jpeg"),
    "webp lossy": (image_bytes("WEBP", quality=80), "image/webp"),
    "webp lossless": (image_bytes("WEBP", lossless=True), "image/webp"),
    "heic": (encode(photo(), "HEIF"), "image/heic"),
}


@pytest.mark.parametrize("name", list(SUPPORTED))
def test_supported_images_pass_through_byte_for_byte(name: str) -> None:
    """A supported image needing nothing is sent as given, with nothing in changes."""
    data, mime = SUPPORTED[name]
    img = prepare_bytes(data)
    assert img.data is data
    assert (img.mime_type, img.width, img.height, img.changes) == (mime, 64, 48, ())
    assert (img.original_width, img.original_height) == (64, 48)


def test_passthrough_never_decodes_pixels(monkeypatch: pytest.MonkeyPatch) -> None:
    """Passing an image through reads its header only: decoding would fail here."""

    def no_decoding(self: Any) -> None:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    for data, _ in SUPPORTED.values():
        if not data.startswith(b"\x00"):  # pillow-heif decodes through its own class
            assert prepare_bytes(data).changes == ()


def test_data_url_matches_the_plain_recipe() -> None:
    """data_url is exactly data:<mime>;base64,<standard base64>."""
    import base64

    payload = bytes(range(256)) * 5 + b"\x00"
    assert data_url("image/png", payload) == (
        "data:image/png;base64," + base64.b64encode(payload).decode()
    )
    assert data_url("image/png", b"") == "data:image/png;base64,"


def _rebrand(heic: bytes, brand: bytes) -> bytes:
    """`heic` with every brand in its ftyp box replaced by `brand`."""
    size = int.from_bytes(heic[:4], "big")
    box = heic[:size]
    for old in (b"heic", b"heix", b"mif1", b"miaf", b"MiHE", b"MiPr"):
        box = box.replace(old, brand)
    return box + heic[size:]


def test_heif_mime_comes_from_the_ftyp_brand() -> None:
    """An HEVC-branded file is image/heic; one with only generic HEIF brands is image/heif."""
    heic = SUPPORTED["heic"][0]
    assert probe(heic).mime_type == "image/heic"
    assert probe(_rebrand(heic, b"mif1")).mime_type == "image/heif"
    img = prepare_bytes(_rebrand(heic, b"mif1"))
    assert (img.mime_type, img.changes) == ("image/heif", ())


def test_mpo_jpeg_is_sent_as_jpeg() -> None:
    """A JPEG with a multi-picture index (Pillow's MPO) is still image/jpeg and passes through."""
    buf = io.BytesIO()
    photo(32, 24).save(buf, "MPO", save_all=True, append_images=[photo(32, 24, seed=1)])
    img = prepare_bytes(buf.getvalue())
    assert (img.original_format, img.mime_type, img.changes) == ("MPO", "image/jpeg", ())


# --- conversion of types Gemini does not take ------------------------------------------


def _tiff_pages(count: int) -> bytes:
    pages = [Image.new("RGB", (20, 10), c) for c in (RED, GREEN, BLUE)[:count]]
    buf = io.BytesIO()
    pages[0].save(buf, "TIFF", save_all=True, append_images=pages[1:])
    return buf.getvalue()


LOSSLESS_SOURCES: dict[str, Callable[[], bytes]] = {
    "gif": lambda: image_bytes("GIF"),
    "bmp": lambda: image_bytes("BMP"),
    "tiff": lambda: image_bytes("TIFF"),
    "tga": lambda: image_bytes("TGA"),
    "ppm": lambda: image_bytes("PPM"),
    "pcx": lambda: image_bytes("PCX"),
    "qoi": lambda: image_bytes("QOI"),
    "ico": lambda: encode(photo(32, 32).convert("RGBA"), "ICO", sizes=[(32, 32)]),
}


@pytest.mark.parametrize("name", list(LOSSLESS_SOURCES))
def test_lossless_types_become_exact_pngs(name: str) -> None:
    """GIF, BMP, TIFF, TGA, PPM, PCX, QOI and ICO become PNG with every pixel kept."""
    data = LOSSLESS_SOURCES[name]()
    with Image.open(io.BytesIO(data)) as original:
        expected = original.convert("RGBA").tobytes()
        fmt = original.format
    img = prepare_bytes(data)
    assert img.mime_type == "image/png"
    assert opened(img).convert("RGBA").tobytes() == expected
    assert len(img.changes) == 1
    assert img.changes[0].startswith(f"converted {fmt} (")
    assert "which Gemini does not take) to PNG" in img.changes[0]


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("avif", lambda: encode(photo(64, 48), "AVIF", quality=80)),
        ("jpeg2000", lambda: encode(photo(64, 48), "JPEG2000", irreversible=True)),
        ("jpeg-compressed tiff", lambda: encode(photo(64, 48), "TIFF", compression="jpeg")),
    ],
)
def test_lossy_types_become_jpeg(name: str, make: Callable[[], bytes]) -> None:
    """Already-lossy sources (AVIF, JPEG 2000, JPEG-in-TIFF) become JPEG, not a bloated PNG."""
    img = prepare_bytes(make())
    assert img.mime_type == "image/jpeg"
    assert (img.width, img.height) == (64, 48)
    assert "to JPEG (quality 90)" in img.changes[-1]


def test_transparent_gif_keeps_its_transparency() -> None:
    """A GIF with a transparent colour becomes a PNG that is transparent in the same places."""
    im = Image.new("P", (10, 10), 1)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    im.paste(0, (0, 0, 5, 10))
    out = opened(prepare_bytes(encode(im, "GIF", transparency=0))).convert("RGBA")
    assert out.getpixel((1, 1))[3] == 0  # type: ignore[index]
    assert out.getpixel((8, 8)) == (255, 0, 0, 255)


def test_alpha_in_a_lossy_source_chooses_png() -> None:
    """An AVIF with alpha becomes PNG, since JPEG would drop the alpha."""
    im = photo(32, 24).convert("RGBA")
    im.putalpha(100)
    img = prepare_bytes(encode(im, "AVIF"))
    assert img.mime_type == "image/png"
    assert opened(img).mode == "RGBA"


def test_multipage_tiff_keeps_the_first_page() -> None:
    """A three-page TIFF becomes its first page, and the dropped pages are reported."""
    img = prepare_bytes(_tiff_pages(3))
    assert near(opened(img).convert("RGB").getpixel((5, 5)), RED, 0)
    assert "first of 3 frames" in img.changes[0]


def test_animated_gif_keeps_the_first_frame() -> None:
    """An animated GIF becomes a PNG of its first frame, with the frame count reported."""
    frames = [Image.new("RGB", (6, 6), c) for c in (GREEN, RED, BLUE, RED)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=50)
    img = prepare_bytes(buf.getvalue())
    assert near(opened(img).convert("RGB").getpixel((3, 3)), GREEN, 0)
    assert "first of 4 frames" in img.changes[0]


def test_convert_unsupported_false_raises_listing_the_five_types() -> None:
    """With convert_unsupported=False a GIF is refused, naming the accepted types and the switch."""
    policy = ImagePolicy(convert_unsupported=False)
    with pytest.raises(UnsupportedImageError) as info:
        prepare_bytes(image_bytes("GIF"), policy=policy, source="anim.gif")
    message = str(info.value)
    assert "anim.gif" in message
    assert "GIF (image/gif)" in message
    assert all(mime in message for mime in SUPPORTED_MIME_TYPES)
    assert "convert_unsupported=True" in message


def test_convert_unsupported_false_still_passes_supported_types() -> None:
    """convert_unsupported=False does not touch the five supported types."""
    data = SUPPORTED["png"][0]
    assert prepare_bytes(data, policy=ImagePolicy(convert_unsupported=False)).data is data


def test_postscript_is_refused_with_a_rasterize_hint() -> None:
    """EPS, which Pillow only draws through Ghostscript, is refused with what to do."""
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n%%EOF\n"
    with pytest.raises(UnsupportedImageError, match=r"PostScript.*Rasterize"):
        prepare_bytes(eps)


# --- EXIF orientation ----------------------------------------------------------------

# Where each corner of the upright picture is stored, per the EXIF 2.32 Orientation tag's
# definition ("0th row / 0th column" of the stored image = which side when upright):
# value -> function from upright (x, y) in a w x h picture to the stored position.
STORED_AT: dict[int, Callable[[int, int, int, int], tuple[int, int]]] = {
    1: lambda x, y, w, h: (x, y),
    2: lambda x, y, w, h: (w - 1 - x, y),
    3: lambda x, y, w, h: (w - 1 - x, h - 1 - y),
    4: lambda x, y, w, h: (x, h - 1 - y),
    5: lambda x, y, w, h: (y, x),
    6: lambda x, y, w, h: (y, w - 1 - x),
    7: lambda x, y, w, h: (h - 1 - y, w - 1 - x),
    8: lambda x, y, w, h: (h - 1 - y, x),
}
QUADRANTS = {(0, 0): RED, (1, 0): GREEN, (0, 1): BLUE, (1, 1): WHITE}


def stored_for(orientation: int, w: int = 48, h: int = 32) -> Image.Image:
    """An image that looks like four coloured quadrants once `orientation` is applied."""
    sw, sh = (h, w) if orientation >= 5 else (w, h)
    stored = Image.new("RGB", (sw, sh))
    for y in range(h):
        for x in range(w):
            colour = QUADRANTS[(2 * x // w, 2 * y // h)]
            stored.putpixel(STORED_AT[orientation](x, y, w, h), colour)
    return stored


def assert_quadrants(img: PreparedImage, w: int = 48, h: int = 32) -> None:
    """The image as sent shows the four quadrants upright."""
    out = opened(img).convert("RGB")
    assert out.size == (w, h)
    for (qx, qy), colour in QUADRANTS.items():
        point = (w // 4 + qx * w // 2, h // 4 + qy * h // 2)
        assert near(out.getpixel(point), colour), (point, out.getpixel(point), colour)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_is_turned_upright(fmt: str, orientation: int) -> None:
    """Each of the eight EXIF orientations ends with the picture upright, in its own format
    (a TIFF, which Pillow reports upright and turns while decoding, as a PNG)."""
    save = {"quality": 95} if fmt == "JPEG" else {"lossless": True} if fmt == "WEBP" else {}
    data = encode(stored_for(orientation), fmt, orientation=orientation, **save)
    img = prepare_bytes(data)
    assert_quadrants(img)
    assert not any("downscaled" in change for change in img.changes)
    assert img.mime_type == {"JPEG": "image/jpeg", "WEBP": "image/webp"}.get(fmt, "image/png")
    if orientation == 1 and fmt != "TIFF":
        assert img.changes == ()
    if orientation != 1:
        assert img.orientation == orientation
        assert f"EXIF orientation {orientation}" in img.changes[0]
        assert (img.original_width, img.original_height) == stored_for(orientation).size


def test_fix_orientation_false_sends_the_stored_image() -> None:
    """With fix_orientation=False the image passes through with its tag and stored size."""
    data = encode(stored_for(6), "JPEG", orientation=6)
    img = prepare_bytes(data, policy=ImagePolicy(fix_orientation=False))
    assert img.data is data
    assert (img.width, img.height, img.orientation) == (32, 48, 1)


@pytest.mark.parametrize("orientation", [3, 6])
def test_fix_orientation_false_converts_a_tiff_as_stored(orientation: int) -> None:
    """With fix_orientation=False a turned TIFF becomes a PNG of its stored pixels, unturned."""
    stored = stored_for(orientation)
    data = encode(stored, "TIFF", orientation=orientation)
    img = prepare_bytes(data, policy=ImagePolicy(fix_orientation=False))
    assert (img.width, img.height, img.orientation) == (*stored.size, 1)
    assert opened(img).convert("RGB").tobytes() == stored.tobytes()


def test_rotated_jpeg_is_re_encoded_at_quality_95_with_its_icc_profile() -> None:
    """Turning a JPEG re-encodes it at quality 95 and keeps its colour profile."""
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(photo(40, 30), "JPEG", orientation=3, icc_profile=icc)
    out = opened(prepare_bytes(data))
    reference = Image.open(io.BytesIO(encode(photo(40, 30), "JPEG", quality=95)))
    assert isinstance(out, JpegImagePlugin.JpegImageFile)
    assert out.quantization == reference.quantization  # type: ignore[attr-defined]
    assert out.info["icc_profile"] == icc


@pytest.mark.parametrize(
    ("save", "lossless"), [({"lossless": True}, True), ({"quality": 70}, False)]
)
def test_rotated_webp_keeps_lossless_or_lossy(save: dict[str, Any], lossless: bool) -> None:
    """Turning a lossless WebP keeps it lossless; a lossy one stays lossy."""
    img = prepare_bytes(encode(photo(20, 10), "WEBP", orientation=8, **save))
    assert (img.width, img.height) == (10, 20)
    assert is_lossless(img.mime_type, img.data) is lossless


def test_heic_rotation_is_applied_by_the_decoder() -> None:
    """HEIC stores rotation as transforms every decoder applies: it passes through, sized upright."""
    data = encode(stored_for(6), "HEIF", orientation=6)
    img = prepare_bytes(data)
    assert img.changes == ()
    assert (img.width, img.height) == (48, 32)


# --- detail="low" ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1600, 1200), (384, 288)),
        ((1200, 1600), (288, 384)),
        ((1000, 10), (384, 4)),
        ((385, 385), (384, 384)),
        ((777, 333), (384, 165)),
    ],
)
def test_low_detail_fits_384_exactly_as_planned(
    size: tuple[int, int], expected: tuple[int, int]
) -> None:
    """detail='low' gives the size planned_size() promised, both sides <= 384, aspect kept."""
    data = encode(photo(*size), "JPEG")
    img = prepare_bytes(data, detail="low")
    assert (img.width, img.height) == expected == planned_size(probe(data), detail="low")
    assert opened(img).size == expected
    assert f"downscaled {size[0]}x{size[1]} -> {expected[0]}x{expected[1]}" in img.changes[0]


def test_low_detail_leaves_small_images_untouched() -> None:
    """An image already within 384 px passes through at detail='low'."""
    data = encode(photo(384, 200), "PNG")
    assert prepare_bytes(data, detail="low").data is data


def test_low_detail_decodes_jpeg_in_draft_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """A large JPEG bound for 384 px is decoded at a fraction of its size, not whole."""
    decoded: list[tuple[int, int]] = []
    real_load = JpegImagePlugin.JpegImageFile.load

    def spy(self: JpegImagePlugin.JpegImageFile) -> Any:
        decoded.append(self.size)
        return real_load(self)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", spy)
    img = prepare_bytes(encode(photo(1600, 1200), "JPEG"), detail="low")
    assert set(decoded) == {(400, 300)}  # libjpeg's 1/4 scale, the least not below 384x288
    assert (img.width, img.height) == (384, 288)


def test_low_detail_with_orientation() -> None:
    """A rotated photo at detail='low' is turned upright and fitted to 384 px."""
    data = encode(stored_for(6, 800, 400), "JPEG", orientation=6, quality=95)
    img = prepare_bytes(data, detail="low")
    assert (img.width, img.height) == (384, 192)
    assert_quadrants(img, 384, 192)


def test_detail_argument_wins_over_policy() -> None:
    """An explicit detail beats the policy's; the policy's applies when none is given."""
    data = encode(photo(800, 600), "JPEG")
    low = ImagePolicy(detail="low")
    assert prepare_bytes(data, policy=low).width == 384
    assert prepare_bytes(data, policy=low, detail="high").data is data


def test_low_detail_heic_stays_heic() -> None:
    """A HEIC downscaled for detail='low' is written as HEIC again."""
    img = prepare_bytes(encode(photo(800, 600), "HEIF"), detail="low")
    assert (img.mime_type, img.width, img.height) == ("image/heic", 384, 288)


# --- modes -------------------------------------------------------------------------


def test_cmyk_jpeg_turned_upright_stays_red() -> None:
    """A red CMYK JPEG that must be re-encoded comes out as RGB and still red."""
    data = encode(Image.new("CMYK", (40, 30), (0, 255, 255, 0)), "JPEG", orientation=3)
    img = prepare_bytes(data)
    out = opened(img)
    assert out.mode == "RGB"
    assert near(out.getpixel((20, 15)), RED)
    assert "converted CMYK colours to RGB" in img.changes


def test_16_bit_grey_is_scaled_not_clipped() -> None:
    """A 16-bit grey PNG downscaled keeps its levels (40000/65535 -> about 155), not 255."""
    data = encode(Image.new("I;16", (800, 100), 40000), "PNG")
    out = opened(prepare_bytes(data, detail="low"))
    assert out.mode == "L"
    assert abs(out.getpixel((10, 10)) - 155) <= 1  # type: ignore[operator]


def test_16_bit_tiff_becomes_16_bit_png() -> None:
    """A 16-bit grey TIFF converted without resizing keeps all 16 bits in the PNG."""
    out = opened(prepare_bytes(encode(Image.new("I;16", (20, 10), 40000), "TIFF")))
    assert out.mode.startswith("I")
    assert out.getpixel((3, 3)) == 40000


def test_float_tiff_is_stretched_to_8_bits() -> None:
    """A floating-point TIFF's range is mapped onto 0..255."""
    im = Image.new("F", (20, 10), 0.25)
    im.paste(0.75, (10, 0, 20, 10))
    out = opened(prepare_bytes(encode(im, "TIFF")))
    assert (out.mode, out.getpixel((2, 2)), out.getpixel((15, 2))) == ("L", 0, 255)


def test_la_png_keeps_alpha_when_downscaled() -> None:
    """A grey+alpha PNG downscaled stays grey+alpha."""
    im = Image.new("LA", (800, 100), (200, 255))
    im.paste((0, 0), (0, 0, 400, 100))
    out = opened(prepare_bytes(encode(im, "PNG"), detail="low"))
    assert out.mode == "LA"
    assert out.getpixel((10, 10))[1] == 0  # type: ignore[index]
    assert out.getpixel((300, 10)) == (200, 255)


def test_palette_png_with_transparency_downscaled_keeps_it() -> None:
    """A palette PNG with tRNS downscaled becomes RGBA with the same pixels transparent."""
    im = Image.new("P", (800, 100), 1)
    im.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    im.paste(0, (0, 0, 400, 100))
    out = opened(prepare_bytes(encode(im, "PNG", transparency=0), detail="low"))
    assert out.getpixel((10, 10))[3] == 0  # type: ignore[index]
    assert out.getpixel((300, 10)) == (0, 0, 255, 255)


def test_transparent_colour_does_not_bleed_when_downscaled() -> None:
    """Fully transparent pixels' hidden colour never tints the visible edge (premultiplied)."""
    im = Image.new("RGBA", (800, 100), (255, 0, 0, 0))
    im.paste((0, 0, 255, 255), (400, 0, 800, 100))
    out = opened(prepare_bytes(encode(im, "PNG"), detail="low")).convert("RGBA")
    edge = out.getpixel((193, 24))
    assert edge[3] > 0  # type: ignore[index]
    assert edge[0] < 10, edge  # type: ignore[index]


def test_one_bit_bmp_becomes_exact_one_bit_png() -> None:
    """A bilevel BMP converts to a PNG with the same black and white pixels."""
    im = photo(20, 10).convert("1")
    out = opened(prepare_bytes(encode(im, "BMP")))
    assert out.convert("1").tobytes() == im.tobytes()


# --- shrink_step --------------------------------------------------------------------


def _prepared(data: bytes) -> PreparedImage:
    return prepare_bytes(data, source="test")


def test_shrink_lossless_without_alpha_becomes_jpeg_85() -> None:
    """A PNG without alpha shrinks first to a JPEG at quality 85, same size, and says so."""
    first = _prepared(encode(photo(300, 200), "PNG"))
    smaller = shrink_step(first, ImagePolicy(max_request_bytes=5_000_000))
    assert smaller is not None
    assert (smaller.mime_type, smaller.width, smaller.height) == ("image/jpeg", 300, 200)
    assert smaller.byte_size < first.byte_size
    reference = Image.open(io.BytesIO(encode(photo(300, 200), "JPEG", quality=85)))
    assert opened(smaller).quantization == reference.quantization  # type: ignore[attr-defined]
    assert smaller.changes[-1] == (
        "re-encoded PNG as JPEG (quality 85) to fit the 5 MB request budget: "
        f"{first.byte_size:,} bytes -> {smaller.byte_size:,} bytes"
    )
    assert (smaller.original_format, smaller.source) == ("PNG", "test")


def test_shrink_recomputes_digest_and_data_url() -> None:
    """A shrunk image's sha256 and data URL describe its new bytes, not the old ones."""
    first = _prepared(encode(photo(300, 200), "PNG"))
    _ = first.data_url, first.sha256
    smaller = shrink_step(first)
    assert smaller is not None
    assert parse_data_url(smaller.data_url) == ("image/jpeg", smaller.data)
    assert smaller.sha256 != first.sha256


def test_shrink_lossless_with_alpha_becomes_lossy_webp() -> None:
    """A PNG with alpha shrinks to a lossy WebP that keeps the alpha."""
    im = photo(300, 200).convert("RGBA")
    im.putalpha(128)
    smaller = shrink_step(_prepared(encode(im, "PNG")))
    assert smaller is not None
    assert smaller.mime_type == "image/webp"
    assert not is_lossless(smaller.mime_type, smaller.data)
    assert opened(smaller).mode == "RGBA"


def test_shrink_lossy_halves_both_sides() -> None:
    """A JPEG shrinks by halving both sides (rounding up), re-encoded at quality 85."""
    first = _prepared(encode(photo(601, 401), "JPEG", quality=95))
    smaller = shrink_step(first)
    assert smaller is not None
    assert (smaller.width, smaller.height) == opened(smaller).size == (301, 201)
    assert (
        "downscaled 601x401 -> 301x201 and re-encoded as JPEG (quality 85)" in (smaller.changes[-1])
    )


def test_shrink_stops_at_256_px() -> None:
    """A lossy image whose longest side is 256 px or less cannot shrink: None."""
    assert shrink_step(_prepared(encode(photo(256, 100), "JPEG"))) is None


def test_shrink_steps_always_get_smaller_and_end() -> None:
    """Repeated shrinking strictly reduces the bytes and ends in None."""
    image: PreparedImage | None = _prepared(encode(photo(1100, 700), "PNG"))
    sizes = []
    while image is not None:
        sizes.append(image.byte_size)
        image = shrink_step(image)
    assert len(sizes) >= 3
    assert sizes == sorted(sizes, reverse=True)
    assert len(set(sizes)) == len(sizes)


def test_shrink_heic_becomes_jpeg() -> None:
    """A HEIC shrinks to a halved JPEG (far faster to encode than HEVC)."""
    smaller = shrink_step(_prepared(encode(photo(600, 400), "HEIF")))
    assert smaller is not None
    assert (smaller.mime_type, smaller.width, smaller.height) == ("image/jpeg", 300, 200)


def test_shrink_keeps_the_orientation_tag_when_not_applied() -> None:
    """With fix_orientation=False a shrunk JPEG keeps its EXIF orientation."""
    policy = ImagePolicy(fix_orientation=False)
    first = prepare_bytes(encode(photo(600, 400), "JPEG", orientation=6), policy=policy)
    smaller = shrink_step(first, policy)
    assert smaller is not None
    assert opened(smaller).getexif()[0x0112] == 6


# --- the changes invariant ----------------------------------------------------------

INVARIANT_INPUTS: dict[str, tuple[bytes, dict[str, Any]]] = {
    **{name: (data, {}) for name, (data, _) in SUPPORTED.items()},
    "png at low detail, small": (encode(photo(100, 100), "PNG"), {"detail": "low"}),
    "jpeg at low detail, big": (encode(photo(500, 400), "JPEG"), {"detail": "low"}),
    "gif": (image_bytes("GIF"), {}),
    "rotated jpeg": (encode(photo(), "JPEG", orientation=6), {}),
    "upright tag": (encode(photo(), "JPEG", orientation=1), {}),
    "bogus tag": (encode(photo(), "JPEG", orientation=9), {}),
}


@pytest.mark.parametrize("name", list(INVARIANT_INPUTS))
def test_changes_empty_exactly_when_bytes_untouched(name: str) -> None:
    """changes is empty if and only if the bytes sent are the bytes given."""
    data, kwargs = INVARIANT_INPUTS[name]
    img = prepare_bytes(data, **kwargs)
    assert (img.changes == ()) == (img.data == data)


def _mutations() -> st.SearchStrategy[bytes]:
    seeds = [
        image_bytes("PNG", 12, 8),
        image_bytes("JPEG", 12, 8),
        image_bytes("GIF", 12, 8),
        image_bytes("WEBP", 12, 8),
        image_bytes("BMP", 12, 8),
        encode(photo(12, 8), "JPEG", orientation=6),
    ]

    def mutate(seed: bytes, cut: int, flips: list[tuple[int, int]]) -> bytes:
        data = bytearray(seed[: max(0, len(seed) - cut)])
        for position, value in flips:
            if data:
                data[position % len(data)] = value
        return bytes(data)

    mutated = st.builds(
        mutate,
        st.sampled_from(seeds),
        st.integers(0, 64),
        st.lists(st.tuples(st.integers(0, 4096), st.integers(0, 255)), max_size=4),
    )
    return st.one_of(mutated, st.binary(max_size=64))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_mutations(), low=st.booleans())
def test_any_bytes_give_an_image_or_an_image_error(data: bytes, low: bool) -> None:
    """Arbitrary bytes give a valid PreparedImage or an ImageError, and nothing else."""
    try:
        img = prepare_bytes(data, detail="low" if low else None)
    except ImageError:
        return
    assert img.mime_type in SUPPORTED_MIME_TYPES
    assert (img.changes == ()) == (img.data == data)
    if img.changes:  # written here: it must decode whole
        assert opened(img).size == (img.width, img.height)
    else:  # passed through undecoded: its header must hold what was reported
        assert probe(img.data).upright_size() == (img.width, img.height)
