"""Source: every way of naming an image is classified once, the same for sending, estimating and the CLI."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from openai_gemini_vision import BlockedURLError, ImageError, ImagePolicy, load_image
from openai_gemini_vision.images.source import Source, scheme_of

from .clirunner import run_ogv
from .imaging import data_url, image_bytes

PNG = image_bytes("PNG", 40, 30)


@pytest.mark.parametrize(
    ("text", "kind", "label"),
    [
        ("photo.jpg", "path", "photo.jpg"),
        (r"C:\photos\a.jpg", "path", r"C:\photos\a.jpg"),
        ("c:/photos/a.jpg", "path", "c:/photos/a.jpg"),
        ("data:image/png;base64,AAAA", "data", "data URL"),
        ("DATA:image/png;base64,AAAA", "data", "data URL"),
        ("https://user:pw@example.com/a.jpg?sig=secret#x", "http", "https://example.com/a.jpg"),
        ("HTTP://Example.com/a.jpg", "http", "http://example.com/a.jpg"),
        ("file:///tmp/a.png", "file", "file:///tmp/a.png"),
        ("ftp://example.com/a.png", "url", "ftp://example.com/a.png"),
        ("s3+tls://bucket/a.png", "url", "s3+tls://bucket/a.png"),
    ],
)
def test_strings_are_classified_by_their_rfc_3986_scheme(text: str, kind: str, label: str) -> None:
    """Schemes match in any case; one letter before a colon is a drive; labels drop secrets."""
    source = Source.of(text)
    assert (source.kind, source.label) == (kind, label)


def test_a_scheme_is_letters_digits_plus_minus_dot_after_a_letter() -> None:
    """A colon after characters a scheme cannot hold leaves a path."""
    assert scheme_of("my photo:1.jpg") == ""
    assert scheme_of("9p://x") == ""
    assert scheme_of("a.b-c+d:rest") == "a.b-c+d"


def test_objects_are_classified_by_type() -> None:
    """Paths, bytes, PIL images and file objects each get their kind and label."""
    image = Image.new("RGB", (4, 4))
    stream = io.BytesIO(PNG)
    assert Source.of(Path("a/b.png")).kind == "path"
    assert Source.of(bytearray(PNG)).kind == "bytes"
    assert (Source.of(image).kind, Source.of(image).label) == ("pil", "PIL image")
    assert (Source.of(stream).kind, Source.of(stream).label) == ("stream", "file object")
    with pytest.raises(TypeError, match="Cannot load an image from a int"):
        Source.of(42)


def test_the_repeat_key_tells_the_same_image_under_two_spellings(tmp_path: Path) -> None:
    """A path and a Path to one file share a key; bytes with equal content share one."""
    path = tmp_path / "a.png"
    assert Source.of(str(path)).key == Source.of(path).key == Source.of(f"{tmp_path}/./a.png").key
    assert Source.of(PNG).key == Source.of(bytearray(PNG)).key
    assert Source.of("https://x.test/a.png").key != Source.of("https://x.test/b.png").key


def test_message_strings_are_gated_and_objects_are_not(tmp_path: Path) -> None:
    """A path from message JSON is read only with allow_local_files; a Path always."""
    path = tmp_path / "a.png"
    path.write_bytes(PNG)
    gated = Source.of(str(path), from_messages=True)
    with pytest.raises(BlockedURLError, match="allow_local_files"):
        gated.local_path(ImagePolicy())
    assert gated.local_path(ImagePolicy(allow_local_files=True)) == str(path)
    assert Source.of(path, from_messages=True).local_path(ImagePolicy()) == str(path)
    with pytest.raises(ImageError, match=r"image_url\.url is a NoneType"):
        Source.of(None, from_messages=True)


def test_a_prepared_data_url_is_recognised_while_its_image_lives() -> None:
    """A data URL this library made classifies as prepared; an equal string made elsewhere does not."""
    image = load_image(PNG)
    assert Source.of(image.data_url).kind == "prepared"
    assert Source.of(image.data_url).value is image
    assert Source.of("".join(image.data_url)).kind == "data"


def test_ogv_ask_reads_an_upper_case_data_url_as_the_library_does() -> None:
    """`ogv ask DATA:...` is a data URL, not a file name too long to open."""
    url = "DATA" + data_url(PNG)[4:]
    result = run_ogv(["ask", url, "--prompt", "What is it?", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert f"<image/png {len(PNG):,} bytes sha256:" in result.stdout


def test_ogv_ask_names_a_folder_as_a_folder(tmp_path: Path) -> None:
    """A folder given to ogv ask is called a folder, with the commands that take folders."""
    result = run_ogv(["ask", str(tmp_path), "--prompt", "What?", "--dry-run"])
    assert result.exit_code == 2, result.output
    assert "is a folder" in result.output
    assert "No such file" not in result.output
