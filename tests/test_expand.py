"""PDFs and videos in a request reach Gemini as labelled page and frame images, priced as sent."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from openai_gemini_vision import (
    ImagePolicy,
    OpenAI,
    UnsupportedImageError,
    estimate_tokens,
    load_image,
    prepare_messages,
)
from openai_gemini_vision.errors import UnsupportedDocumentError

from .clirunner import run_ogv
from .fakegemini import FakeGemini, images_in
from .media import make_pdf, make_video
from .wiretap import SentBodies

PAGES = [["Quarterly report", "Revenue rose 4%"], ["Costs"], ["Outlook"]]
# Page and frame bytes depend on PDFium's and FFmpeg's versions: these hand-written
# cassettes are matched without their bodies, which the tests check through the wire.
by_route = pytest.mark.vcr(
    record_mode="none", match_on=("method", "scheme", "host", "port", "path")
)


@pytest.fixture
def pdf(tmp_path: Path) -> Path:
    """A three-page PDF of text."""
    path = tmp_path / "report.pdf"
    path.write_bytes(make_pdf(PAGES))
    return path


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """A three-second H.264 MP4."""
    path = tmp_path / "clip.mp4"
    path.write_bytes(make_video(seconds=3))
    return path


def _kinds(content: list[dict[str, Any]]) -> list[str]:
    return [part["text"] if part["type"] == "text" else part["type"] for part in content]


def _file_part(data: bytes, name: str = "report.pdf") -> dict[str, Any]:
    encoded = base64.b64encode(data).decode()
    return {
        "type": "file",
        "file": {"file_data": f"data:application/pdf;base64,{encoded}", "filename": name},
    }


def test_a_pdf_in_a_content_list_becomes_labelled_pages(pdf: Path) -> None:
    """Each page goes as an image after a "Page N of M" text part, in place of the PDF."""
    prepared = prepare_messages([{"role": "user", "content": ["Summarise", pdf, "Thanks"]}])
    content = prepared.messages[0]["content"]
    assert _kinds(content) == [
        "Summarise",
        "Page 1 of 3",
        "image_url",
        "Page 2 of 3",
        "image_url",
        "Page 3 of 3",
        "image_url",
        "Thanks",
    ]
    assert [image.source for image in prepared.images] == [f"{pdf} page {n}" for n in (1, 2, 3)]
    assert all("rendered at" in image.changes[0] for image in prepared.images)


def test_pages_are_chosen_by_policy_and_priced_as_sent(pdf: Path) -> None:
    """pdf_pages picks the pages; the estimate renders and prices the very pages sent."""
    policy = ImagePolicy(pdf_pages="1,3")
    messages = [{"role": "user", "content": [pdf]}]
    prepared = prepare_messages(messages, model="gemini-2.0-flash", policy=policy)
    estimate = estimate_tokens(messages, "gemini-2.0-flash", policy=policy)
    assert [image.source for image in prepared.images] == [f"{pdf} page 1", f"{pdf} page 3"]
    assert [i.size for i in estimate.images] == [(i.width, i.height) for i in prepared.images]
    assert estimate.per_image == prepared.estimate.per_image == [258, 258]


def test_a_wrong_page_selection_names_the_fix_and_the_part(pdf: Path) -> None:
    """A page past the end is refused at the PDF's place, naming --pages and pdf_pages."""
    with pytest.raises(ValueError, match="--pages on the command line") as caught:
        prepare_messages(
            [{"role": "user", "content": ["x", pdf]}], policy=ImagePolicy(pdf_pages="9")
        )
    assert str(caught.value).startswith("messages[0].content[1]")


def test_a_file_part_can_pass_through_untouched(pdf: Path) -> None:
    """With send_pdf_as_file the OpenAI file part goes as it came, for endpoints taking PDFs."""
    part = _file_part(pdf.read_bytes())
    prepared = prepare_messages(
        [{"role": "user", "content": [part]}], policy=ImagePolicy(send_pdf_as_file=True)
    )
    assert prepared.messages[0]["content"] == [part]
    assert prepared.images == []


def test_a_file_id_is_refused_with_what_to_send() -> None:
    """A file of OpenAI's store cannot reach Gemini: the error says to send file_data."""
    part = {"type": "file", "file": {"file_id": "file-abc123"}}
    with pytest.raises(UnsupportedDocumentError, match="file_data") as caught:
        prepare_messages([{"role": "user", "content": [part]}])
    assert caught.value.where == "messages[0].content[0]"


def test_a_video_becomes_frames_at_one_a_second(clip: Path) -> None:
    """A video is sampled at 1 frame a second, each frame after its timestamp."""
    prepared = prepare_messages([{"role": "user", "content": [clip]}])
    content = prepared.messages[0]["content"]
    assert _kinds(content) == [
        "00:00:00",
        "image_url",
        "00:00:01",
        "image_url",
        "00:00:02",
        "image_url",
    ]
    assert {image.mime_type for image in prepared.images} == {"image/jpeg"}
    fewer = prepare_messages(
        [{"role": "user", "content": [clip]}], policy=ImagePolicy(video_max_frames=2)
    )
    assert len(fewer.images) == 2


def test_load_image_of_a_pdf_says_where_pdfs_go(pdf: Path) -> None:
    """One image cannot be a PDF: the error names the content list and render_pages."""
    with pytest.raises(UnsupportedImageError, match="content list") as caught:
        load_image(pdf)
    assert "render_pages" in str(caught.value)


@by_route
def test_a_pdf_file_part_reaches_gemini_as_page_images(gemini_key: str, pdf: Path) -> None:
    """OpenAI code sending a PDF file part through the client gets its answer; Gemini gets pages."""
    wire = SentBodies()
    with OpenAI(api_key=gemini_key, http_client=wire.client()) as client:
        answer = client.chat.completions.create(
            model="gemini-2.5-flash",
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What does the report say?"},
                        _file_part(pdf.read_bytes()),  # type: ignore[list-item]
                    ],
                }
            ],
        )
    assert "revenue rose 4%" in (answer.choices[0].message.content or "")
    (body,) = wire.bodies
    kinds = _kinds(body["messages"][0]["content"])
    assert kinds[:3] == ["What does the report say?", "Page 1 of 3", "image_url"]
    assert [mime for mime, _ in images_in(body)] == ["image/png"] * 3


@by_route
def test_a_video_reaches_gemini_as_timestamped_frames(gemini_key: str, clip: Path) -> None:
    """A video Path in a content list is answered; Gemini gets a frame a second."""
    wire = SentBodies()
    with OpenAI(api_key=gemini_key, http_client=wire.client()) as client:
        answer = client.chat.completions.create(
            model="gemini-2.5-flash",
            messages=[{"role": "user", "content": ["What happens?", clip]}],  # type: ignore[list-item]
        )
    assert "white bar" in (answer.choices[0].message.content or "")
    (body,) = wire.bodies
    assert _kinds(body["messages"][0]["content"])[1:3] == ["00:00:00", "image_url"]
    assert len(images_in(body)) == 3


def test_ogv_ask_sends_the_pages_and_frames_chosen(
    pdf: Path, clip: Path, key: str, fake: FakeGemini
) -> None:
    """`ogv ask report.pdf clip.mp4 --pages 2- --max-frames 2` sends those, and is answered."""
    args = ["ask", str(pdf), str(clip), "-p", "Summarise", "--pages", "2-", "--max-frames", "2"]
    dry = run_ogv([*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    texts = [p.get("text") for p in json.loads(dry.stdout)["messages"][0]["content"]]
    assert [t for t in texts if t][:2] == ["Page 2 of 3", "Page 3 of 3"]
    assert f"({pdf} page 2)" in dry.stderr
    sent = run_ogv([*args, "--base-url", fake.base_url])
    assert sent.exit_code == 0, sent.output
    assert sent.stdout.startswith("I see 4 image(s)")


@pytest.mark.parametrize("hidden", ["pypdfium2", "av"])
def test_ogv_names_the_document_when_the_extra_is_missing(
    pdf: Path, clip: Path, hidden: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the documents extra, `ogv ask` names the file and the install, as it names
    a broken image: `ogv: report.pdf: PDF pages need pypdfium2 ...`."""
    monkeypatch.setitem(sys.modules, hidden, None)
    document = pdf if hidden == "pypdfium2" else clip
    result = run_ogv(["ask", document, "--prompt", "Summarise", "--dry-run"])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"ogv: {document}: ")
    assert "pip install 'openai-gemini-vision[documents]'" in result.stderr
    assert "messages[" not in result.stderr


def test_ogv_names_the_pdf_whose_pages_do_not_exist(pdf: Path) -> None:
    """A --pages selection past the end names the file and the flag."""
    result = run_ogv(["ask", pdf, "--prompt", "Summarise", "--dry-run", "--pages", "9"])
    assert result.exit_code != 0
    assert result.stderr.startswith(f"ogv: {pdf}: ")
    assert "--pages" in result.stderr
