"""`ogv caption --batch` against loopback fakes: same lines as online, shards, failures, resume."""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

import openai_gemini_vision as ogv_lib
from openai_gemini_vision.batch import BatchRun, FilesAPI, load_state, state_path, work_dir

from .clirunner import run_ogv
from .fakebatch import FakeBatchGemini
from .fakegemini import FakeGemini, images_in
from .imaging import photo_files

# The `batch` command shadows its module's name on the package.
cli_batch = importlib.import_module("openai_gemini_vision.cli.batch")

# Every run here has a key in GEMINI_API_KEY, as a user would set it.
pytestmark = pytest.mark.usefixtures("key")


@pytest.fixture
def fake(key: str) -> Iterator[FakeBatchGemini]:
    """Gemini's Files API and batch endpoints on loopback, taking only the test key."""
    with FakeBatchGemini(api_key=key) as server:
        yield server


def make_images(folder: Path, count: int, *, start: int = 0) -> list[Path]:
    """`count` distinct small PNGs in `folder`."""
    return photo_files(folder, count, start=start)


def lines(out: Path) -> list[dict[str, Any]]:
    """Every line of a results file."""
    return [json.loads(line) for line in out.read_text().splitlines()]


def batch(fake: FakeBatchGemini, *args: str, input: str | None = None) -> Result:
    """`ogv caption ... --batch` against the fake, polling without delay."""
    return run_ogv(
        ["caption", *args, "--batch", "--base-url", fake.base_url, "--poll-interval", "0"],
        input=input,
    )


def test_a_batch_run_writes_the_same_lines_as_online(fake: FakeBatchGemini, tmp_path: Path) -> None:
    """Same folder, same prompt: the batch results file reads as the online one, plus `batch`."""
    images = make_images(tmp_path / "photos", 5)
    (tmp_path / "photos" / "copy.png").write_bytes(images[2].read_bytes())
    (tmp_path / "photos" / "notes.txt").write_text("not an image")
    # A damaged image: both modes write its error line at once, in the same words.
    (tmp_path / "photos" / "cut.png").write_bytes(images[0].read_bytes()[:60])
    online, offline = tmp_path / "online.jsonl", tmp_path / "batch.jsonl"
    with FakeGemini() as chat:
        result = run_ogv(
            [
                "caption",
                str(tmp_path / "photos"),
                "-p",
                "Caption",
                "-o",
                str(online),
                "--base-url",
                chat.base_url,
            ],
        )
    assert result.exit_code == 1, result.output  # one image failed
    result = batch(fake, str(tmp_path / "photos"), "-p", "Caption", "-o", str(offline), "--yes")
    assert result.exit_code == 1, result.output
    by_path = {line["path"]: line for line in lines(online)}
    batched = lines(offline)
    assert sorted(line["path"] for line in batched) == sorted(by_path)
    for line in batched:
        tag = line.pop("batch")
        # The damaged image's line is written while building, before any job.
        cut = line["path"].endswith("cut.png")
        assert tag["job"] is None if cut else tag["job"] in fake.batches
        assert line == by_path[line["path"]]
    assert fake.files == {}  # inputs and outputs deleted once merged
    assert load_state(offline).phase == "done"  # type: ignore[union-attr]
    assert not work_dir(offline).exists()
    assert "5 answered now" not in result.stderr
    assert "6 answered now" in result.stderr


def test_the_request_lines_are_openai_batch_lines(fake: FakeBatchGemini, tmp_path: Path) -> None:
    """Each uploaded line is OpenAI's batch format with the image inline, ids by sha256."""
    (image,) = make_images(tmp_path, 1)
    out = tmp_path / "out.jsonl"
    result = batch(fake, str(image), "-p", "Caption", "-o", str(out), "--yes", "--no-wait")
    assert result.exit_code == 0, result.output
    (stored,) = fake.files.values()
    (line,) = [json.loads(raw) for raw in stored["data"].splitlines()]
    assert line["method"] == "POST"
    assert line["url"] == "/v1/chat/completions"
    assert line["custom_id"] == ogv_lib.batch.custom_id(
        lines_sha(image), "Caption", "gemini-2.5-flash"
    )
    assert line["body"]["model"] == "gemini-2.5-flash"
    assert images_in(line["body"]) == [("image/png", image.read_bytes())]
    assert line["body"]["messages"][0]["content"][1] == {"type": "text", "text": "Caption"}
    assert stored["displayName"].startswith("ogv-batch-")


def lines_sha(path: Path) -> str:
    """sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_shards_stay_under_the_file_limit_and_the_token_budget(
    fake: FakeBatchGemini, tmp_path: Path
) -> None:
    """A small file limit cuts several shards; the token budget keeps one job running at a time."""
    images = make_images(tmp_path / "photos", 6)
    out = tmp_path / "out.jsonl"
    limit = 4_000  # about two requests of these images
    result = batch(
        fake, str(tmp_path / "photos"), "-p", "C", "-o", str(out), "--yes",
        "--max-file-bytes", str(limit), "--max-enqueued-tokens", "600",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(fake.created) == 3
    assert fake.max_active == 1  # two shards' tokens (~520 each) never enqueued together
    sizes = [len(fake.batches[job]["_requests"]) for job in fake.batches]
    assert sizes == [2, 2, 2]
    assert sorted(line["path"] for line in lines(out)) == sorted(map(str, images))
    assert all(line["error"] is None for line in lines(out))


def test_one_request_over_the_budget_is_refused_by_name(
    fake: FakeBatchGemini, tmp_path: Path
) -> None:
    """A budget smaller than one request names the image and the flag, and sends nothing."""
    (image,) = make_images(tmp_path, 1)
    out = tmp_path / "out.jsonl"
    result = batch(fake, str(image), "-p", "C", "-o", str(out), "--max-enqueued-tokens", "10")
    assert result.exit_code == 1
    assert "--max-enqueued-tokens" in result.stderr
    assert image.name in result.stderr
    assert fake.log == []


def test_an_expired_job_is_reported_and_its_images_can_be_retried(
    fake: FakeBatchGemini, tmp_path: Path
) -> None:
    """Expired: an error line per image with the reason; --retry-failed sends them again."""
    images = make_images(tmp_path / "photos", 3)
    out = tmp_path / "out.jsonl"
    fake.final = "expired"
    first = batch(fake, str(tmp_path / "photos"), "-p", "C", "-o", str(out), "--yes")
    assert first.exit_code == 1, first.output
    assert "did not finish within its 24-hour window" in first.stderr
    assert [line["error"] is not None for line in lines(out)] == [True] * 3
    assert "--retry-failed" in lines(out)[0]["error"]
    fake.final = "completed"
    again = batch(fake, str(tmp_path / "photos"), "-p", "C", "-o", str(out), "--yes")
    assert again.exit_code == 0, again.output
    assert "3 failed earlier (add --retry-failed" in again.stderr
    assert len(fake.created) == 1  # nothing sent without the flag
    retried = batch(
        fake, str(tmp_path / "photos"), "-p", "C", "-o", str(out), "--yes", "--retry-failed"
    )
    assert retried.exit_code == 0, retried.output
    assert len(fake.created) == 2
    answers = [line for line in lines(out) if line["error"] is None]
    assert sorted(line["path"] for line in answers) == sorted(map(str, images))


def test_a_failed_job_carries_geminis_reason(fake: FakeBatchGemini, tmp_path: Path) -> None:
    """A job that failed gives every image an error line quoting why."""
    make_images(tmp_path / "photos", 2)
    out = tmp_path / "out.jsonl"
    fake.final = "failed"
    result = batch(fake, str(tmp_path / "photos"), "-p", "C", "-o", str(out), "--yes")
    assert result.exit_code == 1, result.output
    errors = [line["error"] for line in lines(out)]
    assert len(errors) == 2
    assert all("The input file is not valid JSONL" in error for error in errors)


def test_output_lines_missing_or_refused_become_error_lines(
    fake: FakeBatchGemini, tmp_path: Path
) -> None:
    """A request the output leaves out, or answers with a 400, gets an error line; others answers."""
    images = make_images(tmp_path / "photos", 4)
    dropped, refused = images[1].read_bytes(), images[2].read_bytes()
    fake.drop = lambda body: images_in(body)[0][1] == dropped
    fake.reject = lambda body: images_in(body)[0][1] == refused
    out = tmp_path / "out.jsonl"
    result = batch(fake, str(tmp_path / "photos"), "-p", "C", "-o", str(out), "--yes")
    assert result.exit_code == 1, result.output
    by_path = {line["path"]: line for line in lines(out)}
    assert len(by_path) == 4 == len(lines(out))
    assert "returned no answer for this image" in by_path[str(images[1])]["error"]
    assert by_path[str(images[2])]["error"].startswith(
        "BadRequestError: Error code: 400 - 400 INVALID_ARGUMENT: Provided image is not valid."
    )
    assert by_path[str(images[0])]["error"] is None
    assert "output had no line for 1 request(s)" in result.stderr


def test_no_wait_then_status_then_resume(fake: FakeBatchGemini, tmp_path: Path) -> None:
    """--no-wait submits and exits; status lists the jobs; --resume collects the answers."""
    images = make_images(tmp_path / "photos", 4)
    out = tmp_path / "out.jsonl"
    submitted = batch(
        fake, str(tmp_path / "photos"), "-p", "C", "-o", str(out), "--yes", "--no-wait",
        "--max-enqueued-tokens", "600",
    )  # fmt: skip
    assert submitted.exit_code == 0, submitted.output
    assert "1 of 2 job(s) under way" in submitted.stderr
    assert not out.read_text()
    status = run_ogv(["batch", "status", str(out), "--base-url", fake.base_url])
    assert status.exit_code == 0, status.output
    assert f"job {fake.jobs_on(fake.created[0])[0]}" in status.stdout
    assert "shard 1: built" in status.stdout
    resumed = run_ogv(
        [
            "caption",
            "--batch",
            "--resume",
            "-o",
            str(out),
            "--base-url",
            fake.base_url,
            "--poll-interval",
            "0",
        ],
    )
    assert resumed.exit_code == 0, resumed.output
    assert sorted(line["path"] for line in lines(out)) == sorted(map(str, images))
    assert len(fake.created) == 2


def test_cancel_stops_jobs_and_drops_what_was_not_submitted(
    fake: FakeBatchGemini, tmp_path: Path
) -> None:
    """Cancel: the running job ends cancelled (error lines), the waiting shard is never sent."""
    make_images(tmp_path / "photos", 4)
    out = tmp_path / "out.jsonl"
    args = [str(tmp_path / "photos"), "-p", "C", "-o", str(out), "--yes"]
    submitted = batch(fake, *args, "--no-wait", "--max-enqueued-tokens", "600")
    assert submitted.exit_code == 0, submitted.output
    stopped = run_ogv(["batch", "cancel", str(out), "--base-url", fake.base_url])
    assert stopped.exit_code == 0, stopped.output
    (job,) = fake.batches.values()
    assert job["status"] == "cancelling"
    resumed = batch(fake, "--resume", "-o", str(out))
    assert resumed.exit_code == 1, resumed.output
    assert len(fake.created) == 1
    cancelled = lines(out)
    assert len(cancelled) == 2
    assert all("the job was cancelled" in line["error"] for line in cancelled)
    assert fake.files == {}
    later = batch(fake, *args)  # the two never sent go in a new run
    assert later.exit_code == 0, later.output
    assert len(fake.created) == 2
    assert len(lines(out)) == 4


def test_nothing_is_sent_without_confirmation(
    fake: FakeBatchGemini, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No --yes: the plan is shown and asked about on a terminal, refused elsewhere."""
    make_images(tmp_path / "photos", 2)
    out = tmp_path / "out.jsonl"
    args = (str(tmp_path / "photos"), "-p", "C", "-o", str(out))
    refused = batch(fake, *args)
    assert refused.exit_code == 2, refused.output
    assert "--yes" in refused.stderr
    assert "Estimated input: " in refused.stderr
    assert fake.log == []
    monkeypatch.setattr(cli_batch, "_interactive", lambda: True)
    declined = batch(fake, *args, input="n\n")
    assert declined.exit_code == 0, declined.output
    assert "Send 2 requests to Gemini's Batch API?" in declined.stderr
    assert fake.log == []
    accepted = batch(fake, *args, input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert len(lines(out)) == 2


def test_another_prompt_while_a_run_is_under_way_is_refused(
    fake: FakeBatchGemini, tmp_path: Path
) -> None:
    """A second run on the same results file must finish or cancel the first."""
    make_images(tmp_path / "photos", 1)
    out = tmp_path / "out.jsonl"
    first = batch(fake, str(tmp_path / "photos"), "-p", "A", "-o", str(out), "--yes", "--no-wait")
    assert first.exit_code == 0, first.output
    other = batch(fake, str(tmp_path / "photos"), "-p", "B", "-o", str(out), "--yes")
    assert other.exit_code == 1
    assert "ogv batch cancel" in other.stderr
    assert "--resume" in other.stderr


def test_usage_errors(fake: FakeBatchGemini, tmp_path: Path) -> None:
    """Batch flags without --batch, or --resume with no run, exit 2 naming the fix."""
    make_images(tmp_path / "photos", 1)
    out = tmp_path / "out.jsonl"
    no_batch = run_ogv(
        ["caption", str(tmp_path / "photos"), "-p", "x", "-o", str(out), "--no-wait"]
    )
    assert no_batch.exit_code == 2
    assert "--no-wait only applies with --batch" in no_batch.stderr
    no_run = batch(fake, "--resume", "-o", str(out))
    assert no_run.exit_code == 2
    assert "No batch run to resume" in no_run.stderr
    no_prompt = batch(fake, str(tmp_path / "photos"), "-o", str(out))
    assert no_prompt.exit_code == 2
    assert "--prompt" in no_prompt.stderr


def test_a_failed_upload_is_retried_and_a_lasting_one_loses_nothing(
    fake: FakeBatchGemini, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A 503 on upload is retried; when it lasts, the run stops and the rerun sends once."""
    images = make_images(tmp_path / "photos", 2)
    out = tmp_path / "out.jsonl"
    client = ogv_lib.OpenAI(base_url=fake.base_url)
    files = FilesAPI.for_client(client, backoff=0)
    request.addfinalizer(files.close)
    request.addfinalizer(client.close)
    run = BatchRun(out, client=client, files=files)
    with run.locked():
        run.start(list(map(str, images)), prompt="C", model="gemini-2.5-flash", inputs=[])
        run.confirm()
        fake.fail_uploads = 1
        run.advance()
        assert len(fake.uploads) == 1
        assert len(fake.created) == 1
        assert run.wait(poll_interval=0).finished
    assert len(lines(out)) == 2
    images += make_images(tmp_path / "photos", 1, start=5)
    run = BatchRun(out, client=client, files=files)
    with run.locked():
        run.start(list(map(str, images)), prompt="C", model="gemini-2.5-flash", inputs=[])
        run.confirm()
        fake.fail_uploads = 10
        with pytest.raises(ogv_lib.FilesAPIError, match="503 The service is currently unavailable"):
            run.advance()
        assert len(fake.created) == 1
        fake.fail_uploads = 0
        assert run.wait(poll_interval=0).finished
    assert len(fake.created) == 2
    assert sorted(line["path"] for line in lines(out)) == sorted(map(str, images))


def test_the_key_and_upload_addresses_never_reach_disk_or_logs(
    fake: FakeBatchGemini, key: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """State, shards and logs hold no key and no upload id; the Files API gets the key as a header."""
    make_images(tmp_path / "photos", 2)
    out = tmp_path / "out.jsonl"
    caplog.set_level(logging.DEBUG)
    result = batch(fake, str(tmp_path / "photos"), "-p", "C", "-o", str(out), "--yes", "--no-wait")
    assert result.exit_code == 0, result.output
    upload_ids = [
        entry["path"].split("upload_id=")[1].split("&")[0]
        for entry in fake.log
        if "upload_id=" in entry["path"]
    ]
    assert upload_ids
    written = state_path(out).read_text() + "".join(
        path.read_text(errors="replace") for path in work_dir(out).iterdir()
    )
    for secret in [key, *upload_ids]:
        assert secret not in written
        assert secret not in caplog.text
        assert secret not in result.output
    assert "upload_id=<hidden>" in caplog.text
    files_calls = [entry for entry in fake.log if "/openai/" not in entry["path"]]
    assert all(entry["headers"].get("x-goog-api-key") == key for entry in files_calls)
    assert all("key=" not in entry["path"] for entry in fake.log)


def test_the_files_api_is_found_beside_the_base_url() -> None:
    """The Files API root and version come from the chat base URL; a URL without them is refused."""
    from openai_gemini_vision.batch import files_endpoint

    google = files_endpoint("https://generativelanguage.googleapis.com/v1beta/openai/")
    assert google.upload_url == "https://generativelanguage.googleapis.com/upload/v1beta/files"
    assert google.download_url("files/abc") == (
        "https://generativelanguage.googleapis.com/download/v1beta/files/abc:download?alt=media"
    )
    proxied = files_endpoint("http://127.0.0.1:8080/gemini/v1/openai")
    assert proxied.list_url == "http://127.0.0.1:8080/gemini/v1/files"
    with pytest.raises(ogv_lib.InvalidArgumentError, match="GEMINI_BASE_URL"):
        files_endpoint("https://example.com/api/?key=secret")
