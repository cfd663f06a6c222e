"""Every kind of image source becomes a checked `PreparedImage`; strings are gated by policy."""

from __future__ import annotations

import base64
import io
import string
import textwrap
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from openai_gemini_vision import (
    BlockedURLError,
    CorruptImageError,
    FetchError,
    ImageError,
    ImagePolicy,
    image_part,
    load_image,
)
from openai_gemini_vision.images import source as sources
from openai_gemini_vision.images.blob import parse_data_url
from openai_gemini_vision.images.load import prepare_bytes
from openai_gemini_vision.images.plan import prepare_source
from openai_gemini_vision.images.source import Source

from .imaging import data_url, encode, image_bytes, photo


def load_url_source(url: str, *, detail: Any = None, policy: ImagePolicy | None = None) -> Any:
    """Load a string as found in a message's image_url.url: gated like message JSON."""
    return prepare_source(Source.of(url, from_messages=True), detail=detail, policy=policy)


PNG = image_bytes("PNG", 40, 30)
JPEG = image_bytes("JPEG", 40, 30)


@pytest.fixture
def png_file(tmp_path: Path) -> Path:
    """A small PNG on disk, under a misleading .jpg name."""
    path = tmp_path / "picture.jpg"
    path.write_bytes(PNG)
    return path


# --- each source kind ---------------------------------------------------------------


def test_str_path_passes_through(png_file: Path) -> None:
    """A str path is read from disk and its bytes sent unchanged, typed by content not name."""
    img = load_image(str(png_file))
    assert img.data == PNG
    assert img.mime_type == "image/png"
    assert img.changes == ()
    assert img.source == str(png_file)


def test_pathlib_path_passes_through(png_file: Path) -> None:
    """A pathlib.Path is read the same way as a str path."""
    assert load_image(png_file).data == PNG


def test_file_url_is_read(png_file: Path) -> None:
    """An explicit file:// URL is always read (allow_local_files gates message JSON only)."""
    assert load_image(png_file.as_uri()).data == PNG


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_bytes_like_sources(kind: Any) -> None:
    """bytes, bytearray and memoryview all give the same passthrough image."""
    img = load_image(kind(JPEG))
    assert img.data == JPEG
    assert isinstance(img.data, bytes)
    assert (img.mime_type, img.width, img.height, img.changes) == ("image/jpeg", 40, 30, ())


def test_binary_file_object() -> None:
    """A binary file object is read and named by its `name` when it has one."""
    img = load_image(io.BytesIO(PNG))
    assert img.data == PNG
    assert img.source == "file object"


def test_open_file_handle_names_its_path(png_file: Path) -> None:
    """An open file's name becomes the image's source."""
    with png_file.open("rb") as handle:
        assert load_image(handle).source == str(png_file)


def test_text_file_object_names_the_fix(png_file: Path) -> None:
    """A file opened in text mode is refused with a message saying to open it with 'rb'."""
    with pytest.raises(ImageError, match=r"'rb'"):
        load_image(io.StringIO("not bytes"))


def test_pil_image_in_memory_is_encoded_as_png() -> None:
    """An in-memory PIL image is encoded losslessly as PNG, and the encoding is reported."""
    im = photo(30, 20)
    img = load_image(im)
    assert img.mime_type == "image/png"
    assert Image.open(io.BytesIO(img.data)).tobytes() == im.tobytes()
    assert len(img.changes) == 1
    assert "encoded the PIL image" in img.changes[0]


def test_pil_image_from_jpeg_is_jpeg_and_says_why() -> None:
    """A PIL image read from a JPEG is re-encoded as JPEG, saying its file bytes were not at hand."""
    im = Image.open(io.BytesIO(JPEG))
    img = load_image(im)
    assert img.mime_type == "image/jpeg"
    assert "original bytes are not at hand" in img.changes[-1]


def test_pil_image_with_alpha_is_png() -> None:
    """A PIL image with transparency keeps it by going out as PNG."""
    im = photo(20, 20).convert("RGBA")
    im.putpixel((0, 0), (1, 2, 3, 0))
    out = Image.open(io.BytesIO(load_image(im).data))
    assert out.mode == "RGBA"
    assert out.getpixel((0, 0)) == (1, 2, 3, 0)


def test_data_url_source() -> None:
    """A data: URL is decoded and passes through when its label is right."""
    img = load_image(data_url(PNG))
    assert img.data == PNG
    assert img.changes == ()
    assert img.source == "data URL"


def test_unknown_type_names_accepted_types() -> None:
    """An unsupported source type raises TypeError listing what is accepted."""
    with pytest.raises(TypeError, match=r"pathlib\.Path.*bytes.*PIL"):
        load_image(12345)  # type: ignore[arg-type]


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    """A missing file raises ImageError whose message names the path."""
    missing = tmp_path / "nope.png"
    with pytest.raises(ImageError, match=r"nope\.png.*No such file"):
        load_image(missing)


def test_directory_is_not_an_image(tmp_path: Path) -> None:
    """A directory given as an image raises ImageError rather than an OSError."""
    with pytest.raises(ImageError, match="Cannot read the image file"):
        load_image(tmp_path)


def test_base64_text_given_as_a_path_gets_a_hint() -> None:
    """A bare base64 string (no data: prefix) is not taken for a path silently."""
    bare = base64.b64encode(PNG).decode()
    with pytest.raises(ImageError, match=r"looks like base64.*data:image/png;base64,"):
        load_image(bare)


def test_a_text_mode_file_says_to_open_it_in_binary(tmp_path: Path) -> None:
    """Image bytes read through open(path) without 'rb' give the fix, not UnicodeDecodeError."""
    path = tmp_path / "photo.png"
    path.write_bytes(PNG)
    with (
        open(path, encoding="utf-8") as text,
        pytest.raises(ImageError, match=r"open\(path, 'rb'\)"),
    ):
        load_image(text)


def test_a_huge_declared_type_is_cut_short_in_changes() -> None:
    """A data URL's label is quoted in changes only in short, whatever its length."""
    label = "image/" + "x" * 10_000
    image = load_image(f"data:{label};base64,{base64.b64encode(PNG).decode()}")
    (change,) = image.changes
    assert len(change) < 120
    assert "10,006 characters" in change


def test_path_with_nul_is_an_image_error() -> None:
    """A path holding a NUL character gives ImageError, not Python's ValueError from open()."""
    with pytest.raises(ImageError, match="null byte"):
        load_image("photo\x00.png")


# --- image_part ---------------------------------------------------------------------


def test_image_part_shape() -> None:
    """image_part gives an OpenAI content part with a data URL and no detail by default."""
    part = image_part(PNG)
    assert part == {"type": "image_url", "image_url": {"url": data_url(PNG)}}


def test_image_part_carries_detail() -> None:
    """A detail argument is both applied and written into the part."""
    part = image_part(photo(800, 600), detail="low")
    assert part["image_url"]["detail"] == "low"
    _, data = parse_data_url(part["image_url"]["url"])
    assert Image.open(io.BytesIO(data)).size == (384, 288)


# --- data URLs ----------------------------------------------------------------------


def test_parse_data_url_plain() -> None:
    """A well-formed data URL gives its declared type and decoded bytes."""
    assert parse_data_url(data_url(PNG, "image/png")) == ("image/png", PNG)


def test_parse_data_url_lenient_forms() -> None:
    """Whitespace and newlines, the URL-safe alphabet and missing padding are all accepted."""
    raw = bytes(range(256)) * 3 + b"\xfb\xff"  # holds '+', '/' and needs padding
    b64 = base64.b64encode(raw).decode()
    wrapped = "\n".join(b64[i : i + 76] for i in range(0, len(b64), 76))
    urlsafe = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert parse_data_url(f"data:image/png;base64,{wrapped}")[1] == raw
    assert parse_data_url(f"data:image/png;base64, {b64} \r\n")[1] == raw
    assert parse_data_url(f"data:image/png;base64,{urlsafe}")[1] == raw


def test_parse_data_url_without_mime() -> None:
    """A data URL with no media type declares None."""
    assert parse_data_url("data:;base64," + base64.b64encode(PNG).decode()) == (None, PNG)


def test_parse_data_url_percent_encoded() -> None:
    """A data URL without ;base64 is percent-decoded."""
    assert parse_data_url("data:image/png,%89PNG") == ("image/png", b"\x89PNG")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("data:image/pngbase64AAAA", "no comma"),
        ("data:image/png;base64,AAAA*AAA", "malformed"),
        ("data:image/png;base64,AAAAA", "malformed"),
        ("data:image/png;base64,AAAAé", "malformed"),
        ("https://example.com/x.png", "not a data: URL"),
    ],
)
def test_parse_data_url_errors(url: str, problem: str) -> None:
    """Broken data URLs raise CorruptImageError saying what is wrong and how to write one."""
    with pytest.raises(CorruptImageError, match=problem) as info:
        parse_data_url(url)
    assert "data:" in str(info.value)


def test_wrong_declared_type_is_corrected_and_listed() -> None:
    """A PNG labelled image/jpeg goes out as image/png, bytes untouched, the fix in changes."""
    img = load_image(data_url(PNG, "image/jpeg"))
    assert img.data == PNG
    assert img.mime_type == "image/png"
    assert img.changes == ("declared image/jpeg, is image/png: sent as image/png",)


def test_image_jpg_label_is_corrected() -> None:
    """The common non-type image/jpg is corrected to image/jpeg."""
    img = prepare_bytes(JPEG, declared_mime="image/jpg")
    assert img.mime_type == "image/jpeg"
    assert img.changes == ("declared image/jpg, is image/jpeg: sent as image/jpeg",)


def test_declared_type_case_is_not_a_change() -> None:
    """A right label in other letter case is not reported."""
    assert prepare_bytes(JPEG, declared_mime="IMAGE/JPEG").changes == ()


# --- strings from message JSON ------------------------------------------------------


def test_url_source_refuses_paths_by_default(png_file: Path) -> None:
    """A path or file:// URL inside messages is refused unless allow_local_files is set."""
    for url in (str(png_file), png_file.as_uri()):
        with pytest.raises(BlockedURLError, match=r"ImagePolicy\(allow_local_files=True\)"):
            load_url_source(url)


def test_url_source_reads_paths_when_allowed(png_file: Path) -> None:
    """With allow_local_files=True a path or file:// URL inside messages is read."""
    policy = ImagePolicy(allow_local_files=True)
    assert load_url_source(str(png_file), policy=policy).data == PNG
    assert load_url_source(png_file.as_uri(), policy=policy).data == PNG


def test_url_source_refuses_remote_file_host() -> None:
    """A file:// URL naming another host is refused even when local files are allowed."""
    with pytest.raises(BlockedURLError, match="another host"):
        load_url_source("file://server/share/x.png", policy=ImagePolicy(allow_local_files=True))


@pytest.mark.parametrize("url", ["ftp://example.com/x.png", "gopher://h/1", "javascript:alert(1)"])
def test_other_schemes_are_blocked(url: str) -> None:
    """Schemes other than data, http(s) and file are refused before anything is read."""
    with pytest.raises(BlockedURLError, match=r"http\(s\)://"):
        load_url_source(url)


def test_data_url_in_messages_needs_no_permission() -> None:
    """A data URL inside messages is decoded without any policy switch."""
    assert load_url_source(data_url(JPEG, "image/jpeg")).data == JPEG


def test_http_url_goes_through_fetch(monkeypatch: pytest.MonkeyPatch) -> None:
    """An http(s) URL is fetched with the policy and named without its query string."""
    seen: list[tuple[str, ImagePolicy]] = []

    def fake_fetch(url: str, policy: ImagePolicy) -> bytes:
        seen.append((url, policy))
        return PNG

    monkeypatch.setattr(sources.fetch, "fetch_image", fake_fetch)
    policy = ImagePolicy(fetch_timeout=5)
    url = "https://user:secret@example.com/a/b.png?token=abc#frag"
    img = load_url_source(url, policy=policy)
    assert seen == [(url, policy)]
    assert img.data == PNG
    assert img.source == "https://example.com/a/b.png"


def test_impossible_port_does_not_break_the_source_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """A URL with an out-of-range port still gets a readable source name, not a ValueError."""
    monkeypatch.setattr(sources.fetch, "fetch_image", lambda url, policy: PNG)
    assert load_url_source("http://example.com:99999/a.png?x=1").source == (
        "http://example.com/a.png"
    )


def test_fetch_errors_propagate(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fetch failure reaches the caller as the FetchError fetch raised."""

    def failing(url: str, policy: ImagePolicy) -> bytes:
        raise FetchError("HTTP 404 from example.com")

    monkeypatch.setattr(sources.fetch, "fetch_image", failing)
    with pytest.raises(FetchError, match="404"):
        load_image("http://example.com/missing.png")


def test_fetched_html_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """An HTML page served at an image URL is reported as HTML, with the URL."""
    monkeypatch.setattr(
        sources.fetch, "fetch_image", lambda url, policy: b"<!DOCTYPE html><html>Not found"
    )
    with pytest.raises(CorruptImageError, match=r"example\.com/x\.jpg: The input is an HTML page"):
        load_url_source("https://example.com/x.jpg?sig=1")


def test_detail_argument_applies_to_url_sources() -> None:
    """detail='low' passed with a data URL string downscales the decoded image."""
    big = encode(photo(800, 400), "JPEG")
    img = load_url_source(data_url(big, "image/jpeg"), detail="low")
    assert (img.width, img.height) == (384, 192)


# --- properties of the data-URL parser ----------------------------------------------

_B64_FORMS = ["standard", "url-safe, unpadded", "wrapped at 76", "percent-encoded"]
_SPACES = st.sampled_from([" ", "\n", "\r\n", "\t"])


def _payload(data: bytes, form: str) -> str:
    if form == "percent-encoded":
        return quote_from_bytes(data)
    if form == "url-safe, unpadded":
        return base64.urlsafe_b64encode(data).decode().rstrip("=")
    text = base64.b64encode(data).decode()
    return "\n".join(textwrap.wrap(text, 76)) if form == "wrapped at 76" else text


@settings(max_examples=300)
@given(
    st.binary(max_size=300),
    st.from_regex(r"([A-Za-z]{1,8}/[A-Za-z0-9.+-]{1,10})?", fullmatch=True),
    st.sampled_from(_B64_FORMS),
    st.lists(st.tuples(st.integers(0, 500), _SPACES), max_size=4),
)
def test_any_bytes_read_back_from_a_data_url(
    data: bytes, mime: str, form: str, spaces: list[tuple[int, str]]
) -> None:
    """Bytes written in any accepted form (whitespace anywhere in base64) read back exactly, with the type in lower case."""
    payload = _payload(data, form)
    if form != "percent-encoded":
        for position, space in spaces:
            position %= len(payload) + 1
            payload = payload[:position] + space + payload[position:]
    header = mime if form == "percent-encoded" else f"{mime};base64"
    assert parse_data_url(f"data:{header},{payload}") == (mime.lower() or None, data)


_URL_TEXT = st.text(alphabet=string.ascii_letters + string.digits + "+/=-_ \n%é*;,:", max_size=40)


@settings(max_examples=500)
@given(
    st.one_of(
        st.text(max_size=40),
        _URL_TEXT.map(lambda text: "data:" + text),
        st.builds(
            lambda head, payload: f"data:{head};base64,{payload}", st.text(max_size=12), _URL_TEXT
        ),
    )
)
def test_parse_data_url_reads_or_names_the_form(url: str) -> None:
    """Any string gives (type or None, bytes) or a CorruptImageError showing how to write a data URL."""
    try:
        mime, data = parse_data_url(url)
    except CorruptImageError as exc:
        refused = str(exc)
    else:
        refused = ""
        assert mime is None or isinstance(mime, str)
        assert isinstance(data, bytes)
    if refused:
        assert "data:" in refused
