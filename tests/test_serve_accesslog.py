"""What an operator sees in the access log: one line per request, JSON or text, never a key."""

from __future__ import annotations

import base64
import json
import logging

import pytest

pytest.importorskip("uvicorn", reason="the gateway's tests need the 'serve' extra")

import httpx2
from PIL import Image

from .fakegemini import FakeGemini
from .servekit import AUTH, GATEWAY_KEY, UPSTREAM_KEY, ask, config_for, image_data_url, running


def test_access_log_json_line_without_keys_or_query_strings(
    fake: FakeGemini, caplog: pytest.LogCaptureFixture
) -> None:
    """One JSON line per request: id, status, images, tokens; no key, no URL query string."""
    url = fake.serve(
        "/pic.png", base64.b64decode(image_data_url(Image.new("RGB", (8, 8)), "PNG").split(",")[1])
    )
    signed = url.replace("127.0.0.1", "localhost") + "?signature=very-secret-token"
    config = config_for(fake, log_format="json", private_hosts=frozenset({"localhost"}))
    with (
        caplog.at_level(logging.INFO, logger="openai_gemini_vision.serve.access"),
        running(config) as gateway,
    ):
        response = ask(gateway.base_url, [signed])
        httpx2.get(f"{gateway.base_url}/models?key=also-secret", headers=AUTH)
    lines = [
        r.getMessage() for r in caplog.records if r.name == "openai_gemini_vision.serve.access"
    ]
    assert len(lines) == 2
    chat, models = (json.loads(line) for line in lines)
    assert chat["id"] == response.headers["x-request-id"]
    assert chat["status"] == 200
    assert chat["images"] == 1
    assert chat["tokens_estimated"] == int(response.headers["x-ogv-estimated-prompt-tokens"])
    assert chat["tokens_reported"] == 258 + 4
    assert chat["bytes_in"] > 0
    assert chat["bytes_out"] > 0
    assert models["path"] == "/v1/models"
    everything = "\n".join(lines)
    for secret in (GATEWAY_KEY, UPSTREAM_KEY, "very-secret-token", "also-secret"):
        assert secret not in everything


def test_access_log_text_line(fake: FakeGemini, caplog: pytest.LogCaptureFixture) -> None:
    """The text format is one line with the same fields, an error code when one was answered."""
    config = config_for(fake, log_format="text")
    with (
        caplog.at_level(logging.INFO, logger="openai_gemini_vision.serve.access"),
        running(config) as gateway,
    ):
        ask(gateway.base_url, ["data:image/png;base64,AAAA"])
    (line,) = [
        r.getMessage() for r in caplog.records if r.name == "openai_gemini_vision.serve.access"
    ]
    assert "\n" not in line
    assert "POST /v1/chat/completions status=400" in line
    assert "error=corrupt_image" in line
    assert GATEWAY_KEY not in line
