"""PDF pages as images: page selection, size per model family with legible text, labels,
encrypted / damaged / empty PDFs, the request budget, and OpenAI `file` parts."""

from __future__ import annotations

import base64
import io
import sys
import threading
from typing import Any

import pypdfium2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from openai_gemini_vision.documents import (
    family_cost,
    is_pdf,
    page_size,
    page_sizes,
    parse_pages,
    pdf_from_file_part,
    render_pages,
)
from openai_gemini_vision.documents.sizing import MAX_SIDE, MIN_DPI, PREFERRED_DPI
from openai_gemini_vision.errors import (
    CorruptDocumentError,
    DocumentError,
    EmptyDocumentError,
    EncryptedDocumentError,
    InvalidArgumentError,
    MessageFormatError,
    MissingDependencyError,
    RequestTooLargeError,
    TooManyImagesError,
    UnsupportedDocumentError,
)
from openai_gemini_vision.policy import ImagePolicy

from .media import LETTER, make_pdf, pillow_pdf

# Made with pikepdf 10.18 from make_pdf([["Secret page one"], ["Secret page two"]]):
#   pdf.save(out, encryption=pikepdf.Encryption(user="secret", owner="owner", R=6),
#            compress_streams=True, object_stream_mode=pikepdf.ObjectStreamMode.generate)
# (AES-256; pypdfium2 reads encrypted PDFs but cannot write them.)
NEEDS_PASSWORD = base64.b64decode(
    "JVBERi0xLjcKJb/3ov4KMSAwIG9iago8PCAvRXh0ZW5zaW9ucyA8PCAvQURCRSA8PCAvQmFzZVZlcnNpb24gLzEu"
    "NyAvRXh0ZW5zaW9uTGV2ZWwgOCA+PiA+PiAvUGFnZXMgNiAwIFIgL1R5cGUgL0NhdGFsb2cgPj4KZW5kb2JqCjIg"
    "MCBvYmoKPDwgL1R5cGUgL09ialN0bSAvTGVuZ3RoIDE5MiAvRmlsdGVyIC9GbGF0ZURlY29kZSAvTiA0IC9GaXJz"
    "dCAyMSA+PgpzdHJlYW0KSTFksRa79cplOLxI8wpvZAZaOOxsSLDBUaSW34boPHLn/j5holIKiNxE8mczkzdJE9oK"
    "YtmeWLUxb9lYASzexWjAv0riyBchMOt9zaohCdtMfFmFbwwBB8a8BfFavnSvCdyq6F/quOtk8TRjC2Sox72eM9t0"
    "wJT5BSm5Fv5zYeIqM6lxNWZnHi5UpAO0ktozCylOQmGen57LIctjVj+s7snOVi3nql0Pddx6OSK2r5IvN8x2qX9c"
    "kvc+twMq4Nd6CmVuZHN0cmVhbQplbmRvYmoKNyAwIG9iago8PCAvTGVuZ3RoIDgwIC9GaWx0ZXIgL0ZsYXRlRGVj"
    "b2RlID4+CnN0cmVhbQrIcedfpYOGSyNufwyPURMrU90J6x4oxwqVq+layUwXAlJAXS3PEQxDxgj9wEBupIt2GOCZ"
    "R8Lk0LyXPzRsq1Bmmzw6IKT1Lpjf/+IvvBpR2wplbmRzdHJlYW0KZW5kb2JqCjggMCBvYmoKPDwgL0xlbmd0aCA4"
    "MCAvRmlsdGVyIC9GbGF0ZURlY29kZSA+PgpzdHJlYW0KYaOEX2jKY7MFtUr3kJVJWedDyh5FtUe6FK4Mg8kPfQ2S"
    "CRRA97fXf5rM3C4QPjQPAHqu9d3JoL7MsvmH5eAEQqyK3Wsfz5STEktRVwAhkt0KZW5kc3RyZWFtCmVuZG9iago5"
    "IDAgb2JqCjw8IC9DRiA8PCAvU3RkQ0YgPDwgL0F1dGhFdmVudCAvRG9jT3BlbiAvQ0ZNIC9BRVNWMyAvTGVuZ3Ro"
    "IDMyID4+ID4+IC9GaWx0ZXIgL1N0YW5kYXJkIC9MZW5ndGggMjU2IC9PIDw5NjFjNjQwMmI2YTYwMDM4MjRlZjJh"
    "MjA5ZGUwNTY3ZDBmN2Q5MjY2YzRkOTk5NWJjMmFmNTU2YjA3YjRlNDEyNDQ1MGQ3N2Y4ZGVlMzBkZDI2YjU5NmZl"
    "NGM3Y2QwMGQ+IC9PRSA8N2VlNzdkM2RkODM2ZmFiZjQ0NDM3ZmRiMWMzYjQxMDA1MDQ5ZmVkMDU3OTI5NDU5MGQ4"
    "MTE2OTdhMjUwNGE0MT4gL1AgLTEwMjggL1Blcm1zIDwwZDkyYzE4NjhlOTcyOTI3MTY5MGY4MTJjOWE4MDUzMz4g"
    "L1IgNiAvU3RtRiAvU3RkQ0YgL1N0ckYgL1N0ZENGIC9VIDxjNDMzYzdhNTM2NWYyZTRlMDJkMjBhNDk3MTIyNDM5"
    "MTNjMzQ4Y2VlZmM0NTgwNmFlY2NhYzhmMjZjZDZhMTc2YWFkODNjMWQxNGI2ZTM5ZGU5NzJlZDJkZjY4ZGJmYWM+"
    "IC9VRSA8YmQzZDJhOTg4NzA2NDcwMzc4YmNiYjRmMzU5OWUxZjc3MjliMDAxODBmZTI4ZDgyNDY2OGQ5ZmNlOWIz"
    "ZjExYj4gL1YgNSA+PgplbmRvYmoKMTAgMCBvYmoKPDwgL1R5cGUgL1hSZWYgL0xlbmd0aCA0MyAvRmlsdGVyIC9G"
    "bGF0ZURlY29kZSAvRGVjb2RlUGFybXMgPDwgL0NvbHVtbnMgNCAvUHJlZGljdG9yIDEyID4+IC9XIFsgMSAyIDEg"
    "XSAvUm9vdCAxIDAgUiAvU2l6ZSAxMSAvSUQgWzw0NTEzNzI4MzQzYWY0MWVkYzQ4OWY5ODBhODM0YmVkMj48NDUx"
    "MzcyODM0M2FmNDFlZGM0ODlmOTgwYTgzNGJlZDI+XSAvRW5jcnlwdCA5IDAgUiA+PgpzdHJlYW0KeJxjYgACJkYG"
    "fgYmBoZiEKsBxGJgRCL+My79y8TAOB0kASKY1BgAZOgFFwplbmRzdHJlYW0KZW5kb2JqCnN0YXJ0eHJlZgoxMjc1"
    "CiUlRU9GCg=="
)
# The same saved with pikepdf.Encryption(user="", owner="owner", R=4,
# allow=pikepdf.Permissions(extract=False)): locked against copying only.
OWNER_ONLY = base64.b64decode(
    "JVBERi0xLjYKJb/3ov4KMSAwIG9iago8PCAvUGFnZXMgNiAwIFIgL1R5cGUgL0NhdGFsb2cgPj4KZW5kb2JqCjIg"
    "MCBvYmoKPDwgL1R5cGUgL09ialN0bSAvTGVuZ3RoIDE5MiAvRmlsdGVyIC9GbGF0ZURlY29kZSAvTiA0IC9GaXJz"
    "dCAyMSA+PgpzdHJlYW0KE2ab9JAZ4CSzYdubFgExgxoPRiKp3MwmgcrXDg6kiV03dfJx9j1ihSwEsZB6DNO9TUJx"
    "UHKC4410Kpd7WUAPYaR1/SsG18tprSlGcHXUQFMUlk154H18A7BhaLisgWw3rmIBHmybQthaGZt5bYBdZfz6e3MD"
    "1XLwcDDpL/4O7nQqU2P5dyv/a4JYvUbeRsLIa7e7C9Dytg3RPcEKFk/IjiebT1EkoCMKhaLvvAVwayY/2fI1d/kg"
    "6AhM9+1XOTOvCmVuZHN0cmVhbQplbmRvYmoKNyAwIG9iago8PCAvTGVuZ3RoIDgwIC9GaWx0ZXIgL0ZsYXRlRGVj"
    "b2RlID4+CnN0cmVhbQp4TwtVyKsjSm1SaVCLr2Ebhf3On6UJXqu1Y3Jwn5hAvOY5WjmHQrB+Y1yRTvmt3ey5fzSl"
    "QsIS9hx4M5k1+j3FPBUIKistAVz6jK0/RtKaswplbmRzdHJlYW0KZW5kb2JqCjggMCBvYmoKPDwgL0xlbmd0aCA4"
    "MCAvRmlsdGVyIC9GbGF0ZURlY29kZSA+PgpzdHJlYW0Kq2UHdDdqx0D48bQj+gi7ilgdj7qflsqP/lRsOQse2kR1"
    "gYaa2ICkybBK4ReiTx34Xtk+JIqV18Pq1uKO8z3XbCVVC1OjWf6H+VdRJg1kVI4KZW5kc3RyZWFtCmVuZG9iago5"
    "IDAgb2JqCjw8IC9DRiA8PCAvU3RkQ0YgPDwgL0F1dGhFdmVudCAvRG9jT3BlbiAvQ0ZNIC9BRVNWMiAvTGVuZ3Ro"
    "IDE2ID4+ID4+IC9GaWx0ZXIgL1N0YW5kYXJkIC9MZW5ndGggMTI4IC9PIDw1NjZmYTg3M2VlMzNjNzk3Y2QzYjkw"
    "NGZkYWRmODE0YWZhMzRkZjlhMzhmNmVkNDFiOTg0ZTJjNmRhMmFhNmY1PiAvT0UgPD4gL1AgLTEwNDQgL1IgNCAv"
    "U3RtRiAvU3RkQ0YgL1N0ckYgL1N0ZENGIC9VIDwzOGQ2NzgxNDViZmVlMWE4YzNiNDYwNjhmOTU0ZDgzNDAwMjE0"
    "NDY5OTBiOWU0MTE0MDcxYTRkOTEwNDk4NGMxPiAvVUUgPD4gL1YgNCA+PgplbmRvYmoKMTAgMCBvYmoKPDwgL1R5"
    "cGUgL1hSZWYgL0xlbmd0aCA0MiAvRmlsdGVyIC9GbGF0ZURlY29kZSAvRGVjb2RlUGFybXMgPDwgL0NvbHVtbnMg"
    "NCAvUHJlZGljdG9yIDEyID4+IC9XIFsgMSAyIDEgXSAvUm9vdCAxIDAgUiAvU2l6ZSAxMSAvSUQgWzw0NTEzNzI4"
    "MzQzYWY0MWVkYzQ4OWY5ODBhODM0YmVkMj48NDUxMzcyODM0M2FmNDFlZGM0ODlmOTgwYTgzNGJlZDI+XSAvRW5j"
    "cnlwdCA5IDAgUiA+PgpzdHJlYW0KeJxjYgACJkYGfgYmBgZDEOsQiMXAiET8Z0z+C2RNB0owggkbBgBfYATqCmVu"
    "ZHN0cmVhbQplbmRvYmoKc3RhcnR4cmVmCjk3NQolJUVPRgo="
)


def _pages(count: int, lines: int = 3) -> bytes:
    return make_pdf([[f"Page {n} line {i}" for i in range(lines)] for n in range(1, count + 1)])


# --- choosing pages -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "pages"),
    [
        (None, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]),
        ("1-3,7", [1, 2, 3, 7]),
        (" 2 , 4 - 5 ", [2, 4, 5]),
        ("10-", [10, 11, 12]),
        ("7,1-2,2", [1, 2, 7]),
        ([12, 3, 3], [3, 12]),
    ],
)
def test_page_selections_name_pages_in_document_order(spec: Any, pages: list[int]) -> None:
    """Ranges, single pages, open ends and repeats give each page once, in document order."""
    assert parse_pages(spec, 12) == pages


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("1-x", "'1-x' in the page selection '1-x' is not a page or a range"),
        ("5-3", "a range runs low-high"),
        ("0", "pages count from 1"),
        ("", "The page selection is empty"),
        ("3,,4", "'' in the page selection"),
        ([0], "Page numbers count from 1"),
        ([True], "Page numbers count from 1"),
        ([], "No pages were chosen"),
    ],
)
def test_a_bad_selection_names_the_flag_and_the_field(spec: Any, words: str) -> None:
    """Bad syntax is refused with what is wrong, the form to write, and --pages / pdf_pages."""
    with pytest.raises(InvalidArgumentError) as info:
        parse_pages(spec, 12)
    message = str(info.value)
    assert words in message
    assert "--pages" in message
    assert "pdf_pages" in message


@pytest.mark.parametrize("spec", ["14", "10-14", [2, 14]])
def test_a_page_past_the_end_names_the_page_count(spec: Any) -> None:
    """A page past the end says how many pages the document has, naming it."""
    with pytest.raises(
        InvalidArgumentError,
        match=r"report\.pdf: Page 14 .* past the end: the document has 12 pages",
    ) as info:
        parse_pages(spec, 12, source="report.pdf")
    assert (info.value.limit, info.value.actual) == (12, 14)


# --- the size per model family --------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "backend", "size", "tokens"),
    [
        ("gemini-2.5-flash", None, (1275, 1650), 258),  # 258 whatever the size: 150 DPI
        ("gemini-3-pro-preview", None, (1275, 1650), 1102),  # by aspect ratio: 150 DPI
        ("gemini-1.5-pro", None, (1187, 1536), 4 * 258),  # 140 DPI: 4 tiles, not 6 at 150
        ("gemini-2.0-flash", None, (1187, 1536), 5 * 258),  # 4 tiles and the overview
        ("gemini-2.5-flash", "vertex-ai", (1187, 1536), 5 * 258),  # Vertex bills 2.5 by tiles
    ],
)
def test_a_letter_page_is_drawn_at_the_size_its_family_bills_least_for(
    model: str, backend: str | None, size: tuple[int, int], tokens: int
) -> None:
    """Families billing by tiles get a page one tile row cheaper at 140 DPI; the others 150."""
    (page,) = render_pages(_pages(1), model=model, backend=backend)
    assert (page.width, page.height) == size
    assert f"{tokens:,} tokens" in page.sizing
    cost = family_cost(model, backend)
    assert cost.tokens(page.width, page.height) == tokens
    assert cost.family.split()[1] in page.sizing


def test_tiled_families_never_pay_more_than_at_the_preferred_resolution() -> None:
    """Across page shapes, the chosen size bills no more than 150 DPI would, and is >= 120 DPI."""
    for model in ("gemini-1.5-flash", "gemini-2.0-flash"):
        cost = family_cost(model)
        for width_pt, height_pt in [LETTER, (595, 842), (842, 595), (612, 1008), (360, 504)]:
            chosen = page_size(width_pt, height_pt, cost)
            at_150 = page_size(width_pt, height_pt, cost, dpi=PREFERRED_DPI)
            assert chosen.tokens <= at_150.tokens
            assert MIN_DPI <= chosen.dpi <= PREFERRED_DPI


def test_a_huge_page_is_capped_at_the_largest_gemini_looks_at() -> None:
    """An A0 poster is drawn 3072 px on its longer side (Gemini shrinks bigger ones itself),
    and the note says which text may be too small."""
    size = page_size(2384, 3370, family_cost("gemini-2.5-flash"))
    assert max(size.width, size.height) == MAX_SIDE
    assert "may be hard to read" in size.reason


def test_pdf_dpi_fixes_the_resolution() -> None:
    """ImagePolicy(pdf_dpi=72) draws a letter page 612x792, and says it was asked for."""
    (page,) = render_pages(_pages(1), policy=ImagePolicy(pdf_dpi=72))
    assert (page.width, page.height) == (612, 792)
    assert "as asked" in page.sizing


def _x_height(image: Image.Image) -> int:
    """Rows a line of lower-case x's covers: the x-height in pixels."""
    grey = image.convert("L")
    box = grey.point(lambda v: 255 if v < 128 else 0).getbbox()
    assert box is not None
    return box[3] - box[1]


@settings(max_examples=12, deadline=None)
@given(
    model=st.sampled_from(
        ["gemini-1.5-pro", "gemini-2.0-flash", "gemini-2.5-flash", "gemini-3-flash"]
    ),
    size=st.tuples(st.floats(216, 842), st.floats(216, 1190)),
)
def test_ten_point_text_keeps_an_x_height_of_8_pixels_or_more(
    model: str, size: tuple[float, float]
) -> None:
    """Whatever the family and page size, 10-pt body text is drawn at least 8 px high in its
    x-height, the floor under which Tesseract's FAQ says text is lost as noise."""
    data = make_pdf([["xxxxxxxxxxxxxxxx"]], size=size)
    (page,) = render_pages(data, model=model)
    assert _x_height(page.image()) >= 8


# --- what is sent -------------------------------------------------------------------------


def _numbered_pages(count: int) -> bytes:
    """Pillow-written pages (100 DPI, letter) whose black bar is 10 px wide per page number."""
    pictures = []
    for number in range(1, count + 1):
        picture = Image.new("L", (850, 1100), 255)
        ImageDraw.Draw(picture).rectangle((100, 100, 100 + 10 * number - 1, 199), fill=0)
        pictures.append(picture)
    return pillow_pdf(pictures, dpi=100)


def _bar_width(page_image: Image.Image) -> float:
    """The bar's width in inches: 0.1 inch per page number."""
    grey = page_image.convert("L")
    box = grey.point(lambda v: 255 if v < 128 else 0).getbbox()
    assert box is not None
    return (box[2] - box[0]) / (grey.width / 8.5)


def test_each_chosen_page_comes_labelled_in_order() -> None:
    """Pages 2, 3 and 5 of 6 come in that order, each after "Page n of 6", with its own pixels."""
    pages = render_pages(_numbered_pages(6), pages="5,2-3", source="scan.pdf")
    assert [p.label for p in pages] == ["Page 2 of 6", "Page 3 of 6", "Page 5 of 6"]
    for page in pages:
        assert _bar_width(page.image()) == pytest.approx(page.number / 10, abs=0.02)
    text, image = pages[0].parts()
    assert text == {"type": "text", "text": "Page 2 of 6"}
    assert image["image_url"]["url"].startswith("data:image/png;base64,")


def test_the_policy_chooses_pages_when_the_call_does_not() -> None:
    """ImagePolicy(pdf_pages=...) is the default selection; an argument wins over it."""
    data = _numbered_pages(4)
    policy = ImagePolicy(pdf_pages="2-3")
    assert [p.number for p in render_pages(data, policy=policy)] == [2, 3]
    assert [p.number for p in render_pages(data, policy=policy, pages=[4])] == [4]


def test_a_grey_page_is_a_small_png_and_a_colour_page_a_jpeg() -> None:
    """Black-on-white pages go as 16-level grey PNG; a page in colour goes as JPEG."""
    grey = Image.new("RGB", (850, 1100), "white")
    ImageDraw.Draw(grey).rectangle((100, 100, 700, 200), fill="black")
    colour = grey.copy()
    ImageDraw.Draw(colour).ellipse((100, 400, 700, 1000), fill=(200, 30, 30))
    first, second = render_pages(pillow_pdf([grey, colour], dpi=100))
    assert first.mime_type == "image/png"
    assert "16-level grey PNG" in first.encoding
    with first.image() as seen:
        assert len(seen.convert("L").getcolors() or []) <= 16
    assert second.mime_type == "image/jpeg"
    assert second.image().convert("RGB").getpixel((600, 1050))[0] > 150


def test_a_page_turned_by_its_rotate_entry_is_drawn_turned() -> None:
    """A portrait page with /Rotate 90 is drawn landscape, as every reader shows it."""
    document = pypdfium2.PdfDocument(_pages(1))
    document[0].set_rotation(90)
    buf = io.BytesIO()
    document.save(buf)
    document.close()
    (page,) = render_pages(buf.getvalue(), model="gemini-2.5-flash")
    assert (page.width, page.height) == (1650, 1275)


@pytest.mark.parametrize("model", ["gemini-2.0-flash", "gemini-2.5-flash"])
def test_page_sizes_are_what_rendering_gives_without_rendering(model: str) -> None:
    """`page_sizes` (for estimates) agrees with the pages rendered, turned pages included."""
    document = pypdfium2.PdfDocument(make_pdf([["a"], ["b"], ["c"]], size=(595, 842)))
    document[1].set_rotation(90)
    buf = io.BytesIO()
    document.save(buf)
    document.close()
    data = buf.getvalue()
    planned = page_sizes(data, pages="2-3", model=model)
    rendered = render_pages(data, pages="2-3", model=model)
    assert [n for n, _ in planned] == [2, 3]
    assert [(s.width, s.height) for _, s in planned] == [(p.width, p.height) for p in rendered]
    assert planned[0][1].width > planned[0][1].height  # the turned page is landscape


def test_a_page_is_also_a_prepared_image() -> None:
    """`prepared()` gives the page as a PreparedImage whose changes say what was done."""
    (page,) = render_pages(_pages(1), source="report.pdf")
    image = page.prepared()
    assert (image.width, image.height, image.mime_type) == (1275, 1650, "image/png")
    assert image.source == "report.pdf page 1"
    assert image.changes[0].startswith("page 1 of 1 of report.pdf rendered at 150 DPI")
    assert image.data == page.data


# --- refusals --------------------------------------------------------------------------


def test_an_encrypted_pdf_names_the_password_and_qpdf() -> None:
    """A PDF with a user password is refused naming password= and how to remove it."""
    with pytest.raises(
        EncryptedDocumentError, match=r"needs a password: pass .*password=.*qpdf --decrypt"
    ):
        render_pages(NEEDS_PASSWORD, source="locked.pdf")
    with pytest.raises(EncryptedDocumentError, match="password given does not open it"):
        render_pages(NEEDS_PASSWORD, password="wrong")
    pages = render_pages(NEEDS_PASSWORD, password="secret")
    assert [p.label for p in pages] == ["Page 1 of 2", "Page 2 of 2"]


def test_a_pdf_locked_only_against_editing_opens_without_a_password() -> None:
    """Permissions-only encryption (empty user password) needs nothing from the user."""
    assert len(render_pages(OWNER_ONLY)) == 2


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.7\nthis is not a PDF body at all\n", b"hello, world", _pages(3)[:200]],
    ids=["header and junk", "not a PDF", "cut short"],
)
def test_a_damaged_pdf_is_refused_naming_a_repair(data: bytes) -> None:
    """Bytes PDFium cannot open are a CorruptDocumentError naming the file and a fix."""
    with pytest.raises(
        CorruptDocumentError, match=r"report\.pdf: The file is damaged or not a PDF.*qpdf"
    ) as info:
        render_pages(data, source="report.pdf")
    assert isinstance(info.value, ValueError)
    assert info.value.source == "report.pdf"


def test_an_empty_pdf_is_refused() -> None:
    """No bytes, or a document of no pages, is an EmptyDocumentError: nothing to send."""
    with pytest.raises(EmptyDocumentError, match="0 bytes"):
        render_pages(b"")
    document = pypdfium2.PdfDocument.new()
    buf = io.BytesIO()
    document.save(buf)
    document.close()
    with pytest.raises(EmptyDocumentError, match="has no pages"):
        render_pages(buf.getvalue())


def test_more_pages_than_a_request_holds_are_refused_before_rendering() -> None:
    """Choosing more pages than max_images allows is refused naming --pages, with the counts."""
    with pytest.raises(
        TooManyImagesError, match=r"20 pages chosen, over the 5 images.*--pages"
    ) as info:
        render_pages(_pages(20, lines=1), policy=ImagePolicy(max_images=5))
    assert (info.value.limit, info.value.actual) == (5, 20)


def test_a_500_page_pdf_over_the_budget_is_refused_naming_pages_not_cut() -> None:
    """A long PDF past the request budget is refused early, naming --pages and how much fits."""
    data = _pages(500, lines=40)
    with pytest.raises(RequestTooLargeError) as info:
        render_pages(data, max_bytes=150_000, source="book.pdf")
    message = str(info.value)
    assert "book.pdf: The 500 pages chosen do not fit the 150,000-byte request budget" in message
    assert "--pages" in message
    assert "e.g. 1-" in message
    assert info.value.limit == 150_000


# --- OpenAI file parts ----------------------------------------------------------------


def test_a_file_part_gives_its_pdf_and_name() -> None:
    """A data URL or bare base64 in file_data gives the bytes and the file name."""
    data = _pages(1)
    encoded = base64.b64encode(data).decode()
    for payload in (f"data:application/pdf;base64,{encoded}", encoded):
        part = {"type": "file", "file": {"file_data": payload, "filename": "report.pdf"}}
        assert pdf_from_file_part(part) == (data, "report.pdf")
    assert pdf_from_file_part({"type": "file", "file": {"file_data": encoded}})[1] == "file part"


def test_a_file_id_cannot_be_served_and_says_what_to_send() -> None:
    """An OpenAI file id has no meaning to Gemini: the error says to send the bytes."""
    with pytest.raises(UnsupportedDocumentError, match=r"OpenAI file \(file-abc123\).*file_data"):
        pdf_from_file_part({"type": "file", "file": {"file_id": "file-abc123"}})


@pytest.mark.parametrize(
    ("part", "error", "words"),
    [
        ({"type": "file"}, MessageFormatError, 'no "file" object'),
        ({"type": "file", "file": {"filename": "a.pdf"}}, MessageFormatError, "no file_data"),
        (
            {"type": "file", "file": {"file_data": "data:application/pdf,plain"}},
            CorruptDocumentError,
            "not a base64 data URL",
        ),
        ({"type": "file", "file": {"file_data": "@@@"}}, CorruptDocumentError, "not valid base64"),
        (
            {
                "type": "file",
                "file": {"file_data": "data:text/plain;base64,aGVsbG8=", "filename": "a.txt"},
            },
            UnsupportedDocumentError,
            "a.txt (declared text/plain) does not hold a PDF",
        ),
    ],
)
def test_a_broken_file_part_says_what_is_wrong(
    part: dict[str, Any], error: type[Exception], words: str
) -> None:
    """Each way a file part can be wrong gets its own typed error and the form to write."""
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        pdf_from_file_part(part)


def test_pdfs_are_told_from_their_first_bytes() -> None:
    """`%PDF-` in the first 1,024 bytes marks a PDF; images and text are not PDFs."""
    assert is_pdf(_pages(1))
    assert is_pdf(b"\xef\xbb\xbf junk before %PDF-1.4 ...")
    assert not is_pdf(b"\x89PNG\r\n\x1a\n")
    assert not is_pdf(b" " * 2000 + b"%PDF-1.4")


# --- the library around PDFium ----------------------------------------------------------


def test_pages_render_correctly_from_several_threads_at_once() -> None:
    """PDFium is not thread-safe; renders from four threads at once still come out right."""
    data = _numbered_pages(3)
    results: list[list[float]] = []
    failures: list[BaseException] = []
    barrier = threading.Barrier(4)

    def work() -> None:
        try:
            barrier.wait(timeout=30)
            results.append([_bar_width(p.image()) for p in render_pages(data)])
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures
    assert len(results) == 4
    for widths in results:
        assert widths == pytest.approx([0.1, 0.2, 0.3], abs=0.02)


def test_without_the_documents_extra_the_error_names_the_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With pypdfium2 missing, rendering says which extra to install (and is an ImportError)."""
    monkeypatch.setitem(sys.modules, "pypdfium2", None)
    with pytest.raises(
        MissingDependencyError, match=r"pip install 'openai-gemini-vision\[documents\]'"
    ) as info:
        render_pages(_pages(1))
    assert isinstance(info.value, ImportError)
    assert not isinstance(info.value, DocumentError)
