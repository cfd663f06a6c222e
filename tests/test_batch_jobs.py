"""The request shapes of batch captioning, replayed from hand-written cassettes (re-recordable).

Upload (the two-request resumable protocol), then `batches.create`, `retrieve` and
`cancel` through the OpenAI client, then the file deleted: what a run sends Gemini, and
the answers it must understand. With a key, `GEMINI_API_KEY=... pytest --record-mode=rewrite`
records them from the live service (the job is cancelled at once and its file deleted).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from openai_gemini_vision import OpenAI, prepare_messages
from openai_gemini_vision.batch import FilesAPI, Jobs
from openai_gemini_vision.batch.build import custom_id, request_line
from openai_gemini_vision.batch.jobs import ACTIVE, TERMINAL
from openai_gemini_vision.caption import caption_messages

from .imaging import image_bytes

MODEL = "gemini-2.5-flash"


@pytest.fixture
def client(gemini_key: str) -> Iterator[OpenAI]:
    """The drop-in client on Gemini's own endpoint (replayed unless re-recording)."""
    with OpenAI(api_key=gemini_key, max_retries=0) as made:
        yield made


@pytest.mark.vcr
def test_upload_submit_follow_cancel_and_delete(client: OpenAI, tmp_path: Path) -> None:
    """One caption request goes up as JSONL, becomes a job, is followed, cancelled, cleaned up."""
    data = image_bytes("PNG", 16, 12)
    prepared = prepare_messages(
        caption_messages(data, "One-line caption", "photo.jpg"), model=MODEL
    )
    identifier = custom_id("0" * 64, "One-line caption", MODEL)
    jsonl = tmp_path / "shard-0000.jsonl"
    jsonl.write_bytes(b"".join(request_line(identifier, MODEL, prepared.messages)))
    with FilesAPI.for_client(client, backoff=0) as files:
        uploaded = files.upload(jsonl, display_name="ogv-batch-cassette-0000")
        assert uploaded.name.startswith("files/")
        jobs = Jobs(client)
        job = jobs.create(uploaded.name)
        assert job.status in ACTIVE | TERMINAL
        followed = jobs.retrieve(job.id)
        assert followed.id == job.id
        stopped = jobs.cancel(job.id)
        assert stopped.status in {"cancelling", "cancelled", "completed", "failed"}
        assert files.delete(uploaded.name) is True
