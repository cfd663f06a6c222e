"""`ogv tokens`: a table or JSON of what Gemini bills for image files, offline."""

from __future__ import annotations

import json
import re
import shlex
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from openai_gemini_vision import load_image

from .clirunner import run_ogv
from .imaging import encode, image_bytes
from .paths import ROOT


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """A 4000x3000 JPEG (24 tiles on Gemini 1.5) and a small PNG (one tile)."""
    big = tmp_path / "big.jpg"
    big.write_bytes(encode(Image.new("RGB", (4000, 3000), (90, 140, 200)), "JPEG"))
    small = tmp_path / "small.png"
    small.write_bytes(image_bytes("PNG", 300, 200))
    return {"big": big, "small": small}


def _run(*args: str) -> Any:
    return run_ogv(["tokens", *args])


def _json(*args: str) -> dict[str, Any]:
    result = _run(*args, "--json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.output)
    return data


def test_table_lists_each_image_and_a_total(files: dict[str, Path]) -> None:
    """The table shows format, sizes, tiles, tokens and bytes per file, then the totals."""
    result = _run(str(files["big"]), str(files["small"]), "--model", "gemini-1.5-pro")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    big_row = next(line for line in lines if "big.jpg" in line)
    small_row = next(line for line in lines if "small.png" in line)
    total_row = next(line for line in lines if "Total" in line)
    big_bytes = files["big"].stat().st_size
    small_bytes = files["small"].stat().st_size
    for cell in ("JPEG", "4000x3000", " 24 ", "6,192", f"{big_bytes:,}"):
        assert cell in big_row
    for cell in ("PNG", "300x200", " 1 ", " 258 ", f"{small_bytes:,}"):
        assert cell in small_row
    for cell in (" 25 ", "6,450", f"{big_bytes + small_bytes:,}"):
        assert cell in total_row
    assert "gemini-1.5-pro: priced with the Gemini 1.5 rule." in result.output


def test_json_carries_the_same_figures(files: dict[str, Path]) -> None:
    """--json prints every figure of the table as data."""
    data = _json(str(files["big"]), str(files["small"]), "--model", "gemini-1.5-pro")
    big, small = data["images"]
    assert big["file"] == str(files["big"])
    assert big["format"] == "JPEG"
    assert big["original_size"] == big["size_as_sent"] == [4000, 3000]
    assert big["bytes_as_sent"] == files["big"].stat().st_size  # passthrough: the file itself
    assert big["tokens"]["gemini-1.5-pro"] == {"tiles": 24, "tokens": 24 * 258}
    assert small["tokens"]["gemini-1.5-pro"] == {"tiles": 1, "tokens": 258}
    assert data["total"]["tokens"]["gemini-1.5-pro"] == {"tiles": 25, "tokens": 25 * 258}
    assert data["models"] == [
        {
            "model": "gemini-1.5-pro",
            "backend": "gemini-api",
            "family": "Gemini 1.5",
            "assumed_family": False,
            "media_resolution": None,
            "detail_low": {
                "image_tokens": 2 * 258,
                "effect": "Gemini 1.5 bills an image above 384 px by its tiles: --detail low "
                "(both sides <= 384 px) brings it to 258 tokens.",
            },
        }
    ]


def test_several_models_side_by_side(files: dict[str, Path]) -> None:
    """Repeating --model adds one tokens column per model, each with its own total."""
    models = ["gemini-1.5-pro", "gemini-3-pro-preview", "gemini-pro-vision"]
    args = [str(files["big"]), str(files["small"])]
    for model in models:
        args += ["--model", model]
    result = _run(*args)
    assert result.exit_code == 0, result.output
    header = result.output.splitlines()[1]
    assert [model for model in models if model in header] == models
    total_row = next(line for line in result.output.splitlines() if "Total" in line)
    for total in ("6,450", "2,144", " 516 "):
        assert total in total_row
    data = _json(*args)
    assert data["total"]["tokens"] == {
        "gemini-1.5-pro": {"tiles": 25, "tokens": 6450},
        "gemini-3-pro-preview": {"tiles": 2, "tokens": 38 * 28 + 40 * 27},
        "gemini-pro-vision": {"tiles": 2, "tokens": 516},
    }


def test_default_model_from_environment(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --model, GEMINI_MODEL names the model priced."""
    monkeypatch.setenv("GEMINI_MODEL", "gemini-1.5-flash")
    data = _json(str(files["small"]))
    assert [m["model"] for m in data["models"]] == ["gemini-1.5-flash"]


def test_detail_low_reports_the_prepared_bytes(files: dict[str, Path]) -> None:
    """--detail low prices the 384 px downscale and reports the bytes really prepared."""
    data = _json(str(files["big"]), "--detail", "low", "--model", "gemini-2.0-flash")
    (big,) = data["images"]
    prepared = load_image(files["big"], detail="low")
    assert big["size_as_sent"] == [384, 288] == [prepared.width, prepared.height]
    assert big["bytes_as_sent"] == prepared.byte_size < files["big"].stat().st_size
    assert big["tokens"]["gemini-2.0-flash"] == {"tiles": 1, "tokens": 258}


def test_converted_and_rotated_files(tmp_path: Path) -> None:
    """A GIF shows its conversion and prepared bytes; an EXIF quarter turn swaps the sides."""
    gif = tmp_path / "anim.gif"
    gif.write_bytes(image_bytes("GIF", 500, 500))
    rotated = tmp_path / "rot.jpg"
    rotated.write_bytes(encode(Image.new("RGB", (1600, 900)), "JPEG", orientation=6))
    args = (str(gif), str(rotated), "-m", "gemini-1.5-pro")
    gif_row, rot_row = _json(*args)["images"]
    converted = load_image(gif)
    assert gif_row["mime_type_as_sent"] == converted.mime_type == "image/png"
    assert gif_row["bytes_as_sent"] == converted.byte_size
    assert rot_row["original_size"] == [1600, 900]
    assert rot_row["size_as_sent"] == [900, 1600]
    assert rot_row["tokens"]["gemini-1.5-pro"] == {"tiles": 6, "tokens": 6 * 258}
    result = _run(*args)
    assert result.exit_code == 0, result.output
    assert "GIF -> PNG" in result.output


def test_base_url_is_taken_and_nothing_is_sent(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--base-url and GEMINI_BASE_URL, which every ogv command takes, change no figure."""
    plain = _json(str(files["small"]))
    monkeypatch.setenv("GEMINI_BASE_URL", "http://127.0.0.1:9/v1beta/openai/")
    assert _json(str(files["small"]), "--base-url", "http://127.0.0.1:9/v1beta/openai/") == plain


def test_unknown_model_is_flagged(files: dict[str, Path]) -> None:
    """An unrecognised model is priced with the newest family and the output says so."""
    result = _run(str(files["small"]), "--model", "gemini-4-ultra")
    assert result.exit_code == 0, result.output
    assert "assumed: name not recognised" in result.output
    assert _json(str(files["small"]), "--model", "gemini-4-ultra")["models"][0]["assumed_family"]


def test_media_resolution_option(files: dict[str, Path]) -> None:
    """--media-resolution prices Gemini 3 per level; a level the family lacks is a usage error."""
    data = _json(str(files["big"]), "--model", "gemini-3-pro-preview", "--media-resolution", "low")
    assert data["total"]["tokens"]["gemini-3-pro-preview"]["tokens"] == 19 * 14
    result = _run(str(files["big"]), "-m", "gemini-2.0-flash", "--media-resolution", "ultra_high")
    assert result.exit_code == 2, result.output
    assert "Gemini 3 or later only" in result.output


def test_an_unreadable_file_gets_a_row_saying_why(files: dict[str, Path], tmp_path: Path) -> None:
    """A file that cannot be sent gets its own row saying why, the others are priced and
    totalled without it; exit status 1 and a line saying so, no traceback."""
    bad = tmp_path / "notes.jpg"
    bad.write_bytes(b"these are not pixels")
    args = (str(files["small"]), str(bad), "-m", "gemini-1.5-pro")
    result = _run(*args)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    bad_row = next(line for line in lines if "notes.jpg" in line)
    assert "The input is text ('these are not pixels'...), not an image" in bad_row
    total_row = next(line for line in lines if "Total" in line)
    for cell in ("Total (1 images)", " 258 ", "1 not priced"):
        assert cell in total_row
    assert result.stderr == (
        "ogv: 1 of 2 images could not be priced (the table says why); the totals leave them out.\n"
    )
    assert "Traceback" not in result.output
    as_json = _run(*args, "--json")
    assert as_json.exit_code == 1, as_json.output
    data = json.loads(as_json.stdout)
    small, broken = data["images"]
    assert small["error"] is None
    assert small["tokens"]["gemini-1.5-pro"] == {"tiles": 1, "tokens": 258}
    assert broken["error"].startswith("The input is text")
    assert broken["tokens"] == {}
    assert data["total"]["tokens"]["gemini-1.5-pro"] == {"tiles": 1, "tokens": 258}
    assert (data["total"]["images"], data["total"]["not_priced"]) == (1, 1)


def test_missing_file_is_usage_error(tmp_path: Path) -> None:
    """A path that does not exist is rejected before anything is read."""
    result = _run(str(tmp_path / "nope.png"))
    assert result.exit_code == 2, result.output
    assert "No such file" in result.output


def test_help_shows_an_example() -> None:
    """`ogv tokens --help` shows how to compare models."""
    result = _run("--help")
    assert result.exit_code == 0, result.output
    assert "ogv tokens a.jpg b.png --model gemini-2.0-flash --model gemini-3-pro-preview" in (
        result.output
    )


def test_a_vertex_base_url_prices_as_vertex_and_backend_overrides_it(tmp_path: Path) -> None:
    """The backend comes from --base-url (aiplatform.googleapis.com is Vertex AI) or --backend."""
    path = tmp_path / "tall.png"
    path.write_bytes(image_bytes("PNG", 700, 1003))
    vertex = (
        "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/l/endpoints/openapi"
    )
    by_url = _run(str(path), "--json", "-m", "gemini-2.5-flash", "--base-url", vertex)
    assert by_url.exit_code == 0, by_url.output
    report = json.loads(by_url.stdout)
    assert report["models"][0]["backend"] == "vertex-ai"
    assert report["total"]["tokens"]["gemini-2.5-flash"]["tokens"] == 1806
    forced = _run(str(path), "--json", "--base-url", vertex, "--backend", "gemini-api")
    assert json.loads(forced.stdout)["total"]["tokens"]["gemini-2.5-flash"]["tokens"] == 258


def test_tokens_says_what_detail_low_would_change_per_family(tmp_path: Path) -> None:
    """Per model, the table ends with what --detail low would bill, and why."""
    path = tmp_path / "photo.png"
    path.write_bytes(image_bytes("PNG", 1280, 854))
    result = _run(str(path), "-m", "gemini-2.0-flash", "-m", "gemini-2.5-flash")
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "--detail low would bill 258 image tokens instead of 1,806." in text
    assert "--detail low would bill the same 258 image tokens." in text
    assert "saves bytes and upload time, not tokens" in text


def _line(model: str, estimated: int, reported: int | None, **extra: Any) -> str:
    usage = None if reported is None else {"prompt_tokens": reported, "completion_tokens": 9}
    line = {"path": "a.png", "model": model, "text": "ok", "error": None, "usage": usage}
    return json.dumps({**line, "estimate": {"total_tokens": estimated}, **extra})


def test_compare_flags_drift_per_model_and_backend(tmp_path: Path) -> None:
    """Per model and backend: images, estimated vs reported, the ratio; drift over 5% flagged."""
    out = tmp_path / "captions.jsonl"
    lines = [
        _line("gemini-2.5-flash", 270, 268, backend="gemini-api"),
        _line("gemini-2.5-flash", 270, 270, backend="gemini-api"),
        _line("gemini-2.5-flash", 270, 1818, backend="vertex-ai"),
        _line("gemini-2.5-flash", 270, 270, same_as="b.png"),  # not billed
        _line("gemini-2.5-flash", 270, None),  # no usage reported
        "{torn",
    ]
    out.write_text("\n".join(lines) + "\n")
    result = _run("--compare", str(out))
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "gemini-2.5-flash │ gemini-api │ 2 │ 540 │ 538 │ 0.996" in text
    assert "gemini-2.5-flash │ vertex-ai │ 1 │ 270 │ 1,818 │ 6.733 drift" in text
    assert "gemini-2.5-flash on vertex-ai: Gemini billed +573.3% against the estimates" in text
    assert "register_rule" in text
    assert "gemini-api: Gemini billed" not in text


def test_compare_refuses_both_images_and_a_file_and_names_a_missing_file(tmp_path: Path) -> None:
    """--compare takes a file instead of images; an unreadable file names the fix."""
    both = _run("photo.jpg", "--compare", "x.jsonl")
    assert both.exit_code == 2
    assert "not both" in both.output
    missing = _run("--compare", str(tmp_path / "nope.jsonl"))
    assert missing.exit_code == 1
    assert "Pass the JSON Lines file that ogv caption --out wrote" in missing.output


def _folder(tmp_path: Path) -> Path:
    """A folder of two photos (one in a subfolder) and a file that is no image."""
    photos = tmp_path / "photos"
    (photos / "sub").mkdir(parents=True)
    # Plain colour: only the sizes matter here, and noise takes seconds to draw.
    (photos / "a.png").write_bytes(encode(Image.new("RGB", (1280, 854), (90, 140, 200)), "PNG"))
    (photos / "sub" / "b.jpg").write_bytes(encode(Image.new("RGB", (640, 480), (9, 9, 9)), "JPEG"))
    (photos / "notes.txt").write_text("not an image")
    return photos


def test_a_folder_is_priced_image_by_image_as_caption_sends_them(tmp_path: Path) -> None:
    """A folder is searched as ogv caption searches it, each image priced as its own
    request; --together prices them as one request, as ogv ask sends them."""
    photos = _folder(tmp_path)
    data = _json(str(photos), "-m", "gemini-2.0-flash")
    assert [row["file"] for row in data["images"]] == [
        str(photos / "a.png"),
        str(photos / "sub" / "b.jpg"),
    ]
    assert data["requests"] == "each"
    # Gemini 2.0 bills a lone image by its tiles (+1), each of several 258.
    assert [row["tokens"]["gemini-2.0-flash"]["tokens"] for row in data["images"]] == [1806, 1290]
    assert data["total"]["tokens"]["gemini-2.0-flash"]["tokens"] == 3096
    assert data["passed_over"] == [str(photos / "notes.txt")]
    together = _json(str(photos), "-m", "gemini-2.0-flash", "--together")
    assert together["requests"] == "one"
    assert together["total"]["tokens"]["gemini-2.0-flash"]["tokens"] == 516
    table = _run(str(photos), "-m", "gemini-2.0-flash")
    assert table.exit_code == 0, table.output
    text = " ".join(table.stdout.split())
    assert "Total (2 images)" in text
    assert "3,096" in text
    assert "Priced as 2 requests of one image each, as ogv caption sends them" in text
    assert f"Passed over 1 file that is not an image: {photos / 'notes.txt'}" in text


def test_a_glob_the_shell_left_alone_is_expanded(tmp_path: Path) -> None:
    """A quoted glob is expanded like ogv caption's ('**' reaching into subfolders)."""
    photos = _folder(tmp_path)
    data = _json(str(photos / "**" / "*.jpg"))
    assert [row["file"] for row in data["images"]] == [str(photos / "sub" / "b.jpg")]
    nothing = _run(str(photos / "*.gif"))
    assert nothing.exit_code == 2, nothing.output
    assert "No such file, folder or glob match" in nothing.output


def test_a_broken_image_in_a_folder_gets_its_row(tmp_path: Path) -> None:
    """An image cut short inside a folder is a row with its reason; the rest are priced."""
    photos = _folder(tmp_path)
    cut = photos / "sub" / "cut.png"
    cut.write_bytes((photos / "a.png").read_bytes()[:200])
    result = _run(str(photos), "--json")
    assert result.exit_code == 1, result.output
    rows = {row["file"]: row for row in json.loads(result.stdout)["images"]}
    assert "truncated or damaged" in rows[str(cut)]["error"]
    assert rows[str(photos / "a.png")]["error"] is None


def _huge_png(path: Path, width: int = 20_000, height: int = 10_000) -> None:
    """A PNG whose header says 200 million pixels, in a few kB: 1-bit grey, all zero."""
    packer = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)
    pixels = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def test_max_pixels_lets_a_trusted_huge_image_through(tmp_path: Path) -> None:
    """Over the default limit (Pillow's own guard) the row names --max-pixels and the
    figure; that figure lifts Pillow's guard too, for this command only."""
    huge = tmp_path / "huge.png"
    _huge_png(huge)
    before = Image.MAX_IMAGE_PIXELS
    refused = _run(str(huge), "--json")
    assert refused.exit_code == 1, refused.output
    (row,) = json.loads(refused.stdout)["images"]
    assert "20000x10000 = 200,000,000 pixels" in row["error"]
    assert "--max-pixels 200000000 lets it through." in row["error"]
    assert "ImagePolicy" not in row["error"]
    assert "MAX_IMAGE_PIXELS" not in row["error"]
    allowed = _run(str(huge), "--max-pixels", "200000000", "--json")
    assert allowed.exit_code == 0, allowed.output
    (row,) = json.loads(allowed.stdout)["images"]
    assert row["original_size"] == [20000, 10000]
    assert before == Image.MAX_IMAGE_PIXELS  # restored when the command ended


def test_a_base_url_that_is_no_url_is_a_usage_error(files: dict[str, Path]) -> None:
    """--base-url only names the backend here, but one that is no URL is still refused."""
    result = _run(str(files["small"]), "--base-url", "notaurl")
    assert result.exit_code == 2, result.output
    assert "'notaurl' is not an http(s) URL" in " ".join(result.output.split())


def test_the_readme_shows_ogv_tokens_on_a_folder_as_it_prints(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The README's `ogv tokens` on a folder of this repository is what the command prints."""
    readme = (ROOT / "README.md").read_text()
    shown = re.search(r"```console\n\$ (ogv tokens tests/data\S*[^\n]*)\n(.*?)```", readme, re.S)
    assert shown, "README lost its `ogv tokens` on a folder"
    monkeypatch.chdir(ROOT)
    result = run_ogv(shlex.split(shown[1])[1:])
    assert result.exit_code == 0, result.output
    assert result.stdout == shown[2]
