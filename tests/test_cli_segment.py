"""`ogv segment` against the hand-written segmentation cassette and a loopback stand-in:
table, JSON, overlay picture, mask files, warnings and errors."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from .clirunner import run_ogv
from .fakegemini import FakeGemini
from .paths import CASSETTES, EXAMPLE

HOUSE = {
    "house": [34, 30, 92, 96],
    "sun": [118, 10, 147, 39],
    "door": [58, 72, 73, 96],
}
ANSWERED = "test_segment_returns_masks_in_the_images_pixels.yaml"
# The answer is written by hand (cassettes/README.md): never re-recorded.
hand_written = pytest.mark.vcr(record_mode="none")


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    """The command replays the library's own segmentation cassette: it sends the same request."""
    return str(CASSETTES / "test_segment")


@hand_written
@pytest.mark.default_cassette(ANSWERED)
def test_prints_a_table_and_draws_the_masks(key: str, tmp_path: Path) -> None:
    """Each object's box and mask size are printed, and the overlay is written to --out."""
    out = tmp_path / "overlay.png"
    result = run_ogv(["segment", str(EXAMPLE), "--out", str(out)])
    assert result.exit_code == 0, result.output
    for label, box in HOUSE.items():
        row = r"\W+".join([label, *map(str, box)])
        assert re.search(row, result.stdout), (label, result.stdout)
    assert (
        f"3 objects segmented in {EXAMPLE} (160x120 upright); masks drawn on {out}."
        in result.stderr
    )
    with Image.open(out) as drawn, Image.open(EXAMPLE) as original:
        assert drawn.format == "PNG"
        assert drawn.size == (160, 120)
        # The middle of the sun is tinted, a point outside every box is untouched.
        assert drawn.convert("RGB").getpixel((132, 24)) != original.convert("RGB").getpixel(
            (132, 24)
        )
        assert drawn.convert("RGB").getpixel((5, 115)) == original.convert("RGB").getpixel((5, 115))


@hand_written
@pytest.mark.default_cassette(ANSWERED)
def test_json_and_masks_directory(key: str, tmp_path: Path) -> None:
    """--json prints each object with its mask's size in pixels and file; --masks writes one
    full-size black-and-white PNG per object, numbered in reply order."""
    out = tmp_path / "overlay.jpg"
    masks = tmp_path / "masks" / "here"
    result = run_ogv(["segment", str(EXAMPLE), "-o", str(out), "--json", "--masks", str(masks)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["width"], report["height"]) == (160, 120)
    items = report["segmentations"]
    assert [(i["label"], i["box_px"]) for i in items] == list(HOUSE.items())
    assert [Path(i["mask_file"]).name for i in items] == [
        "01-house.png",
        "02-sun.png",
        "03-door.png",
    ]
    for item in items:
        with Image.open(item["mask_file"]) as mask:
            assert mask.mode == "L"
            assert mask.size == (160, 120)
            colours = {v: n for n, v in mask.getcolors() or []}
            assert set(colours) <= {0, 255}
            assert colours[255] == item["mask_pixels"]
            on = mask.getbbox()
            assert on is not None
            left, top, right, bottom = item["box_px"]
            assert on[0] >= left
            assert on[1] >= top
            assert on[2] <= right
            assert on[3] <= bottom
    with Image.open(out) as drawn:
        assert drawn.format == "JPEG"
    assert f"masks saved in {masks}" in result.stderr


def test_an_output_name_without_an_image_extension_is_a_usage_error(
    key: str, tmp_path: Path
) -> None:
    """--out must name a picture format; refused before anything is sent."""
    result = run_ogv(["segment", str(EXAMPLE), "--out", str(tmp_path / "o.txt")])
    assert result.exit_code == 2, result.output
    assert "--out" in result.stderr
    assert "o.txt" in result.stderr


def test_masks_naming_a_file_is_a_usage_error(key: str, tmp_path: Path) -> None:
    """--masks must be a directory; a file there is refused before anything is sent."""
    taken = tmp_path / "taken"
    taken.write_text("not a directory")
    result = run_ogv(
        ["segment", str(EXAMPLE), "--out", str(tmp_path / "o.png"), "--masks", str(taken)]
    )
    assert result.exit_code == 2, result.output
    assert "--masks" in result.stderr
    assert "is a file" in result.stderr
    assert not (tmp_path / "o.png").exists()


def _two_entries_one_broken(_body: dict[str, Any]) -> str:
    good = {"box_2d": [0, 0, 500, 500], "mask": "", "label": "broken"}
    return json.dumps([good])


def test_a_skipped_mask_is_a_warning_line_against_the_stand_in(tmp_path: Path) -> None:
    """An answer whose only mask is unreadable succeeds with no objects and one warning line."""
    out = tmp_path / "overlay.png"
    with FakeGemini(answer=_two_entries_one_broken, api_key="k") as fake:
        result = run_ogv(
            ["segment", str(EXAMPLE), "--out", str(out), "--base-url", fake.base_url, "-p", "cats"],
            env={"GEMINI_API_KEY": "k"},
        )
        (request,) = fake.requests
    assert result.exit_code == 0, result.output
    (warning,) = [line for line in result.stderr.splitlines() if "warning" in line]
    assert warning.startswith("ogv: warning: Skipped entry 1 of 1 (broken)")
    assert "0 objects segmented" in result.stderr
    assert request["messages"][0]["content"][1]["text"].startswith("cats\n")
    assert out.exists()


def test_a_prose_answer_is_one_error_line(tmp_path: Path) -> None:
    """A reply with no masks fails with exit status 1 and one line quoting it; nothing is written."""
    out = tmp_path / "overlay.png"
    with FakeGemini(answer=lambda _body: "I cannot see any objects.", api_key="k") as fake:
        result = run_ogv(
            ["segment", str(EXAMPLE), "--out", str(out), "--base-url", fake.base_url],
            env={"GEMINI_API_KEY": "k"},
        )
    assert result.exit_code == 1, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith("ogv: error: The reply holds no JSON")
    assert not out.exists()


def test_a_missing_image_names_the_argument(key: str, tmp_path: Path) -> None:
    """A path that does not exist is a usage error naming IMAGE."""
    result = run_ogv(["segment", str(tmp_path / "nope.jpg"), "--out", str(tmp_path / "o.png")])
    assert result.exit_code == 2, result.output
    assert "No such file" in result.stderr
    assert "nope.jpg" in result.stderr
