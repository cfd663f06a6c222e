"""What an image's header says, read right: orientation wherever Pillow finds it, frames
that cannot be counted, and formats Pillow names but cannot decode, each with the fix."""

from __future__ import annotations

import io
import struct
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from openai_gemini_vision import (
    CorruptImageError,
    ImagePolicy,
    ImageTooLargeError,
    UnsupportedImageError,
    estimate_tokens,
    load_image,
    prepare_messages,
)

from .imaging import encode

RED, BLUE = (255, 0, 0), (0, 0, 255)


def red_left(width: int = 30, height: int = 20) -> Image.Image:
    """Left half red, right half blue."""
    im = Image.new("RGB", (width, height), BLUE)
    im.paste(RED, (0, 0, width // 2, height))
    return im


def red_on_top(data: bytes, size: tuple[int, int]) -> None:
    """The image is `size`, red along its top and blue along its bottom (red-left turned by 6)."""
    with Image.open(io.BytesIO(data)) as out:
        out = out.convert("RGB")
        assert out.size == size
        assert out.getpixel((size[0] // 2, 1)) == RED
        assert out.getpixel((size[0] // 2, size[1] - 2)) == BLUE


# --- orientation kept in PNG text chunks -----------------------------------------------


def png_with_xmp_orientation(orientation: int) -> bytes:
    """A red-left PNG whose XMP packet (an iTXt chunk) says tiff:Orientation."""
    info = PngImagePlugin.PngInfo()
    info.add_itxt(
        "XML:com.adobe.xmp",
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
        '22-rdf-syntax-ns#"><rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" '
        f'tiff:Orientation="{orientation}"/></rdf:RDF></x:xmpmeta>',
    )
    return encode(red_left(), "PNG", pnginfo=info)


def png_with_imagemagick_exif(orientation: int) -> bytes:
    """A red-left PNG whose EXIF is in ImageMagick's "Raw profile type exif" zTXt chunk."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    raw = exif.tobytes()
    info = PngImagePlugin.PngInfo()
    info.add_text("Raw profile type exif", f"\nexif\n{len(raw):8}\n{raw.hex()}\n", zip=True)
    return encode(red_left(), "PNG", pnginfo=info)


@pytest.mark.parametrize("make", [png_with_xmp_orientation, png_with_imagemagick_exif])
def test_a_png_orientation_kept_in_text_is_applied(
    make: Callable[[int], bytes], tmp_path: Path
) -> None:
    """An orientation in a PNG's XMP or ImageMagick EXIF text turns it upright, estimate alike."""
    path = tmp_path / "turned.png"
    path.write_bytes(make(6))
    img = load_image(path)
    assert img.orientation == 6
    assert (img.original_width, img.original_height) == (30, 20)
    red_on_top(img.data, (20, 30))
    estimate = estimate_tokens([{"role": "user", "content": [path]}], "gemini-2.0-flash")
    assert estimate.images[0].size == (20, 30)
    assert estimate.images[0].changes == img.changes


def test_a_turned_tiff_is_estimated_at_the_size_it_is_sent(tmp_path: Path) -> None:
    """Pillow reports a TIFF upright already; the plan, the pixels and the estimate agree."""
    path = tmp_path / "turned.tif"
    path.write_bytes(encode(red_left(), "TIFF", orientation=6))
    messages = [{"role": "user", "content": [path]}]
    (estimated,) = estimate_tokens(messages, "gemini-2.0-flash").images
    (sent,) = prepare_messages(messages).images
    assert (estimated.original_size, estimated.size) == ((30, 20), (20, 30))
    assert (sent.width, sent.height) == (20, 30)
    assert estimated.changes == sent.changes
    red_on_top(sent.data, (20, 30))


# --- frames that cannot be counted --------------------------------------------------------


def psd_with_a_short_layer_block(layers: int = 3) -> bytes:
    """An RGB Photoshop file whose layer section counts `layers` layers but holds none."""
    width = height = 4
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, height, width, 8, 3)
    no_colour_data = no_resources = struct.pack(">I", 0)
    layer_info = struct.pack(">h", layers)
    section = struct.pack(">II", 4 + len(layer_info), len(layer_info)) + layer_info
    pixels = struct.pack(">H", 0) + bytes(3 * width * height)  # raw, all black
    return header + no_colour_data + no_resources + section + pixels


def tiff_whose_second_page_has_no_width() -> bytes:
    """A two-page TIFF whose second directory lost its ImageWidth tag."""
    buf = io.BytesIO()
    pages = [Image.new("RGB", (4, 4), colour) for colour in (RED, BLUE)]
    pages[0].save(buf, "TIFF", save_all=True, append_images=pages[1:])
    data = bytearray(buf.getvalue())
    first = int.from_bytes(data[4:8], "little")
    count = int.from_bytes(data[first : first + 2], "little")
    second = int.from_bytes(data[first + 2 + 12 * count : first + 6 + 12 * count], "little")
    for index in range(int.from_bytes(data[second : second + 2], "little")):
        entry = second + 2 + 12 * index
        if int.from_bytes(data[entry : entry + 2], "little") == 256:  # ImageWidth
            data[entry : entry + 2] = (0x8000).to_bytes(2, "little")  # an unknown tag
    return bytes(data)


@pytest.mark.parametrize(
    ("make", "name"),
    [(psd_with_a_short_layer_block, "PSD"), (tiff_whose_second_page_has_no_width, "TIFF")],
)
def test_a_file_whose_frames_cannot_be_counted_is_refused_as_damaged(
    make: Callable[[], bytes], name: str
) -> None:
    """Counting the frames of a damaged PSD or TIFF gives a typed error, not Pillow's own."""
    with pytest.raises(CorruptImageError, match=f"The {name} image is damaged") as caught:
        load_image(make())
    assert "Pass the complete, undamaged file" in str(caught.value)


# --- formats Pillow names but cannot decode -----------------------------------------------

SHORT, LONG, ASCII = 3, 4, 2


def tiff_by_hand(entries: list[tuple[int, ...]], pixels: bytes) -> bytes:
    """A little-endian TIFF: `pixels` at offset 8, then one directory of `entries`.

    Each entry is (tag, type, *values), or (tag, type, count, offset) given raw with
    type ASCII, so a test can point a tag anywhere.
    """
    directory_at = 8 + len(pixels)
    values_at = directory_at + 2 + 12 * len(entries) + 4
    body, values = b"", b""
    for tag, kind, *numbers in sorted(entries):
        if kind == ASCII:
            body += struct.pack("<HHII", tag, kind, *numbers)
            continue
        packed = struct.pack(f"<{len(numbers)}{'H' if kind == SHORT else 'I'}", *numbers)
        if len(packed) <= 4:
            body += struct.pack("<HHI", tag, kind, len(numbers)) + packed.ljust(4, b"\0")
        else:
            body += struct.pack("<HHII", tag, kind, len(numbers), values_at + len(values))
            values += packed
    directory = struct.pack("<H", len(entries)) + body + struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", directory_at) + pixels + directory + values


def float_planar_tiff(width: int = 2, height: int = 2) -> bytes:
    """An RGB TIFF of 32-bit floats stored plane by plane (PlanarConfiguration 2)."""
    plane = struct.pack(f"<{width * height}f", *[0.5] * (width * height))
    starts = [8 + n * len(plane) for n in range(3)]
    return tiff_by_hand(
        [
            (256, LONG, width),
            (257, LONG, height),
            (258, SHORT, 32, 32, 32),
            (259, SHORT, 1),
            (262, SHORT, 2),
            (273, LONG, *starts),
            (277, SHORT, 3),
            (278, LONG, height),
            (279, LONG, *[len(plane)] * 3),
            (284, SHORT, 2),
            (339, SHORT, 3, 3, 3),
        ],
        plane * 3,
    )


def test_a_tiff_whose_pixel_layout_pillow_cannot_decode_says_so() -> None:
    """A float32 planar TIFF is named by its layout and sent to be converted, not called damaged."""
    with pytest.raises(UnsupportedImageError) as caught:
        load_image(float_planar_tiff())
    message = str(caught.value)
    assert "3 samples of 32-bit floating point, stored plane by plane" in message
    assert "convert it to PNG or JPEG first" in message
    assert "damaged" not in message


def placeable_wmf(width: int = 100, height: int = 50) -> bytes:
    """A placeable Windows Metafile header (Aldus, 1440 units an inch) and an empty metafile."""
    header = struct.pack("<IHhhhhHI", 0x9AC6CDD7, 0, 0, 0, width, height, 1440, 0)
    checksum = 0
    for (word,) in struct.iter_unpack("<H", header):
        checksum ^= word
    metafile = struct.pack("<HHHIHIH", 1, 9, 0x300, 9, 0, 3, 0) + struct.pack("<IH", 3, 0)
    return header + struct.pack("<H", checksum) + metafile


STUBS = {
    "WMF": placeable_wmf(),
    "GRIB": b"GRIB\x00\x00\x00\x01" + bytes(100),  # edition 1 in byte 7
    "BUFR": b"BUFR" + bytes(100),
    "HDF5": b"\x89HDF\r\n\x1a\n" + bytes(100),
}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(
            name,
            marks=pytest.mark.skipif(
                name == "WMF" and hasattr(Image.core, "drawwmf"),
                reason="this Pillow draws WMF itself (on Windows)",
            ),
        )
        for name in STUBS
    ],
)
def test_a_format_pillow_names_but_cannot_decode_is_refused_with_the_fix(name: str) -> None:
    """WMF, GRIB, BUFR and HDF5 are named as what they are, with a way forward."""
    with pytest.raises(UnsupportedImageError) as caught:
        load_image(STUBS[name])
    message = str(caught.value)
    assert f"Pillow recognises this as {name}" in message
    assert "register_handler" in message
    assert "convert it to PNG or JPEG first" in message
    assert "damaged" not in message


def test_a_tiff_in_a_compression_libtiff_may_lack_names_the_codec() -> None:
    """A TIFF whose WebP strip will not decode is not simply called damaged: the codec is named."""
    data = tiff_by_hand(
        [
            (256, LONG, 4),
            (257, LONG, 4),
            (258, SHORT, 8, 8, 8),
            (259, SHORT, 50001),  # Compression: WebP, optional in libtiff builds
            (262, SHORT, 2),
            (273, LONG, 8),
            (277, SHORT, 3),
            (278, LONG, 4),
            (279, LONG, 48),
        ],
        bytes(48),
    )
    with pytest.raises(CorruptImageError) as caught:
        load_image(data)
    message = str(caught.value)
    assert "(webp compression)" in message
    assert "may lack the webp codec" in message
    assert "Convert it to PNG or JPEG first" in message


def test_a_tiff_with_a_tag_past_its_end_converts_without_a_warning() -> None:
    """Pillow's "Tag data larger than file" warning stays inside; the pixels still arrive."""
    pixels = bytes(RED) * 16
    data = tiff_by_hand(
        [
            (256, LONG, 4),
            (257, LONG, 4),
            (258, SHORT, 8, 8, 8),
            (259, SHORT, 1),
            (262, SHORT, 2),
            (273, LONG, 8),
            (277, SHORT, 3),
            (278, LONG, 4),
            (279, LONG, len(pixels)),
            (270, ASCII, 5000, 0x00FF0000),  # ImageDescription, far past the end
        ],
        pixels,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        img = load_image(data)
    assert [str(w.message) for w in caught] == []
    assert (img.mime_type, img.width, img.height) == ("image/png", 4, 4)


def icns_with_a_huge_entry() -> bytes:
    """An icon whose 256x256 entry is a JPEG 2000 image claiming 100000x100000 pixels."""
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "JPEG2000", no_jp2=False)
    jp2 = bytearray(buf.getvalue())
    size_at = jp2.find(b"ihdr") + 4
    jp2[size_at : size_at + 8] = struct.pack(">II", 100_000, 100_000)
    entry = b"ic08" + struct.pack(">I", 8 + len(jp2)) + bytes(jp2)
    return b"icns" + struct.pack(">I", 8 + len(entry)) + entry


def test_an_icon_that_decodes_larger_than_its_header_names_max_pixels() -> None:
    """Pillow's bomb guard tripping mid-decode is worded with the policy field to change."""
    messages = [{"role": "user", "content": [icns_with_a_huge_entry()]}]
    with pytest.raises(ImageTooLargeError) as caught:
        prepare_messages(messages, policy=ImagePolicy())
    message = str(caught.value)
    assert "ImagePolicy(max_pixels=...)" in message
    assert "decompression bomb DOS attack" not in message
