"""PDF pages as images Gemini reads: chosen pages, rendered legibly, each with its label.

Gemini's OpenAI-compatible endpoint documents only images (GEMINI_FACTS.md, "Documents and
video"), so a PDF becomes one image per page, each after a text part naming it ("Page 3
of 12"). Pages are rendered with pypdfium2, a binding of PDFium (Chromium's PDF engine)
that ships as a wheel with no system packages, at the size `sizing.page_size` picks for
the model family: the fewest tokens that keep body text legible.
"""

from __future__ import annotations

import io
import math
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pybase64
from PIL import Image, ImageChops

from ..errors import (
    CorruptDocumentError,
    EmptyDocumentError,
    EncryptedDocumentError,
    InvalidArgumentError,
    MessageFormatError,
    RequestTooLargeError,
    TooManyImagesError,
    UnsupportedDocumentError,
)
from ..images.sniff import is_pdf
from ..policy import DEFAULT_POLICY, ImagePolicy
from ._extra import require
from .rendered import Rendered
from .sizing import PageSize, family_cost, page_size

if TYPE_CHECKING:
    import pypdfium2

__all__ = [
    "PDF_MIME",
    "Page",
    "page_sizes",
    "parse_pages",
    "pdf_from_file_part",
    "render_pages",
]

PDF_MIME = "application/pdf"

#: PDFium is not thread-safe, not even across documents: "It is not allowed to call pdfium
#: functions simultaneously across different threads" (pypdfium2's docs, "Incompatibility
#: with Threading"). Preparation runs in worker threads, so every call holds this lock.
_PDFIUM = threading.Lock()

#: Readers accept a header anywhere in the first 1,024 bytes (ISO 32000-1, Annex H.3,
#: note 13 of implementation limits; qpdf and PDFium do the same).
# A grey page keeps 16 levels of grey: anti-aliased text looks the same, and a 4-bit PNG
# of a dense letter page is ~40 kB where an 8-bit one is ~370 kB (bench/bench_documents.py).
_GREY_LEVELS = 16
_PNG_LEVEL = 6
# Colour pages (photos, charts) as JPEG; 4:4:4 keeps coloured text crisp.
_JPEG_QUALITY = 90

_PAGES_FIX = "--pages on the command line, ImagePolicy(pdf_pages=...) in code"
# A page tree that counts no pages, and no page object anywhere in the file.
_NO_PAGES = re.compile(rb"/Type\s*/Pages\b[^>]*/Count\s+0\b|/Count\s+0\b[^>]*/Type\s*/Pages\b")
_A_PAGE = re.compile(rb"/Type\s*/Page(?![s\w])")
_RANGE = re.compile(r"^\s*(\d+)\s*(?:(-)\s*(\d+)?\s*)?$")


@dataclass(frozen=True)
class Page(Rendered):
    """One rendered page: its number, the image bytes as sent, and how its size was chosen."""

    number: int
    """1-based page number in the document."""
    count: int
    """Pages in the whole document."""
    width: int
    height: int
    dpi: float
    mime_type: str
    data: bytes = field(repr=False)
    """The image bytes as sent (PNG for grey pages, JPEG for colour ones)."""
    sizing: str
    """Why this size, in words ("rendered at 150 DPI: ...")."""
    encoding: str
    """How the pixels were written, in words."""
    source: str = "PDF"
    """The document's label (a file name, "file part", "bytes")."""

    @property
    def label(self) -> str:
        """The text part sent before the page: "Page 3 of 12"."""
        return f"Page {self.number} of {self.count}"

    @property
    def changes(self) -> tuple[str, ...]:
        """What was done, for `PreparedImage.changes`."""
        return (f"page {self.number} of {self.count} of {self.source} {self.sizing}", self.encoding)

    def _origin(self) -> tuple[str, tuple[str, ...], str]:
        return "PDF", self.changes, f"{self.source} page {self.number}"


def parse_pages(spec: str | Sequence[int] | None, count: int, *, source: str = "PDF") -> list[int]:
    """The 1-based page numbers `spec` names, in document order, each once.

    `spec` is None (every page), numbers, or text such as "1-3,7" or "10-" (10 to the
    end). Raises InvalidArgumentError naming the fix for bad syntax or pages past the end.
    """
    if spec is None:
        return list(range(1, count + 1))
    chosen: set[int] = set()
    if isinstance(spec, str):
        if not spec.strip():
            raise InvalidArgumentError(
                f"The page selection is empty; write pages like 1-3,7 ({_PAGES_FIX}), or "
                "leave it out for every page."
            )
        for item in spec.split(","):
            match = _RANGE.match(item)
            if match is None:
                raise InvalidArgumentError(
                    f"{item.strip()!r} in the page selection {spec!r} is not a page or a range; "
                    f"write pages like 1-3,7 or 10- ({_PAGES_FIX})."
                )
            first = int(match[1])
            last = int(match[3]) if match[3] else (count if match[2] else first)
            if first < 1 or last < first:
                raise InvalidArgumentError(
                    f"{item.strip()!r} in the page selection {spec!r} is not a range of pages: "
                    f"pages count from 1 and a range runs low-high, e.g. 2-5 ({_PAGES_FIX})."
                )
            chosen.update(range(first, min(last, count) + 1) if match[2] else [first])
            if first > count or last > count:
                _past_the_end(spec, max(first, last), count, source)
    else:
        for number in spec:
            if isinstance(number, bool) or not isinstance(number, int) or number < 1:
                raise InvalidArgumentError(
                    f"Page numbers count from 1; got {number!r} in {list(spec)!r} ({_PAGES_FIX})."
                )
            if number > count:
                _past_the_end(str(list(spec)), number, count, source)
            chosen.add(number)
        if not chosen:
            raise InvalidArgumentError(f"No pages were chosen; name at least one ({_PAGES_FIX}).")
    return sorted(chosen)


def _past_the_end(spec: str, number: int, count: int, source: str) -> None:
    noun = "page" if count == 1 else "pages"
    raise InvalidArgumentError(
        f"Page {number} (in the page selection {spec!r}) is past the end: the document has "
        f"{count} {noun}. Choose pages from 1 to {count} ({_PAGES_FIX}).",
        source=source,
        limit=count,
        actual=number,
    )


def pdf_from_file_part(part: dict[str, Any]) -> tuple[bytes, str]:
    """The PDF bytes and file name an OpenAI `{"type": "file", "file": {...}}` part carries.

    `file_data` may be a `data:application/pdf;base64,...` URL or bare base64. A `file_id`
    (a file in OpenAI's own store) cannot be read through Gemini: the error says what to send.
    """
    inner = part.get("file") if isinstance(part, dict) else None
    if not isinstance(inner, dict):
        raise MessageFormatError(
            'A file part is {"type": "file", "file": {"file_data": "data:application/pdf;'
            'base64,...", "filename": "report.pdf"}}; this one has no "file" object.'
        )
    name = inner.get("filename")
    label = name if isinstance(name, str) and name else "file part"
    payload = inner.get("file_data")
    if not isinstance(payload, str) or not payload:
        if inner.get("file_id"):
            raise UnsupportedDocumentError(
                f"The file part names an OpenAI file ({inner['file_id']!s:.60}); Gemini cannot "
                "read OpenAI's file store. Send the PDF itself: "
                '{"file_data": "data:application/pdf;base64,...", "filename": ...}, or put a '
                "pathlib.Path of it in the content list.",
                source=label,
            )
        raise MessageFormatError(
            f"The file part ({label}) has no file_data; give the PDF as "
            '"file_data": "data:application/pdf;base64,...".',
            source=label,
        )
    declared, encoded = None, payload
    if payload[:5].lower() == "data:":
        header, comma, encoded = payload[5:].partition(",")
        declared = header.split(";")[0].strip().lower() or None
        if not comma or "base64" not in header.lower():
            raise CorruptDocumentError(
                f"The file part's file_data ({label}) is not a base64 data URL; write "
                "data:application/pdf;base64,<payload>.",
                source=label,
            )
    try:
        data = pybase64.b64decode(re.sub(r"\s+", "", encoded), validate=True)
    except ValueError:
        raise CorruptDocumentError(
            f"The file part's file_data ({label}, {len(encoded):,} characters) is not valid "
            "base64; encode the PDF's bytes with base64.b64encode.",
            source=label,
        ) from None
    if not is_pdf(data):
        what = f"declared {declared}" if declared else "no type declared"
        raise UnsupportedDocumentError(
            f"The file part {label} ({what}) does not hold a PDF; only PDFs are turned into "
            "page images. Send images as image_url parts.",
            source=label,
        )
    return data, label


@contextmanager
def _document(data: bytes, password: str | None, source: str) -> Iterator[pypdfium2.PdfDocument]:
    """The open document; closed (under the lock) however the caller leaves."""
    pdfium = require("pypdfium2", "PDF pages")
    with _PDFIUM:
        try:
            document = pdfium.PdfDocument(data, password=password)
        except pdfium.PdfiumError as exc:
            raise _open_error(exc, password, source, data) from None
    try:
        yield document
    finally:
        with _PDFIUM:
            document.close()


def _open_error(exc: Any, password: str | None, source: str, data: bytes) -> Exception:
    raw = require("pypdfium2.raw", "PDF pages")
    code = getattr(exc, "err_code", None)
    if code == raw.FPDF_ERR_PASSWORD:
        if password:
            return EncryptedDocumentError(
                "The PDF is encrypted and the password given does not open it; check it.",
                source=source,
            )
        return EncryptedDocumentError(
            "The PDF is encrypted and needs a password: pass render_pages(..., password=...), "
            "or remove the password first (qpdf --decrypt --password=PASSWORD in.pdf out.pdf).",
            source=source,
        )
    if code == raw.FPDF_ERR_SECURITY:
        return EncryptedDocumentError(
            "The PDF is encrypted with a scheme PDFium cannot read; remove the encryption "
            "first (qpdf --decrypt in.pdf out.pdf) and send that.",
            source=source,
        )
    if _NO_PAGES.search(data) and not _A_PAGE.search(data):
        # PDFium refuses a document of no pages as a "data format error"; say what it is.
        return EmptyDocumentError("The PDF has no pages; there is nothing to send.", source=source)
    return CorruptDocumentError(
        f"The file is damaged or not a PDF ({exc}); repair it (qpdf in.pdf repaired.pdf, or "
        "print it to a new PDF) and send that.",
        source=source,
    )


def _grey(image: Image.Image) -> bool:
    red, green, blue = image.split()
    return (
        ImageChops.difference(red, green).getbbox() is None
        and ImageChops.difference(green, blue).getbbox() is None
    )


def _encode(image: Image.Image) -> tuple[str, bytes, str]:
    """(MIME type, bytes, how in words) for a rendered page."""
    out = io.BytesIO()
    if _grey(image):
        step = 256 // _GREY_LEVELS
        levels = image.convert("L").point(lambda v: (v // step) * 255 // (_GREY_LEVELS - 1))
        levels.save(out, "PNG", bits=4, compress_level=_PNG_LEVEL)
        how = f"{_GREY_LEVELS}-level grey PNG"
        mime = "image/png"
    else:
        image.save(out, "JPEG", quality=_JPEG_QUALITY, subsampling=0)
        how = f"JPEG (quality {_JPEG_QUALITY})"
        mime = "image/jpeg"
    data = out.getvalue()
    return mime, data, f"encoded as {how}, {len(data):,} bytes"


def _encoded_size(mime: str, data: bytes) -> int:
    return len("data:;base64,") + len(mime) + 4 * math.ceil(len(data) / 3)


def render_pages(
    data: bytes,
    *,
    pages: str | Sequence[int] | None = None,
    model: str | None = None,
    backend: str | None = None,
    policy: ImagePolicy | None = None,
    password: str | None = None,
    max_bytes: int | None = None,
    source: str = "PDF",
) -> list[Page]:
    """Render the chosen pages of a PDF as images sized for `model`'s family.

    Args:
        pages: "1-3,7", page numbers, or None for `policy.pdf_pages` (every page if unset).
        model, backend: who reads the pages; the size follows their token rules
            (`sizing.page_size`), unless `policy.pdf_dpi` fixes it.
        password: opens an encrypted PDF.
        max_bytes: what the pages may take of the request, as data URLs; default
            `policy.max_request_bytes`. Past it the PDF is refused (naming --pages), never cut.
        source: the document's name in messages.

    Raises EncryptedDocumentError, CorruptDocumentError, EmptyDocumentError,
    InvalidArgumentError (page selection), TooManyImagesError, RequestTooLargeError.
    """
    policy = policy or DEFAULT_POLICY
    budget = policy.max_request_bytes if max_bytes is None else max_bytes
    spec = pages if pages is not None else policy.pdf_pages
    if not data:
        raise EmptyDocumentError("The PDF is empty (0 bytes); send its bytes.", source=source)
    cost = family_cost(model, backend)
    rendered: list[Page] = []
    used = 0
    with _document(bytes(data), password, source) as document:
        with _PDFIUM:
            count = len(document)
            if count:
                document.init_forms()  # so filled-in form fields are drawn
        if count == 0:
            raise EmptyDocumentError(
                "The PDF has no pages; there is nothing to send.", source=source
            )
        chosen = parse_pages(spec, count, source=source)
        if len(chosen) > policy.max_images:
            raise TooManyImagesError(
                f"{len(chosen):,} pages chosen, over the {policy.max_images:,} images "
                f"a request may hold; choose fewer ({_PAGES_FIX}).",
                source=source,
                limit=policy.max_images,
                actual=len(chosen),
            )
        for number in chosen:
            image, size = _render(document, number, cost, policy, source)
            mime, encoded, how = _encode(image)
            used += _encoded_size(mime, encoded)
            if used > budget:
                done = len(rendered)
                hint = f", e.g. {chosen[0]}-{chosen[done - 1]}" if done else ""
                raise RequestTooLargeError(
                    f"The {len(chosen):,} pages chosen do not fit the "
                    f"{budget:,}-byte request budget: the first {done + 1:,} already take "
                    f"{used:,} bytes. Choose fewer pages ({_PAGES_FIX}){hint}, or send the "
                    "rest in another request.",
                    source=source,
                    limit=budget,
                    actual=used,
                )
            rendered.append(
                Page(
                    number=number,
                    count=count,
                    width=image.width,
                    height=image.height,
                    dpi=size.dpi,
                    mime_type=mime,
                    data=encoded,
                    sizing=size.reason,
                    encoding=how,
                    source=source,
                )
            )
    return rendered


def page_sizes(
    data: bytes,
    *,
    pages: str | Sequence[int] | None = None,
    model: str | None = None,
    backend: str | None = None,
    policy: ImagePolicy | None = None,
    password: str | None = None,
    source: str = "PDF",
) -> list[tuple[int, PageSize]]:
    """(page number, size it would be rendered at) for the chosen pages, without rendering:
    what an estimate needs. Raises as `render_pages` does, but for the budget."""
    policy = policy or DEFAULT_POLICY
    spec = pages if pages is not None else policy.pdf_pages
    if not data:
        raise EmptyDocumentError("The PDF is empty (0 bytes); send its bytes.", source=source)
    cost = family_cost(model, backend)
    with _document(bytes(data), password, source) as document:
        with _PDFIUM:
            count = len(document)
        if count == 0:
            raise EmptyDocumentError(
                "The PDF has no pages; there is nothing to send.", source=source
            )
        sizes = []
        for number in parse_pages(spec, count, source=source):
            with _PDFIUM:
                width_pt, height_pt = document.get_page_size(number - 1)
            sizes.append((number, page_size(width_pt, height_pt, cost, dpi=policy.pdf_dpi)))
    return sizes


def _render(
    document: pypdfium2.PdfDocument, number: int, cost: Any, policy: ImagePolicy, source: str
) -> tuple[Image.Image, Any]:
    """Page `number` drawn at its chosen size, as an RGB image the caller owns."""
    pdfium = require("pypdfium2", "PDF pages")
    with _PDFIUM:
        try:
            page = document[number - 1]
        except pdfium.PdfiumError as exc:
            raise CorruptDocumentError(
                f"Page {number} cannot be read ({exc}); leave it out ({_PAGES_FIX}) "
                "or repair the file (qpdf in.pdf repaired.pdf).",
                source=source,
            ) from None
        try:
            width_pt, height_pt = page.get_size()
            size = page_size(width_pt, height_pt, cost, dpi=policy.pdf_dpi)
            # PDFium sizes the bitmap as ceil(points x scale): aim a hair low, by the
            # tighter side, so neither side passes the size chosen (1537 px where 1536 was
            # chosen would cost a row of tiles).
            scale = min(size.width / width_pt, size.height / height_pt) * (1 - 1e-9)
            bitmap = page.render(scale=scale, rev_byteorder=True, may_draw_forms=True)
            try:
                image = bitmap.to_pil().convert("RGB")  # a copy: the bitmap is freed below
            finally:
                bitmap.close()
        finally:
            page.close()
    return image, size
