"""Every file of the shared corpus of real third-party images, sent and estimated.

`../shared/corpus` (beside the checkout; `SOURCES.md` there says where each file comes
from) holds Pillow's and pillow-heif's test images, many of them fuzzer finds, and the
EXIF orientation set. Each file goes through `prepare_messages` and `estimate_tokens`, in
a worker thread with a time bound and every warning recorded, and must give either

- an image that is what it claims: one of the five types, its label the type its bytes
  are, decoding whole with Pillow without a warning, at the input's upright size (as
  Pillow's own `ImageOps.exif_transpose` makes it) and turned by the orientation Pillow
  reads, and `changes` empty exactly when the bytes are the input's; or
- a typed `GeminiVisionError` naming the file, what was found and what to do, that
  agrees with what Pillow itself makes of the file;

and the estimate must price the very image sending sends, or refuse it in the same words.
No expectation is written per file: whatever a file gives is judged by the same rules.
The whole corpus runs by default (about a minute on two cores); `OGV_CORPUS_SAMPLE=N`
runs every Nth file only, for a quicker pass.
"""

from __future__ import annotations

import io
import json
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pillow_heif
import pytest
from PIL import Image, ImageOps

from openai_gemini_vision import (
    SUPPORTED_MIME_TYPES,
    CorruptImageError,
    GeminiVisionError,
    ImageTooLargeError,
    PreparedRequest,
    TokenEstimate,
    UnsupportedImageError,
    estimate_tokens,
    prepare_messages,
)
from openai_gemini_vision.images.sniff import is_pdf, is_video

from .bounded import run_bounded
from .clirunner import run_ogv

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
MODEL = "gemini-2.0-flash"  # a family whose price follows the size sent

# Seconds one file may take to be sent and estimated (each takes milliseconds; the
# largest, a 12 MP HEIC, well under a second), on a busy two-core machine.
SECONDS_PER_FILE = 20.0

# What a message offers as the way forward: each refusal names one.
_FIX = re.compile(
    r"\b(Pass|pass|Convert|convert|Rasterize|Render|Extract|Downscale|raise ImagePolicy)\b"
)
# What the completeness checks (images/sniff.py) name when a file's structure fails them:
# the only refusals of a file Pillow itself decodes whole.
_STRUCTURE = re.compile(r"\b(chunk|box|marker|Huffman table|RIFF header)\b")
# Pillow's names of the types Gemini takes, as the bytes say (HEIF's from libheif).
_MIME_OF_FORMAT = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "WEBP": "image/webp",
}


def _corpus_files() -> list[Any]:
    """Every file of the corpus (every Nth with OGV_CORPUS_SAMPLE=N), or one skip saying why."""
    if not CORPUS.is_dir():
        reason = f"no corpus at {CORPUS}: it lives in shared/, beside the checkout"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="no-corpus")]
    files = sorted(path for path in CORPUS.rglob("*") if path.is_file())
    step = int(os.environ.get("OGV_CORPUS_SAMPLE", "1") or "1")
    return [pytest.param(path, id=str(path.relative_to(CORPUS))) for path in files[::step]]


@dataclass
class Reading:
    """What Pillow itself makes of the input: its first frame upright, or why it cannot."""

    size: tuple[int, int] | None = None
    """The upright size, when Pillow reads the file whole."""
    failure: str = ""
    """Why Pillow cannot: its exception, type and text."""
    bomb: bool = False
    """Pillow refused it as a decompression bomb."""
    format: str = ""
    orientation: int = 1
    """The orientation Pillow reads (EXIF, XMP or PNG text), 1 when none or invalid."""


def pillow_reading(path: Path) -> Reading:
    """Open, decode, count the frames and turn upright as Pillow does, independently of us."""
    try:
        with Image.open(path) as im:
            getattr(im, "n_frames", 1)
        with Image.open(path) as im:
            orientation = im.getexif().get(0x0112, 1)
            size = ImageOps.exif_transpose(im).size
            if orientation not in range(1, 9):
                orientation = 1
            return Reading(size=size, format=im.format or "", orientation=orientation)
    except Image.DecompressionBombError as exc:
        return Reading(failure=f"DecompressionBombError: {exc}", bomb=True)
    except Exception as exc:  # noqa: BLE001 - what Pillow raises is the finding
        return Reading(failure=f"{type(exc).__name__}: {exc}")


def label_of(data: bytes) -> tuple[str, str]:
    """(the type the bytes are, as Pillow and libheif say; what decoding the pixels warned).

    Only the decode is judged: a warning Pillow gives while opening is about how it reads
    the container (an APNG's invalid animation control, a malformed MPO index after a
    JPEG), which a decoder of the labelled type does not read.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = Image.open(io.BytesIO(data))
    with out, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out.load()
        fmt = out.format or ""
    mime = pillow_heif.open_heif(data).mimetype if fmt == "HEIF" else _MIME_OF_FORMAT.get(fmt, fmt)
    return mime, "; ".join(str(w.message) for w in caught)


@dataclass
class Result:
    """What sending and estimating the file gave, and what Pillow makes of it."""

    sent: PreparedRequest | BaseException
    estimated: TokenEstimate | BaseException
    reading: Reading


def send_and_estimate(path: Path) -> Result:
    """Prepare and estimate a request holding the file; then read it with Pillow, quietly."""
    messages = [{"role": "user", "content": [path]}]
    sent: PreparedRequest | BaseException
    estimated: TokenEstimate | BaseException
    try:
        sent = prepare_messages(messages, model=MODEL)
    except Exception as exc:  # noqa: BLE001 - judged below
        sent = exc
    try:
        estimated = estimate_tokens(messages, MODEL)
    except Exception as exc:  # noqa: BLE001 - judged below
        estimated = exc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the reference reading's own warnings are not ours
        reading = pillow_reading(path)
    return Result(sent, estimated, reading)


def document_problems(request: PreparedRequest) -> list[str]:
    """What is wrong with the pages or frames sent for a PDF or video (Pillow reads no
    documents, so each image sent is judged on its own): each is a true image of the five."""
    problems = []
    if not request.images:
        problems.append("a document sent as no image")
    for img in request.images:
        try:
            label, warned = label_of(img.data)
        except Exception as exc:  # noqa: BLE001 - an image sent must decode
            problems.append(f"{img.source}: the bytes sent do not decode ({exc})")
            continue
        if img.mime_type not in SUPPORTED_MIME_TYPES or label != img.mime_type:
            problems.append(f"{img.source}: labelled {img.mime_type}, the bytes are {label}")
        if warned:
            problems.append(f"{img.source}: decoding the bytes sent warns: {warned}")
    return problems


def image_problems(path: Path, request: PreparedRequest, reading: Reading) -> list[str]:
    """What is wrong with the image sent for `path`, judged independently of the library."""
    head = path.read_bytes()[:1024]
    if is_pdf(head) or is_video(head):
        return document_problems(request)
    (img,) = request.images
    given = path.read_bytes()
    problems = []
    if img.mime_type not in SUPPORTED_MIME_TYPES:
        problems.append(f"sent as {img.mime_type}, which Gemini does not take")
    try:
        label, warned = label_of(img.data)
    except Exception as exc:  # noqa: BLE001 - an image sent must decode
        return [*problems, f"the bytes sent do not decode ({type(exc).__name__}: {exc})"]
    if label != img.mime_type:
        problems.append(f"labelled {img.mime_type}, but the bytes are {label}")
    if warned:
        problems.append(f"decoding the bytes sent warns: {warned}")
    if reading.size is None:
        problems.append(f"sent, though Pillow cannot read the file ({reading.failure})")
    elif (img.width, img.height) != reading.size:
        problems.append(f"sent at {img.width}x{img.height}, upright it is {reading.size}")
    if img.orientation != reading.orientation:
        problems.append(f"turned by orientation {img.orientation}, not {reading.orientation}")
    if (img.changes == ()) != (img.data == given):
        problems.append(f"changes {img.changes!r} do not match whether the bytes changed")
    return problems


def error_problems(exc: BaseException, reading: Reading) -> list[str]:
    """What is wrong with a refusal: untyped, unnamed, no fix, or at odds with Pillow."""
    if not isinstance(exc, GeminiVisionError):
        return [f"a raw {type(exc).__name__} escaped: {exc}"]
    problems = []
    message = exc.message
    if exc.source is None:
        problems.append(f"the error does not name the file: {exc}")
    if not _FIX.search(message):
        problems.append(f"the message names no fix: {message}")
    if reading.size is not None:
        # Pillow reads it whole: only our stricter checks may still refuse it, in words
        # that say which check (a CRC, an end marker, a missing chunk), or a vector format.
        if isinstance(exc, CorruptImageError) and not _STRUCTURE.search(message):
            problems.append(f"called damaged, though Pillow reads it whole: {message}")
        if isinstance(exc, UnsupportedImageError) and reading.format != "EPS":
            problems.append(f"called unsupported, though Pillow reads it whole: {message}")
        if isinstance(exc, ImageTooLargeError):
            problems.append(f"called too large, though Pillow decodes it: {message}")
    if isinstance(exc, ImageTooLargeError) and "max_pixels" not in message:
        problems.append(f"a size refusal that does not name max_pixels: {message}")
    if reading.bomb and not isinstance(exc, ImageTooLargeError):
        problems.append(f"Pillow calls it a decompression bomb, we say: {message}")
    return problems


def agreement_problems(sent: Any, estimated: Any) -> list[str]:
    """Where estimating disagrees with sending (tests/test_request_plan.py compares the same way)."""
    if isinstance(sent, BaseException) or isinstance(estimated, BaseException):
        if type(sent) is not type(estimated) or str(sent) != str(estimated):
            return [f"sending gave {sent!r}, estimating gave {estimated!r}"]
        return []
    as_sent = [(i.mime_type, (i.width, i.height), i.byte_size) for i in sent.images]
    priced = [(i.mime_type_as_sent, i.size, i.bytes_as_sent) for i in estimated.images]
    problems = []
    if as_sent != priced:
        problems.append(f"sent {as_sent}, estimated {priced}")
    if (estimated.per_image, estimated.total_tokens) != (
        sent.estimate.per_image,
        sent.estimate.total_tokens,
    ):
        problems.append(f"tokens: sent {sent.estimate.per_image}, estimated {estimated.per_image}")
    if [i.changes for i in estimated.images] != [i.changes for i in sent.images]:
        problems.append("the estimate lists other changes than sending made")
    return problems


@pytest.mark.parametrize("path", _corpus_files())
def test_a_corpus_file_is_sent_right_or_refused_with_the_fix(path: Path) -> None:
    """The file gives a true image or a typed error naming the fix; the estimate agrees."""
    outcome = run_bounded(lambda: send_and_estimate(path), SECONDS_PER_FILE)
    if outcome.error is not None:
        raise outcome.error
    assert outcome.warned == [], "warnings escaped"
    result = outcome.result
    assert isinstance(result, Result)
    problems = agreement_problems(result.sent, result.estimated)
    if isinstance(result.sent, BaseException):
        problems += error_problems(result.sent, result.reading)
    else:
        problems += image_problems(path, result.sent, result.reading)
    assert not problems, "\n".join(problems)


def _kind(path: Path) -> str:
    """How the estimate says sending treats the file: as is, turned, converted, or refused."""
    try:
        images = estimate_tokens([{"role": "user", "content": [path]}], MODEL).images
    except GeminiVisionError as exc:
        return type(exc).__name__
    if len(images) != 1:
        return "document"  # a PDF's pages: one row per page in ogv tokens
    (image,) = images
    if image.orientation != 1:
        return "turned"
    return "as is" if not image.changes else "converted"


def _one_of_each_kind() -> list[Path]:
    """The first corpus file (in name order) of each kind `_kind` tells apart."""
    kinds = ("as is", "turned", "converted", "CorruptImageError", "UnsupportedImageError")
    chosen: dict[str, Path] = {}
    for path in sorted(p for p in CORPUS.rglob("*") if p.is_file()):
        chosen.setdefault(_kind(path), path)
        if all(kind in chosen for kind in kinds):
            break
    return [chosen[kind] for kind in kinds if kind in chosen]


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no corpus at {CORPUS}")
def test_ogv_tokens_and_a_dry_run_agree_on_corpus_files() -> None:
    """`ogv tokens --json` and `ogv ask --dry-run` show the same image, or refuse alike."""
    files = _one_of_each_kind()
    assert len(files) == 5
    model = ["-m", MODEL]
    for path in files:
        tokens = run_ogv(["tokens", str(path), "--json", *model])
        asked = run_ogv(["ask", str(path), "-p", "?", "--dry-run", *model])
        assert tokens.exit_code == asked.exit_code, (path, tokens.output, asked.output)
        (row,) = json.loads(tokens.stdout)["images"]
        if tokens.exit_code != 0:
            # ogv tokens reports a refused file on its row; ogv ask stops on it: same words.
            assert asked.stderr.startswith(f"ogv: {path}: ")
            message = asked.stderr.removeprefix(f"ogv: {path}: ").strip()
            assert " ".join(row["error"].split()).lower() == message.lower()
            continue
        size = "x".join(map(str, row["size_as_sent"]))
        shown = f"-> {size} {row['mime_type_as_sent']}, {row['bytes_as_sent']:,} bytes"
        assert shown in asked.stderr, (path, shown, asked.stderr)
        image_tokens = row["tokens"][MODEL]["tokens"]
        assert f"({image_tokens:,} image + " in asked.stderr
