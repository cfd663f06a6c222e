"""A real `ogv caption --batch` killed (SIGKILL) at each step, then run again: nothing twice, nothing lost.

The process is stopped dead at a named step by the `OGV_BATCH_PAUSE_AT` hook (it prints a
line and blocks), so the kill lands exactly there, without sleeps; the fake keeps what the
killed process did on Gemini's side (uploads, jobs), as the real service would.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from openai_gemini_vision.batch import load_state, work_dir
from openai_gemini_vision.batch.state import PAUSE_VARIABLE

from .clirunner import run_ogv
from .fakebatch import FakeBatchGemini
from .imaging import photo_files

KEY = "test-key-kill"
# Each request of these images is estimated at about 260 tokens: three fit under 800, so
# six images make two shards, and the budget lets one job run at a time.
BUDGET = "800"
FLAGS = ["--batch", "--yes", "--poll-interval", "0.01", "--max-enqueued-tokens", BUDGET]


def _ogv(
    fake: FakeBatchGemini, out: Path, *args: str, pause: str | None = None
) -> subprocess.Popen[str]:
    """A real `ogv caption --batch` process, as a user starts it."""
    env = {**os.environ, "GEMINI_API_KEY": KEY, "GEMINI_BASE_URL": fake.base_url}
    env.pop(PAUSE_VARIABLE, None)
    if pause:
        env[PAUSE_VARIABLE] = pause
    command = [sys.executable, "-m", "openai_gemini_vision", "caption", *args, "-o", str(out)]
    command += FLAGS
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _kill_when_paused(process: subprocess.Popen[str]) -> str:
    """Wait for the pause line on stderr, then SIGKILL; returns what stderr said."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        return _until_paused(process, lines)
    finally:
        process.kill()
        process.wait(timeout=30)
        reader.join(timeout=30)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def _until_paused(process: subprocess.Popen[str], lines: queue.Queue[str | None]) -> str:
    said = []
    while True:
        try:
            line = lines.get(timeout=60)
        except queue.Empty:
            raise AssertionError("no pause within 60 s:\n" + "".join(said)) from None
        if line is None:
            process.wait(timeout=30)
            raise AssertionError(f"ended ({process.returncode}) before pausing:\n" + "".join(said))
        said.append(line)
        if f"({PAUSE_VARIABLE})" in line:
            process.send_signal(signal.SIGKILL)
            assert process.wait(timeout=30) == -signal.SIGKILL
            return "".join(said)


def _images(folder: Path, count: int) -> list[Path]:
    return photo_files(folder, count)


@pytest.mark.parametrize(
    ("step", "rerun"),
    [
        ("build:4", "same"),  # mid-build: shard 0 written, shard 1 half
        ("upload", "same"),  # the file is on the server, its name not yet saved
        ("create", "same"),  # the job exists, its id not yet saved
        ("wait:2", "resume"),  # waiting on the first job
        ("merge:2", "same"),  # two of a shard's three lines written
        ("cleanup:2", "resume"),  # the second shard merged, its files not yet deleted
    ],
)
def test_killed_at_a_step_then_rerun(step: str, rerun: str, tmp_path: Path) -> None:
    """Killed at `step` and run again: one job per shard, each image exactly once, files gone."""
    images = _images(tmp_path / "photos", 6)
    out = tmp_path / "out.jsonl"
    args = (str(tmp_path / "photos"), "-p", "Caption")
    with FakeBatchGemini(api_key=KEY) as fake:
        _kill_when_paused(_ogv(fake, out, *args, pause=step))
        # The rerun in-process: only the killed run needs to be a process of its own.
        again = run_ogv(
            ["caption", *(args if rerun == "same" else ("--resume",)), "-o", str(out), *FLAGS],
            env={"GEMINI_API_KEY": KEY, "GEMINI_BASE_URL": fake.base_url},
        )
        assert again.exit_code == 0, again.output
        assert len(fake.created) == 2, fake.created  # one job per shard
        assert all(len(fake.jobs_on(name)) == 1 for name in fake.created)
        assert len(fake.uploads) == 2  # a finished upload is found again, not repeated
        assert fake.files == {}
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(line["path"] for line in lines) == sorted(map(str, images))
    assert all(line["error"] is None and line["text"] for line in lines)
    assert load_state(out).phase == "done"  # type: ignore[union-attr]
    assert not work_dir(out).exists()
