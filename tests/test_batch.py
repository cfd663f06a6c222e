"""The batch package's parts on their own: lines, ids, states, the state file, the Files API client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from openai_gemini_vision import BatchStateError, FilesAPIError
from openai_gemini_vision.batch import (
    FilesAPI,
    RunState,
    ShardState,
    custom_id,
    enqueued_token_cap,
    files_endpoint,
    load_state,
    state_path,
)
from openai_gemini_vision.batch.build import request_line
from openai_gemini_vision.batch.jobs import normal_status
from openai_gemini_vision.batch.merge import answer_of
from openai_gemini_vision.batch.state import save_state

from .fakebatch import FakeBatchGemini
from .imaging import data_url, image_bytes

KEY = "test-key-parts-0123"


@pytest.fixture
def fake() -> Iterator[FakeBatchGemini]:
    """Gemini's Files API on loopback, listing two files a page."""
    with FakeBatchGemini(api_key=KEY, page_size=2) as server:
        yield server


def test_a_request_line_is_the_json_of_the_request() -> None:
    """Splicing the payload in gives exactly the compact JSON of the whole line, newline-ended."""
    url = data_url(image_bytes("PNG", 8, 8))
    prompt = 'Say "hé" \\ twice\n'
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": url, "detail": "low"}},
                {"type": "text", "text": prompt},
            ],
        }
    ]
    expected = {
        "custom_id": "id-1",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "m", "messages": json.loads(json.dumps(messages))},
    }
    line = b"".join(request_line("id-1", "m", messages))
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert json.loads(line) == expected


def test_custom_ids_tie_bytes_prompt_and_model() -> None:
    """The same image under another prompt or model is another request."""
    sha = "ab" * 32
    first = custom_id(sha, "Caption", "gemini-2.5-flash")
    assert first.startswith(sha + "-")
    assert first == custom_id(sha, "Caption", "gemini-2.5-flash")
    assert first != custom_id(sha, "Caption!", "gemini-2.5-flash")
    assert first != custom_id(sha, "Caption", "gemini-3-flash")


def test_states_in_either_spelling_and_caps_by_tier() -> None:
    """Gemini's native state names map to OpenAI's; the enqueued-token caps follow the tier."""
    assert normal_status("BATCH_STATE_SUCCEEDED") == "completed"
    assert normal_status("JOB_STATE_RUNNING") == "in_progress"
    assert normal_status("expired") == "expired"
    assert enqueued_token_cap("gemini-2.5-flash", 3) == 1_000_000_000
    assert enqueued_token_cap("gemini-3-flash-preview", 3) == 500_000_000
    assert enqueued_token_cap("gemini-2.5-flash-lite", 1) is None


def test_output_lines_in_each_shape_read_as_answer_or_error() -> None:
    """An answer, an error object, a non-2xx response and an empty answer each read right."""
    body = {"choices": [{"message": {"content": "A cat."}, "finish_reason": "stop"}]}
    assert answer_of({"response": {"status_code": 200, "body": body}})[0] == "A cat."
    failed = answer_of({"response": None, "error": {"code": "x", "message": "Bad line."}})
    assert failed[2] == "BatchRequestError: x: Bad line."
    refused = answer_of(
        {"response": {"status_code": 429, "body": [{"error": {"message": "Slow."}}]}}
    )
    assert refused[2] == "RateLimitError: Error code: 429 - Slow."
    empty = {"choices": [{"message": {"content": None}, "finish_reason": "SAFETY"}]}
    assert answer_of({"response": {"status_code": 200, "body": empty}})[2] == (
        "No text in the answer (SAFETY)."
    )


def test_the_state_file_round_trips_and_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    """Saved atomically (no temporary left), read back equal; a foreign file is refused by name."""
    out = tmp_path / "out.jsonl"
    state = RunState(
        run_id="r1",
        prompt="p",
        model="m",
        detail="auto",
        inputs=["photos"],
        max_enqueued_tokens=10,
        max_file_bytes=20,
        shards=[ShardState(index=0, display_name="d", requests=1, images=2, bytes=3, tokens=4)],
    )
    save_state(out, state)
    assert load_state(out) == state
    assert [p.name for p in tmp_path.iterdir()] == [state_path(out).name]
    state_path(out).write_text('{"version": 99}')
    with pytest.raises(BatchStateError, match="delete"):
        load_state(out)


def test_files_api_pages_downloads_and_deletes(fake: FakeBatchGemini, tmp_path: Path) -> None:
    """Uploads are found by display name across pages; downloads are whole; a second delete is a 404."""
    files = FilesAPI(files_endpoint(fake.base_url), KEY, backoff=0)
    with files:
        names = []
        for number in range(5):
            source = tmp_path / f"in{number}.jsonl"
            source.write_bytes(b'{"n": %d}\n' % number)
            names.append(files.upload(source, display_name=f"shard-{number}").name)
        found = files.find("shard-4")
        assert found is not None
        assert found.name == names[4]
        assert found.size == len(b'{"n": 4}\n')
        assert files.find("nope") is None
        target = tmp_path / "copy.jsonl"
        assert files.download(names[2], target) == len(b'{"n": 2}\n')
        assert target.read_bytes() == b'{"n": 2}\n'
        assert files.delete(names[2]) is True
        assert files.delete(names[2]) is False
        assert repr(files).startswith("FilesAPI(http://127.0.0.1:")
        assert KEY not in repr(files)
    listings = [entry for entry in fake.log if entry["path"].startswith("/v1beta/files?")]
    assert any("pageToken=" in entry["path"] for entry in listings)


def test_a_wrong_key_is_a_files_api_error_naming_the_variable(
    fake: FakeBatchGemini, tmp_path: Path
) -> None:
    """The Files API refusing the key says which variable to check, and does not echo the key."""
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"{}\n")
    files = FilesAPI(files_endpoint(fake.base_url), "wrong-key-123456", backoff=0)
    with files, pytest.raises(FilesAPIError, match="GEMINI_API_KEY") as caught:
        files.upload(source, display_name="x")
    assert "wrong-key-123456" not in str(caught.value)
