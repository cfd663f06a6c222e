"""`ogv caption` against a loopback stand-in for Gemini: lines, resume, retries, signals."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from rich.progress import Progress

from openai_gemini_vision.caption import captioner as caption_module
from openai_gemini_vision.cli import _progress as progress_module
from openai_gemini_vision.cli._progress import Meter, PlainProgress, RateColumn, TimeLeftColumn
from openai_gemini_vision.images.prepared import payload_placeholder

from .clirunner import run_ogv
from .fakegemini import FakeGemini, images_in
from .imaging import encode, photo

FIELDS = {
    "path",
    "sha256",
    "model",
    "backend",
    "prompt",
    "text",
    "usage",
    "estimate",
    "changes",
    "error",
}


# Every run here has a key in GEMINI_API_KEY, as a user would set it.
pytestmark = pytest.mark.usefixtures("key")


def make_images(folder: Path, count: int, *, start: int = 0) -> list[Path]:
    """`count` distinct small PNGs, spread over `folder` and a subfolder."""
    paths = []
    for seed in range(start, start + count):
        path = folder / ("sub" if seed % 2 else "") / f"img{seed:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode(photo(24, 16, seed=seed), "PNG"))
        paths.append(path)
    return paths


def read_lines(out: Path) -> list[dict[str, Any]]:
    """Every line of a results file, each of which must be a JSON object."""
    return [json.loads(line) for line in out.read_text().splitlines()]


def caption(fake: FakeGemini, *args: str) -> Any:
    """Run `ogv caption ... --base-url <fake>` in-process."""
    return run_ogv(["caption", *args, "--base-url", fake.base_url])


def test_a_folder_becomes_one_line_per_image(fake: FakeGemini, tmp_path: Path) -> None:
    """Images found recursively each get a complete line; a non-image file is passed over."""
    images = make_images(tmp_path / "photos", 5)
    (tmp_path / "photos" / "sub" / "notes.png").write_text("not an image")
    out = tmp_path / "out.jsonl"
    result = caption(fake, str(tmp_path / "photos"), "-p", "Caption it", "-o", str(out))
    assert result.exit_code == 0, result.output
    lines = read_lines(out)
    assert sorted(line["path"] for line in lines) == sorted(str(p) for p in images)
    for line in lines:
        data = Path(line["path"]).read_bytes()
        assert line.keys() >= FIELDS
        assert line["sha256"] == hashlib.sha256(data).hexdigest()
        assert (line["prompt"], line["error"], line["changes"]) == ("Caption it", None, [])
        assert line["text"] == f"I see 1 image(s): {payload_placeholder('image/png', data)}."
        assert line["usage"]["prompt_tokens"] == 262
        assert line["backend"] == "gemini-api"
        assert set(line["estimate"]) == {"image_tokens", "text_tokens", "total_tokens"}
        assert line["estimate"]["total_tokens"] > 0
    assert len(fake.requests) == 5
    assert "5 answered" in result.stderr
    assert "━" not in result.stderr  # no progress bar when stderr is not a terminal


def test_a_rerun_skips_what_is_answered(fake: FakeGemini, tmp_path: Path) -> None:
    """The same command again sends nothing; a new image or a new prompt is asked about."""
    folder = tmp_path / "photos"
    make_images(folder, 4)
    out = tmp_path / "out.jsonl"
    assert caption(fake, str(folder), "-p", "Caption", "-o", str(out)).exit_code == 0
    again = caption(fake, str(folder), "-p", "Caption", "-o", str(out))
    assert again.exit_code == 0, again.output
    assert len(fake.requests) == 4
    assert "4 already in" in again.stderr
    make_images(folder, 1, start=4)
    assert caption(fake, str(folder), "-p", "Caption", "-o", str(out)).exit_code == 0
    assert len(fake.requests) == 5
    assert caption(fake, str(folder), "-p", "Other", "-o", str(out)).exit_code == 0
    assert len(fake.requests) == 10
    assert len(read_lines(out)) == 10


def test_a_changed_file_is_asked_about_again(fake: FakeGemini, tmp_path: Path) -> None:
    """Resume keys on the file's bytes: an edited image at the same path is re-captioned."""
    (path,) = make_images(tmp_path, 1)
    out = tmp_path / "out.jsonl"
    assert caption(fake, str(path), "-p", "Caption", "-o", str(out)).exit_code == 0
    path.write_bytes(encode(photo(24, 16, seed=99), "PNG"))
    assert caption(fake, str(path), "-p", "Caption", "-o", str(out)).exit_code == 0
    assert len(fake.requests) == 2


def test_identical_files_are_asked_about_once(fake: FakeGemini, tmp_path: Path) -> None:
    """Two paths with the same bytes cost one request; both get a line with the answer."""
    (first,) = make_images(tmp_path, 1)
    copy = tmp_path / "copy.png"
    copy.write_bytes(first.read_bytes())
    out = tmp_path / "out.jsonl"
    result = caption(fake, str(first), str(copy), "-p", "Caption", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert len(fake.requests) == 1
    by_path = {line["path"]: line for line in read_lines(out)}
    assert by_path[str(copy)]["text"] == by_path[str(first)]["text"]
    assert by_path[str(copy)]["same_as"] == str(first)
    # Not billed: summing usage over the file counts the one call once.
    assert by_path[str(copy)]["usage"] is None
    assert by_path[str(first)]["usage"]["prompt_tokens"] == 262


def test_the_summary_shows_tokens_estimated_and_reported(fake: FakeGemini, tmp_path: Path) -> None:
    """The closing lines give both totals, and ogv tokens --compare reads the file."""
    make_images(tmp_path / "photos", 3)
    out = tmp_path / "out.jsonl"
    result = caption(fake, str(tmp_path / "photos"), "-p", "Caption it", "-o", str(out))
    assert result.exit_code == 0, result.output
    estimated = sum(line["estimate"]["total_tokens"] for line in read_lines(out))
    assert (
        f"Prompt tokens of the 3 calls: {estimated:,} estimated before them, 786 reported"
        in " ".join(result.stderr.split())
    )
    compared = run_ogv(["tokens", "--compare", str(out), "--json"])
    assert compared.exit_code == 0, compared.output
    (group,) = json.loads(compared.stdout)["groups"]
    assert (group["images"], group["estimated"], group["reported"]) == (3, estimated, 786)


def test_the_first_listed_copy_is_the_one_asked_about(
    fake: FakeGemini, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whichever file is read first, the earliest listed of identical files is asked about."""
    (first,) = make_images(tmp_path, 1)
    copies = [tmp_path / f"copy{n}.png" for n in range(3)]
    for copy in copies:
        copy.write_bytes(first.read_bytes())
    real_read = caption_module._read

    def first_read_last(path: str) -> tuple[bytes, str]:
        if path == str(first):
            time.sleep(0.3)  # the copies' reads finish before the first file's
        return real_read(path)

    monkeypatch.setattr(caption_module, "_read", first_read_last)
    out = tmp_path / "out.jsonl"
    result = caption(fake, *map(str, [first, *copies]), "-p", "Caption", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert len(fake.requests) == 1
    by_path = {line["path"]: line for line in read_lines(out)}
    assert "same_as" not in by_path[str(first)]
    assert [by_path[str(copy)]["same_as"] for copy in copies] == [str(first)] * 3


def test_a_failed_image_exits_1_and_is_retried_next_time(fake: FakeGemini, tmp_path: Path) -> None:
    """A rejected image gets an error line and exit 1; the rerun asks only about it."""
    images = make_images(tmp_path / "photos", 3)
    bad = images[1].read_bytes()
    fake.reject = lambda body: any(data == bad for _, data in images_in(body))
    out = tmp_path / "out.jsonl"
    first = caption(fake, str(tmp_path / "photos"), "-p", "Caption", "-o", str(out))
    assert first.exit_code == 1, first.output
    assert f"{images[1]}: " in first.stderr
    assert "Provided image is not valid" in first.stderr
    failed = [line for line in read_lines(out) if line["error"]]
    assert [line["path"] for line in failed] == [str(images[1])]
    fake.reject = None
    second = caption(fake, str(tmp_path / "photos"), "-p", "Caption", "-o", str(out))
    assert second.exit_code == 0, second.output
    assert len(fake.requests) == 4
    assert "1 answered, 2 already in" in second.stderr


def test_429s_are_retried_and_counted(fake: FakeGemini, tmp_path: Path) -> None:
    """Gemini's RESOURCE_EXHAUSTED answers are retried; the summary says how many."""
    make_images(tmp_path / "photos", 3)
    fake.script(429, 429, 429)
    out = tmp_path / "out.jsonl"
    result = caption(
        fake, str(tmp_path / "photos"), "-p", "Caption", "-o", str(out), "--concurrency", "1"
    )
    assert result.exit_code == 0, result.output
    assert fake.statuses.count(429) == 3
    assert [line["error"] for line in read_lines(out)] == [None, None, None]
    assert "3 answers were 429 and retried; concurrency went down to 1" in result.stderr


def test_concurrency_bounds_requests_in_flight(tmp_path: Path) -> None:
    """--concurrency 3 never has more than 3 requests waiting on the server."""
    make_images(tmp_path / "photos", 9)
    with FakeGemini(latency=0.05) as slow:
        out = tmp_path / "out.jsonl"
        result = caption(slow, str(tmp_path / "photos"), "-p", "C", "-o", str(out), "-c", "3")
    assert result.exit_code == 0, result.output
    assert slow.max_in_flight == 3


def test_usage_problems_exit_2(fake: FakeGemini, tmp_path: Path) -> None:
    """A missing path, a folder without images, or no key: exit 2 and no results file."""
    out = tmp_path / "out.jsonl"
    missing = caption(fake, str(tmp_path / "nope"), "-p", "x", "-o", str(out))
    assert missing.exit_code == 2, missing.output
    assert "nope" in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = caption(fake, str(tmp_path / "empty"), "-p", "x", "-o", str(out))
    assert empty.exit_code == 2, empty.output
    assert "No image files" in empty.stderr
    make_images(tmp_path / "photos", 1)
    no_key = run_ogv(
        ["caption", str(tmp_path / "photos"), "-p", "x", "-o", str(out)],
        env={"GEMINI_API_KEY": None},
    )
    assert no_key.exit_code == 2, no_key.output
    assert "GEMINI_API_KEY" in no_key.stderr
    assert not out.exists()
    assert fake.requests == []


def test_a_wrong_model_stops_the_run_with_one_line(fake: FakeGemini, tmp_path: Path) -> None:
    """An error every image would hit (here: 404 for the model) stops at once, exit 1."""
    make_images(tmp_path / "photos", 6)
    out = tmp_path / "out.jsonl"
    fake.script(*[404] * 6)
    result = caption(fake, str(tmp_path / "photos"), "-p", "x", "-o", str(out), "-c", "1")
    assert result.exit_code == 1, result.output
    assert "--model" in result.stderr
    assert len(fake.requests) == 1


def _ogv(*args: str, base_url: str) -> subprocess.Popen[str]:
    """A real `ogv` process, as a user starts it."""
    env = {**os.environ, "GEMINI_API_KEY": "test-key", "GEMINI_BASE_URL": base_url}
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "openai_gemini_vision", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_lines(out: Path, count: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and process.poll() is None:
        if out.exists() and out.read_bytes().count(b"\n") >= count:
            return
        time.sleep(0.01)
    process.kill()
    _, stderr = process.communicate()
    raise AssertionError(f"{out} did not reach {count} lines before the process ended:\n{stderr}")


def _assert_each_once(out: Path, images: list[Path]) -> None:
    lines = read_lines(out)
    assert sorted(line["path"] for line in lines) == sorted(str(p) for p in images)
    assert all(line["error"] is None and line["text"] for line in lines)


def test_ctrl_c_stops_cleanly_and_a_rerun_finishes(tmp_path: Path) -> None:
    """SIGINT: whole lines only, a summary, exit 130; the rerun does the rest exactly once."""
    images = make_images(tmp_path / "photos", 16)
    out = tmp_path / "out.jsonl"
    args = ("caption", str(tmp_path / "photos"), "-p", "C", "-o", str(out), "-c", "2")
    with FakeGemini(latency=0.1) as fake:
        process = _ogv(*args, base_url=fake.base_url)
        _wait_for_lines(out, 2, process)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
        assert process.returncode == 130, stderr
        assert "Stopped by Ctrl-C" in stderr
        done = read_lines(out)
        assert 2 <= len(done) < 16
        rerun = _ogv(*args, base_url=fake.base_url)
        _, stderr = rerun.communicate(timeout=30)
        assert rerun.returncode == 0, stderr
    assert f"{len(done)} already in" in stderr
    _assert_each_once(out, images)


def test_sigkill_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    """Killed twice mid-run, then rerun: every image has exactly one line, a success."""
    images = make_images(tmp_path / "photos", 40)
    out = tmp_path / "out.jsonl"
    args = ("caption", str(tmp_path / "photos"), "-p", "C", "-o", str(out), "-c", "4")
    with FakeGemini(latency=0.05) as fake:
        for at_least in (4, 16):
            process = _ogv(*args, base_url=fake.base_url)
            _wait_for_lines(out, at_least, process)
            process.kill()
            process.communicate(timeout=20)
            assert process.returncode == -signal.SIGKILL
        final = _ogv(*args, base_url=fake.base_url)
        _, stderr = final.communicate(timeout=30)
        assert final.returncode == 0, stderr
        answered = len(fake.requests) - fake.statuses.count(429)
    _assert_each_once(out, images)
    # Requests cut off by a kill are asked again; nothing already written is.
    assert answered >= 40


def test_each_image_is_decoded_once_and_sent_as_prepared(
    fake: FakeGemini,
    tmp_path: Path,
    decodes: list[tuple[str, tuple[int, int]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two GIFs are decoded once each; the client passes the prepared bodies on untouched."""
    again: list[object] = []

    async def aprepare_again(*args: Any, **kwargs: Any) -> None:
        again.append(args)

    monkeypatch.setattr("openai_gemini_vision.client.aprepare_messages", aprepare_again)
    folder = tmp_path / "gifs"
    folder.mkdir()
    for seed in range(2):
        photo(30, 20, seed=seed).save(folder / f"{seed}.gif", "GIF")
    out = tmp_path / "out.jsonl"
    result = caption(fake, str(folder), "-p", "Caption it", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(decodes) == [("GIF", (30, 20))] * 2
    assert again == []
    assert [mime for body in fake.requests for mime, _ in images_in(body)] == ["image/png"] * 2


@pytest.mark.parametrize("status", [None, 401, 403])
def test_a_refused_key_stops_the_run_at_the_first_answer(
    fake: FakeGemini, tmp_path: Path, status: int | None
) -> None:
    """A wrong key (Gemini's 400 API_KEY_INVALID, or a 401 or 403) stops the run at the
    first answer with exit status 2, like a missing key; no image is blamed for it."""
    make_images(tmp_path / "photos", 8)
    out = tmp_path / "out.jsonl"
    if status is None:
        fake.api_key = "the-right-key"  # and the run sends the test key
    else:
        fake.script(*[status] * 8)
    result = caption(fake, str(tmp_path / "photos"), "-p", "x", "-o", str(out), "-c", "1")
    assert result.exit_code == 2, result.output
    assert len(fake.requests) == 1
    assert "GEMINI_API_KEY" in result.stderr
    assert read_lines(out) == []


def test_an_output_in_a_missing_folder_is_refused_before_any_request(
    fake: FakeGemini, tmp_path: Path
) -> None:
    """--out into a folder that does not exist: exit 2 naming the path, nothing sent."""
    make_images(tmp_path / "photos", 2)
    out = tmp_path / "nodir" / "z.jsonl"
    result = caption(fake, str(tmp_path / "photos"), "-p", "x", "-o", str(out))
    assert result.exit_code == 2, result.output
    text = " ".join(result.stderr.split())
    assert f"Cannot write {out}: the folder {out.parent} does not exist" in text
    assert "Errno" not in text
    assert fake.requests == []


def test_the_files_passed_over_are_named(fake: FakeGemini, tmp_path: Path) -> None:
    """The summary names each file a folder held that is not an image."""
    make_images(tmp_path / "photos", 2)
    notes = tmp_path / "photos" / "sub" / "notes.txt"
    notes.write_text("not an image")
    result = caption(fake, str(tmp_path / "photos"), "-p", "x", "-o", str(tmp_path / "o.jsonl"))
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert "Passed over 1 file that is not an image:" in lines
    assert f"  {notes}" in lines


def test_plain_progress_lines_when_stderr_is_no_terminal(
    fake: FakeGemini, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a terminal, progress comes as plain lines (here one per image, the interval
    set to 0) instead of a bar that draws nothing."""
    monkeypatch.setattr(progress_module, "PLAIN_PROGRESS_SECONDS", 0.0)
    make_images(tmp_path / "photos", 4)
    result = caption(fake, str(tmp_path / "photos"), "-p", "x", "-o", str(tmp_path / "o.jsonl"))
    assert result.exit_code == 0, result.output
    shown = [line.split(",")[0] for line in result.stderr.splitlines() if "captioning:" in line]
    assert shown == [f"captioning: {n}/4 images" for n in range(1, 5)]


def test_plain_progress_prints_every_few_seconds(capsys: pytest.CaptureFixture[str]) -> None:
    """A plain line at most every PLAIN_PROGRESS_SECONDS (5), with the rate of work and
    the time left."""
    now = [0.0]
    plain = PlainProgress(Meter(10, clock=lambda: now[0]), "captioning", enabled=True)
    for moment in (1.0, 2.0, 4.9, 5.0, 6.0, 10.5):
        now[0] = moment
        plain.add("answered")
    assert capsys.readouterr().err.splitlines() == [
        "captioning: 4/10 images, 0.8 img/s, 0:00:08 left",
        "captioning: 6/10 images, 0.6 img/s, 0:00:07 left",
    ]


def test_the_first_rate_is_no_burst_of_skipped_images() -> None:
    """Images a rerun skips in the first milliseconds make no rate ("- img/s", not
    thousands); after a second, the rate counts the images that took a request."""
    now = [0.0]
    progress = Progress(get_time=lambda: now[0])
    task_id = progress.add_task("caption", total=50)
    for moment in (0.0001, 0.0002):  # two images already in the results file
        now[0] = moment
        progress.update(task_id, advance=1)
    task = progress.tasks[0]
    assert RateColumn().render(task).plain == "- img/s"
    assert TimeLeftColumn().render(task).plain == "-:--:--"
    now[0] = 4.0
    progress.update(task_id, advance=2, worked=2)
    assert RateColumn().render(task).plain == "0.5 img/s"
    assert TimeLeftColumn().render(task).plain == "0:01:32"


def test_failures_name_ogv_flags_and_max_pixels_sets_the_limit(
    fake: FakeGemini, tmp_path: Path
) -> None:
    """An image over --max-pixels fails naming the flag (never ImagePolicy), before any
    request; a higher --max-pixels lets it through."""
    make_images(tmp_path / "photos", 2)  # 24x16 = 384 pixels each
    out = tmp_path / "out.jsonl"
    failed = caption(
        fake, str(tmp_path / "photos"), "-p", "x", "-o", str(out), "--max-pixels", "300"
    )
    assert failed.exit_code == 1, failed.output
    assert "over the limit of 300" in failed.stderr
    assert "raise --max-pixels" in failed.stderr
    assert "ImagePolicy" not in failed.stderr
    assert fake.requests == []
    again = caption(
        fake, str(tmp_path / "photos"), "-p", "x", "-o", str(out), "--max-pixels", "384"
    )
    assert again.exit_code == 0, again.output
    assert len(fake.requests) == 2
