"""The results file of `ogv caption`: reading what is done, repairing a torn tail, appending."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from openai_gemini_vision.caption.ledger import LedgerWriter, read_ledger, repair_tail


def _line(path: str, *, sha: str = "aa", error: str | None = None) -> str:
    record = {
        "path": path,
        "sha256": sha,
        "model": "m",
        "prompt": "p",
        "text": None if error else f"caption of {path}",
        "error": error,
    }
    return json.dumps(record) + "\n"


def test_read_skips_unreadable_lines_and_a_torn_tail(tmp_path: Path) -> None:
    """Lines that are not JSON objects are counted and ignored; the rest still count."""
    out = tmp_path / "r.jsonl"
    out.write_text(_line("a.png", sha="a") + "garbage\n[1, 2]\n" + _line("b.png", sha="b")[:20])
    answered = read_ledger(out)
    assert answered.paths == {("a.png", ("a", "p", "m"))}
    assert answered.unreadable == 3


def test_read_lets_a_later_success_win_over_a_failure(tmp_path: Path) -> None:
    """An image that failed once and succeeded on a rerun counts as answered."""
    out = tmp_path / "r.jsonl"
    out.write_text(_line("a.png", error="boom") + _line("a.png"))
    answered = read_ledger(out)
    assert ("a.png", ("aa", "p", "m")) in answered.paths
    assert answered.by_key[("aa", "p", "m")]["text"] == "caption of a.png"


def test_read_of_a_missing_file_is_empty(tmp_path: Path) -> None:
    """A first run starts from nothing."""
    answered = read_ledger(tmp_path / "none.jsonl")
    assert (answered.lines, answered.paths, answered.by_key) == (0, set(), {})


def test_repair_cuts_a_torn_last_line(tmp_path: Path) -> None:
    """A fragment after the last newline (a kill mid-write) is removed, nothing else."""
    out = tmp_path / "r.jsonl"
    whole = _line("a.png")
    out.write_text(whole + '{"path": "b.png", "sha')
    assert repair_tail(out) == len('{"path": "b.png", "sha')
    assert out.read_text() == whole


def test_repair_keeps_a_whole_last_line_without_newline(tmp_path: Path) -> None:
    """A complete JSON last line only gets its newline back."""
    out = tmp_path / "r.jsonl"
    out.write_text(_line("a.png") + _line("b.png").rstrip("\n"))
    assert repair_tail(out) == 0
    assert out.read_text() == _line("a.png") + _line("b.png")


def test_repair_of_a_file_that_is_one_torn_line(tmp_path: Path) -> None:
    """A torn first line leaves an empty file."""
    out = tmp_path / "r.jsonl"
    out.write_text('{"pa')
    assert repair_tail(out) == 4
    assert out.read_bytes() == b""


@pytest.mark.asyncio
async def test_writer_appends_one_whole_line_per_record(tmp_path: Path) -> None:
    """Many concurrent appends give exactly one parseable line each, after a torn tail."""
    out = tmp_path / "r.jsonl"
    out.write_text(_line("old.png") + '{"torn')
    writer = LedgerWriter(out)
    assert writer.cut_bytes == len('{"torn')
    await asyncio.gather(*(writer.append({"path": f"{n}.png", "n": n}) for n in range(200)))
    await writer.aclose()
    lines = out.read_text().splitlines()
    assert len(lines) == 201
    assert sorted(json.loads(line).get("n", -1) for line in lines) == list(range(-1, 200))


@pytest.mark.asyncio
async def test_writer_finishes_a_line_whose_caller_was_cancelled(tmp_path: Path) -> None:
    """Ctrl-C cancelling the task that asked for a write does not lose or tear the line."""
    out = tmp_path / "r.jsonl"
    writer = LedgerWriter(out)
    task = asyncio.create_task(writer.append({"path": "a.png", "text": "x" * 100_000}))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await writer.aclose()
    assert json.loads(out.read_text())["path"] == "a.png"
