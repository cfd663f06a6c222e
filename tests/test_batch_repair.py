"""Batch request lines as `prepare_messages` makes them, and shards torn by a crash rebuilt."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import openai_gemini_vision as ogv_lib
from openai_gemini_vision import ImagePolicy, prepare_messages
from openai_gemini_vision.batch import BatchRun, work_dir
from openai_gemini_vision.batch.build import custom_id, prepared_line
from openai_gemini_vision.caption.captioner import caption_messages
from openai_gemini_vision.errors import BatchStateError, CorruptImageError

from .fakebatch import FakeBatchGemini
from .imaging import encode, photo, photo_files

MODEL = "gemini-2.5-flash"


@pytest.fixture
def fake(gemini_key: str) -> Iterator[FakeBatchGemini]:
    """Gemini's Files API and batch endpoints on loopback."""
    with FakeBatchGemini(api_key=gemini_key) as server:
        yield server


def _online_line(path: str, data: bytes, prompt: str, policy: ImagePolicy | None) -> bytes:
    """The line as json.dumps writes it from what online captioning sends."""
    prepared = prepare_messages(caption_messages(data, prompt, path), model=MODEL, policy=policy)
    line = {
        "custom_id": custom_id(hashlib.sha256(data).hexdigest(), prompt, MODEL),
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": MODEL, "messages": prepared.messages},
    }
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


@pytest.mark.parametrize(
    ("kind", "size", "policy"),
    [
        ("JPEG", (64, 48), None),  # sent as it is
        ("PNG", (40, 30), None),
        ("GIF", (20, 20), None),  # converted: Gemini takes no GIF
        ("JPEG", (600, 400), ImagePolicy(detail="low")),  # downscaled
        ("WEBP", (30, 30), ImagePolicy(max_request_bytes=400_000)),
    ],
)
@pytest.mark.parametrize(
    "prompt", ["One-line caption", 'Say "hé" \\ twice\n\t</script> \u2028 🙂', "data:x;base64,"]
)
def test_a_spliced_line_is_byte_for_byte_the_json_of_the_online_request(
    kind: str, size: tuple[int, int], policy: ImagePolicy | None, prompt: str
) -> None:
    """The build's line, payload spliced in, equals json.dumps of prepare_messages' output."""
    data = encode(photo(*size, seed=7), kind)
    path = f"/photos/a {kind}.img"
    pieces, tokens, manifest = prepared_line(
        path, data, hashlib.sha256(data).hexdigest(), prompt=prompt, model=MODEL, policy=policy
    )
    assert b"".join(pieces) == _online_line(path, data, prompt, policy)
    online = prepare_messages(caption_messages(data, prompt, path), model=MODEL, policy=policy)
    assert tokens == online.estimate.total_tokens
    assert manifest["changes"] == [c for image in online.images for c in image.changes]


def test_a_truncated_jpeg_is_refused_with_the_online_words() -> None:
    """A cut-off JPEG is refused by the build exactly as online refuses it."""
    data = encode(photo(64, 48, seed=3), "JPEG")[:-300]
    with pytest.raises(CorruptImageError) as online:
        prepare_messages(caption_messages(data, "Caption", "cut.jpg"), model=MODEL)
    with pytest.raises(CorruptImageError) as built:
        prepared_line("cut.jpg", data, "0" * 64, prompt="Caption", model=MODEL, policy=None)
    assert str(built.value) == str(online.value)
    assert "truncated or damaged" in str(built.value)


def _built_run(fake: FakeBatchGemini, tmp_path: Path, count: int) -> tuple[BatchRun, list[Path]]:
    """A run built over `count` small JPEGs, two requests a shard, not yet confirmed."""
    paths = photo_files(tmp_path / "photos", count, fmt="JPEG", size=(32, 24), name="p")
    client = ogv_lib.OpenAI(api_key=fake.api_key, base_url=fake.base_url)
    run = BatchRun(tmp_path / "out.jsonl", client=client, own_client=True)
    state = run.start(
        [str(p) for p in paths], prompt="Caption", model=MODEL, inputs=[], max_file_bytes=4000
    )
    assert len(state.shards) >= 2
    return run, paths


def test_the_state_records_each_shards_size_and_crc(fake: FakeBatchGemini, tmp_path: Path) -> None:
    """Every shard built is recorded with the size and CRC-32 of its file."""
    import zlib

    run, _ = _built_run(fake, tmp_path, 4)
    assert run.state is not None
    for shard in run.state.shards:
        data = (work_dir(run.out) / shard.jsonl).read_bytes()
        assert (shard.bytes, shard.crc32) == (len(data), zlib.crc32(data))
    run.close()


@pytest.mark.parametrize("damage", ["cut", "zeros", "gone"])
def test_a_shard_torn_by_a_crash_is_rebuilt_before_it_is_uploaded(
    fake: FakeBatchGemini, tmp_path: Path, damage: str
) -> None:
    """A shard file cut short, zeroed or missing after a crash is uploaded as it was built."""
    run, _ = _built_run(fake, tmp_path, 4)
    assert run.state is not None
    shard = run.state.shards[1]
    target = work_dir(run.out) / shard.jsonl
    built = target.read_bytes()
    if damage == "cut":
        target.write_bytes(built[: len(built) // 2])
    elif damage == "zeros":
        target.write_bytes(b"\0" * len(built))
    else:
        target.unlink()
    events: list[str] = []
    run.on_event = events.append
    sent: dict[str, bytes] = {}
    upload = run.files.upload

    def spy(path: Path, *, display_name: str) -> object:
        sent[display_name] = Path(path).read_bytes()  # what leaves, as it leaves
        return upload(path, display_name=display_name)

    run.files.upload = spy  # type: ignore[method-assign]
    run.confirm()
    run.wait(poll_interval=0)
    assert sent[shard.display_name] == built
    assert len(sent) == len(run.state.shards)
    assert any("torn" in event for event in events)
    run.close()


def test_a_torn_shard_whose_image_changed_is_refused_by_name(
    fake: FakeBatchGemini, tmp_path: Path
) -> None:
    """When a torn shard's image changed since the build, nothing is uploaded; the fix is named."""
    run, _ = _built_run(fake, tmp_path, 4)
    assert run.state is not None
    shard = run.state.shards[0]
    (work_dir(run.out) / shard.jsonl).write_bytes(b"")
    manifest = (work_dir(run.out) / shard.manifest).read_text().splitlines()
    changed = json.loads(manifest[0])["path"]
    Path(changed).write_bytes(encode(photo(32, 24, seed=99), "JPEG"))
    run.confirm()
    with pytest.raises(BatchStateError) as refused:
        run.advance()
    message = str(refused.value)
    assert changed in message
    assert "changed since the build" in message
    assert f"ogv batch cancel {run.out}" in message
    assert fake.files == {}
    assert not list(work_dir(run.out).glob("*.rebuild"))
    run.close()
