"""What an operator sees: Prometheus metrics and one access-log line per request, never a key."""

from __future__ import annotations

import base64
import io
import json
import logging
import threading

import pytest

pytest.importorskip("uvicorn", reason="the gateway's tests need the 'serve' extra")

import httpx2
from PIL import Image

from openai_gemini_vision import ImagePolicy

from .fakegemini import HANG, FakeGemini
from .servekit import GATEWAY_KEY, UPSTREAM_KEY, config_for, running

MODEL = "gemini-2.5-flash"
AUTH = {"Authorization": f"Bearer {GATEWAY_KEY}"}


def _data_url(image: Image.Image, fmt: str) -> str:
    out = io.BytesIO()
    image.save(out, fmt)
    return f"data:image/{fmt.lower()};base64," + base64.b64encode(out.getvalue()).decode()


def _ask(base_url: str, urls: list[str]) -> httpx2.Response:
    content = [{"type": "image_url", "image_url": {"url": url}} for url in urls]
    body = {"model": MODEL, "messages": [{"role": "user", "content": content}]}
    return httpx2.post(f"{base_url}/chat/completions", json=body, headers=AUTH, timeout=60)


def _metric(text: str, name: str) -> float:
    values = [float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " ")]
    assert len(values) == 1, name
    return values[0]


def test_metrics_count_requests_images_and_tokens(fake: FakeGemini) -> None:
    """/metrics counts answers by status, images converted and fitted, tokens both ways."""
    gif = _data_url(Image.new("RGB", (30, 20), "blue"), "GIF")
    noisy = Image.effect_noise((400, 400), 80).convert("RGB")
    big_png = _data_url(noisy, "PNG")
    policy = ImagePolicy(max_request_bytes=200_000)  # the PNG (~480 kB) must shrink to fit
    with running(config_for(fake, policy=policy)) as gateway:
        assert _ask(gateway.base_url, [gif]).status_code == 200
        assert _ask(gateway.base_url, [big_png]).status_code == 200
        assert _ask(gateway.base_url, ["data:image/png;base64,AAAA"]).status_code == 400
        text = httpx2.get(f"{gateway.url}/metrics").text
    assert 'ogv_requests_total{route="/v1/chat/completions",status="200"} 2' in text
    assert 'ogv_requests_total{route="/v1/chat/completions",status="400"} 1' in text
    assert 'ogv_errors_total{status="400",code="corrupt_image"} 1' in text
    assert _metric(text, "ogv_images_total") == 2
    assert _metric(text, "ogv_images_converted_total") == 1
    assert _metric(text, "ogv_images_fitted_total") == 1
    # Two images at 258 tokens each on 2.5 (GEMINI_FACTS.md), estimated and reported.
    assert _metric(text, "ogv_prompt_tokens_estimated_total") >= 2 * 258
    assert _metric(text, "ogv_prompt_tokens_reported_total") == 2 * (258 + 4)
    assert "# TYPE ogv_requests_in_flight gauge" in text


def test_in_flight_gauge_counts_a_waiting_request(fake: FakeGemini) -> None:
    """While one request waits on the upstream, the in-flight gauge reads 1, then 0."""
    fake.script(HANG)
    with running(config_for(fake)) as gateway:
        thread = threading.Thread(target=_ask, args=(gateway.base_url, []), daemon=True)
        thread.start()
        assert fake.wait_for(lambda f: f.held == 1)
        during = httpx2.get(f"{gateway.url}/metrics").text
        fake.release()
        thread.join(60)
        after = httpx2.get(f"{gateway.url}/metrics").text
    assert _metric(during, "ogv_requests_in_flight") == 1
    assert _metric(during, "ogv_bytes_in_flight") > 0
    assert _metric(after, "ogv_requests_in_flight") == 0


def test_access_log_json_line_without_keys_or_query_strings(
    fake: FakeGemini, caplog: pytest.LogCaptureFixture
) -> None:
    """One JSON line per request: id, status, images, tokens; no key, no URL query string."""
    url = fake.serve(
        "/pic.png", base64.b64decode(_data_url(Image.new("RGB", (8, 8)), "PNG").split(",")[1])
    )
    signed = url.replace("127.0.0.1", "localhost") + "?signature=very-secret-token"
    config = config_for(fake, log_format="json", private_hosts=frozenset({"localhost"}))
    with (
        caplog.at_level(logging.INFO, logger="openai_gemini_vision.serve.access"),
        running(config) as gateway,
    ):
        response = _ask(gateway.base_url, [signed])
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
        _ask(gateway.base_url, ["data:image/png;base64,AAAA"])
    (line,) = [
        r.getMessage() for r in caplog.records if r.name == "openai_gemini_vision.serve.access"
    ]
    assert "\n" not in line
    assert "POST /v1/chat/completions status=400" in line
    assert "error=corrupt_image" in line
    assert GATEWAY_KEY not in line
