"""openai_gemini_vision.testing: cassettes that keep no key and store images as digests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
import vcr
import yaml
from vcr.errors import CannotOverwriteExistingCassetteException
from vcr.request import Request

from openai_gemini_vision import testing
from openai_gemini_vision.images.prepared import payload_placeholder

from .imaging import data_url

KEY = (
    "AIza" + "K" * 35
)  # shaped like a Google key, so a leak would be caught by test_key_hygiene_cassettes
PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40  # bytes only: the recorder never decodes
OTHER = b"\xff\xd8\xff\xe0" + bytes(range(255, -1, -1)) * 40


def chat_body(*images: bytes, text: str = "What is in these pictures?") -> bytes:
    """A chat-completions request body holding `images`, as openai serializes it."""
    content: list[dict[str, Any]] = [{"type": "text", "text": text}]
    content += [
        {"type": "image_url", "image_url": {"url": data_url(i, "image/jpeg")}} for i in images
    ]
    body = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": content}]}
    return json.dumps(body, separators=(",", ":")).encode()


def request(body: bytes | None) -> Request:
    """A vcrpy request to Gemini's chat endpoint."""
    return Request(
        "POST",
        "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions",
        body,
        {"content-type": "application/json"},
    )


def test_images_become_placeholders_with_size_and_digest() -> None:
    """Every base64 image in a body is stored as its type, byte count and sha256 prefix."""
    shrunk = testing.shrink_images(chat_body(PHOTO, OTHER))
    assert isinstance(shrunk, bytes)
    parts = json.loads(shrunk)["messages"][0]["content"]
    assert parts[1]["image_url"]["url"] == payload_placeholder("image/jpeg", PHOTO)
    assert parts[2]["image_url"]["url"] == payload_placeholder("image/jpeg", OTHER)
    assert parts[0] == {"type": "text", "text": "What is in these pictures?"}
    assert "10,244 bytes sha256:" in parts[1]["image_url"]["url"]
    assert len(shrunk) < 400 < len(chat_body(PHOTO, OTHER)) // 50


def test_bodies_without_images_stay_byte_for_byte() -> None:
    """A body with no data URL, or that is not JSON, is left exactly as sent."""
    plain = b'{"model": "m",  "messages": [{"role": "user", "content": "hi"}]}'
    assert testing.shrink_images(plain) is plain
    assert testing.shrink_images(b"\x00not json") == b"\x00not json"
    assert testing.shrink_images(None) is None
    broken = json.dumps({"url": "data:image/png;base64,@@@"}).encode()
    assert testing.shrink_images(broken) == broken


def test_shrinking_twice_changes_nothing() -> None:
    """Recorded bodies are shrunk again when loaded, so a placeholder must survive it."""
    once = testing.shrink_images(chat_body(PHOTO))
    assert testing.shrink_images(once) is once


def test_matcher_matches_images_by_digest() -> None:
    """A live request with full base64 matches a recorded one holding its placeholder."""
    recorded = testing.before_record_request(request(chat_body(PHOTO)))
    testing.image_body(request(chat_body(PHOTO)), recorded)
    with pytest.raises(AssertionError, match=r"\['url'\]: '<image/jpeg 10,244 bytes sha256:"):
        testing.image_body(request(chat_body(OTHER)), recorded)


def test_matcher_names_the_first_difference_outside_images() -> None:
    """A body differing in its text fails with the path of the difference, not a wall of JSON."""
    recorded = request(chat_body(PHOTO, text="Describe it"))
    with pytest.raises(AssertionError, match=r"\['content'\]\[0\]\['text'\]: 'Count them'"):
        testing.image_body(request(chat_body(PHOTO, text="Count them")), recorded)


def test_config_filters_credentials_and_cookies() -> None:
    """vcr_config() drops key headers, the `key` query and cookies, and names the matcher."""
    config = testing.vcr_config()
    assert {"authorization", "x-goog-api-key", "cookie"} <= set(config["filter_headers"])
    assert "key" in config["filter_query_parameters"]
    assert testing.BODY_MATCHER in config["match_on"]
    response = {"headers": {"Set-Cookie": ["a=b"], "Content-Type": ["application/json"]}}
    assert testing.before_record_response(response)["headers"] == {
        "Content-Type": ["application/json"]
    }
    assert testing.vcr_config(match_on=("method",))["match_on"] == ("method",)


def _recording_client(
    http_client: httpx2.Client, api_key: str = KEY, base_url: str | None = None
) -> openai.OpenAI:
    return openai.OpenAI(
        api_key=api_key,
        base_url=base_url or "https://generativelanguage.googleapis.com/v1beta/openai/",
        http_client=http_client,
        max_retries=0,
    )


def _answer(request: httpx2.Request) -> httpx2.Response:
    body = {
        "id": "r1",
        "object": "chat.completion",
        "created": 1,
        "model": "gemini-2.5-flash",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": "A photo."},
            }
        ],
    }
    return httpx2.Response(200, json=body, headers={"set-cookie": "NID=secret-cookie"})


def _ask(client: openai.OpenAI, image: bytes) -> str | None:
    completion = client.chat.completions.create(
        model="gemini-2.5-flash",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": data_url(image, "image/jpeg")}},
                ],
            }
        ],
    )
    return completion.choices[0].message.content


def _vcr(tmp_path: Path, record_mode: str, monkeypatch: pytest.MonkeyPatch) -> vcr.VCR:
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    recorder = vcr.VCR(cassette_library_dir=str(tmp_path), record_mode=record_mode)
    testing.register(recorder)
    return recorder


def test_recorded_cassette_is_small_readable_and_keyless(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recording a request with two photos writes placeholders, and no key or cookie anywhere."""
    recorder = _vcr(tmp_path, "once", monkeypatch)
    with (
        httpx2.Client(transport=httpx2.MockTransport(_answer)) as http,
        recorder.use_cassette("photo.yaml", **testing.vcr_config()),
    ):
        client = _recording_client(http, base_url=None)
        assert _ask(client, PHOTO) == "A photo."
    text = (tmp_path / "photo.yaml").read_text()
    assert KEY not in text
    assert "secret-cookie" not in text
    assert "Bearer" not in text
    assert len(text) < 3000
    recorded = yaml.safe_load(text)["interactions"][0]["request"]
    assert "authorization" not in {name.lower() for name in recorded["headers"]}
    url = json.loads(recorded["body"])["messages"][0]["content"][1]["image_url"]["url"]
    assert url == payload_placeholder("image/jpeg", PHOTO)


def test_replay_matches_the_same_image_and_refuses_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replay answers a request with the recorded image, and refuses one with a different image."""
    with (
        httpx2.Client(transport=httpx2.MockTransport(_answer)) as http,
        _vcr(tmp_path, "once", monkeypatch).use_cassette("photo.yaml", **testing.vcr_config()),
    ):
        _ask(_recording_client(http), PHOTO)

    def unreachable(request: httpx2.Request) -> httpx2.Response:
        raise AssertionError("a replay must not reach the transport")

    replay = _vcr(tmp_path, "none", monkeypatch)
    with (
        httpx2.Client(transport=httpx2.MockTransport(unreachable)) as http,
        replay.use_cassette("photo.yaml", **testing.vcr_config()) as cassette,
    ):
        assert _ask(_recording_client(http, api_key="another-key"), PHOTO) == "A photo."
        assert cassette.play_count == 1
    with (
        httpx2.Client(transport=httpx2.MockTransport(unreachable)) as http,
        replay.use_cassette("photo.yaml", **testing.vcr_config()),
        pytest.raises(CannotOverwriteExistingCassetteException, match="image_body differs"),
    ):
        _ask(_recording_client(http), OTHER)


def test_key_in_a_body_or_url_is_scrubbed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The GEMINI_API_KEY value is replaced wherever it appears, even in a query or a body."""

    def echo(request: httpx2.Request) -> httpx2.Response:
        return _answer(request)

    with (
        httpx2.Client(transport=httpx2.MockTransport(echo)) as http,
        _vcr(tmp_path, "once", monkeypatch).use_cassette("echo.yaml", **testing.vcr_config()),
    ):
        client = _recording_client(http)
        client.chat.completions.create(
            model="gemini-2.5-flash",
            messages=[{"role": "user", "content": f"my key is {KEY}"}],
            extra_query={"key": KEY, "alt": KEY},
        )
    text = (tmp_path / "echo.yaml").read_text()
    assert KEY not in text
    assert "<GEMINI_API_KEY>" in text
