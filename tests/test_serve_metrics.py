"""What an operator sees on /metrics: requests, images, tokens and what is in flight."""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("uvicorn", reason="the gateway's tests need the 'serve' extra")

import httpx2
from PIL import Image

from openai_gemini_vision import ImagePolicy

from .fakegemini import HANG, FakeGemini
from .servekit import ask, config_for, image_data_url, running


def _metric(text: str, name: str) -> float:
    values = [float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " ")]
    assert len(values) == 1, name
    return values[0]


def test_metrics_count_requests_images_and_tokens(fake: FakeGemini) -> None:
    """/metrics counts answers by status, images converted and fitted, tokens both ways."""
    gif = image_data_url(Image.new("RGB", (30, 20), "blue"), "GIF")
    noisy = Image.effect_noise((400, 400), 80).convert("RGB")
    big_png = image_data_url(noisy, "PNG")
    policy = ImagePolicy(max_request_bytes=200_000)  # the PNG (~480 kB) must shrink to fit
    with running(config_for(fake, policy=policy)) as gateway:
        assert ask(gateway.base_url, [gif]).status_code == 200
        assert ask(gateway.base_url, [big_png]).status_code == 200
        assert ask(gateway.base_url, ["data:image/png;base64,AAAA"]).status_code == 400
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
        thread = threading.Thread(target=ask, args=(gateway.base_url, []), daemon=True)
        thread.start()
        assert fake.wait_for(lambda f: f.held == 1)
        during = httpx2.get(f"{gateway.url}/metrics").text
        fake.release()
        thread.join(60)
        after = httpx2.get(f"{gateway.url}/metrics").text
    assert _metric(during, "ogv_requests_in_flight") == 1
    assert _metric(during, "ogv_bytes_in_flight") > 0
    assert _metric(after, "ogv_requests_in_flight") == 0
