"""Small PDFs and videos made in the tests: vector text pages, Pillow pages, short clips."""

from __future__ import annotations

import io
from collections.abc import Sequence

import av
from PIL import Image, ImageDraw

__all__ = ["LETTER", "make_pdf", "make_video", "pillow_pdf", "tagged_frame_width"]

#: US Letter in points (1/72 inch).
LETTER = (612.0, 792.0)


def make_pdf(
    pages: Sequence[Sequence[str]], size: tuple[float, float] = LETTER, font_size: float = 10.0
) -> bytes:
    """A PDF whose pages hold lines of vector text in Helvetica, one of the 14 standard
    fonts every reader has, written object by object with a cross-reference table."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    pages_id = len(objects) + 2 * len(pages) + 1
    kids = []
    for lines in pages:
        ops = [b"BT", b"/F1 %.1f Tf" % font_size, b"%.1f TL" % (font_size * 1.3)]
        ops.append(b"72 %.1f Td" % (size[1] - 72))
        for line in lines:
            text = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(b"(" + text.encode("latin-1") + b") Tj T*")
        ops.append(b"ET")
        stream = b"\n".join(ops)
        content = add(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %g %g] "
                b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>"
                % (pages_id, size[0], size[1], font, content)
            )
        )
    refs = b" ".join(b"%d 0 R" % kid for kid in kids)
    assert add(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (refs, len(kids))) == pages_id
    catalog = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        catalog,
        xref,
    )
    return bytes(out)


def pillow_pdf(images: Sequence[Image.Image], dpi: float) -> bytes:
    """`images` as the pages of a PDF written by Pillow, each `dpi` pixels to the inch."""
    buf = io.BytesIO()
    images[0].save(buf, "PDF", save_all=True, append_images=list(images[1:]), resolution=dpi)
    return buf.getvalue()


def make_video(
    seconds: float = 5,
    fps: int = 10,
    size: tuple[int, int] = (64, 32),
    *,
    gop: int = 10,
    rotation: int | None = None,
    codec: str = "libx264",
    container: str = "mp4",
) -> bytes:
    """A clip whose frame n shows a white bar n + 1 pixels wide (so each frame can be told
    apart) and a red square at its stored top-left corner; a keyframe every `gop` frames."""
    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        stream = out.add_stream(codec, rate=fps, options={"g": str(gop)})
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for n in range(round(seconds * fps)):
            picture = Image.new("RGB", size, (0, 0, 0))
            draw = ImageDraw.Draw(picture)
            draw.rectangle((0, size[1] // 2, n % size[0], size[1] - 1), fill=(255, 255, 255))
            picture.paste((255, 0, 0), (0, 0, 8, 8))
            for packet in stream.encode(av.VideoFrame.from_image(picture)):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def tagged_frame_width(picture: Image.Image) -> int:
    """The white bar's width in a frame of `make_video`, read three quarters down (upright)."""
    grey = picture.convert("L")
    row = grey.height * 3 // 4
    return sum(1 for x in range(grey.width) if grey.getpixel((x, row)) > 128)  # type: ignore[operator]
