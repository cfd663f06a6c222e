"""Every refusal in OpenAI's error shape: bad input 400, over budget 413, upstream 502/504, Gemini's own."""

from __future__ import annotations

import base64
import io
import socket
from typing import Any

import pytest

pytest.importorskip("uvicorn", reason="the gateway's tests need the 'serve' extra")

import httpx2
import openai
from PIL import Image

from openai_gemini_vision import ImagePolicy

from .fakegemini import HANG, RESET, FakeGemini
from .servekit import AUTH, GATEWAY_KEY, MODEL, UPSTREAM_KEY, config_for, running


def _client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=GATEWAY_KEY, max_retries=0)


def _error(response: httpx2.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) >= {"message", "type", "param", "code"}
    error: dict[str, Any] = body["error"]
    return error


def _say_x(base_url: str, *, timeout: float = 5.0) -> httpx2.Response:
    """A one-line text chat through the gateway, with the gateway key."""
    return httpx2.post(
        f"{base_url}/chat/completions",
        json={"model": MODEL, "messages": [{"role": "user", "content": "x"}]},
        headers=AUTH,
        timeout=timeout,
    )


def _png(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.effect_noise(size, 64).convert("RGB").save(out, "PNG")
    return out.getvalue()


def test_malformed_json_is_a_400(fake: FakeGemini) -> None:
    """A body that is not JSON gets a 400 saying so, and nothing goes upstream."""
    with running(config_for(fake)) as gateway:
        response = httpx2.post(
            f"{gateway.base_url}/chat/completions", content=b'{"model": ', headers=AUTH
        )
    assert response.status_code == 400
    assert _error(response)["code"] == "invalid_json"
    assert "not valid JSON" in _error(response)["message"]
    assert fake.requests == []


def test_missing_messages_is_a_400_naming_the_field(fake: FakeGemini) -> None:
    """A body without a messages list gets a 400 with param "messages"."""
    with running(config_for(fake)) as gateway:
        response = httpx2.post(
            f"{gateway.base_url}/chat/completions", json={"model": MODEL}, headers=AUTH
        )
    assert response.status_code == 400
    assert _error(response)["param"] == "messages"


def test_bad_image_names_the_part_and_the_fix(fake: FakeGemini) -> None:
    """A broken image is a 400 whose param is messages[i].content[j]; the SDK raises it."""
    messages: Any = [
        {"role": "user", "content": "first"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            ],
        },
    ]
    with running(config_for(fake)) as gateway, pytest.raises(openai.BadRequestError) as caught:
        _client(gateway.base_url).chat.completions.create(model=MODEL, messages=messages)
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["param"] == "messages[1].content[1]"
    assert error["code"] == "corrupt_image"
    assert "Pass a PNG, JPEG, WebP, HEIC or HEIF image" in error["message"]
    assert fake.requests == []


def test_refused_local_file_and_private_url(fake: FakeGemini) -> None:
    """Paths and private addresses in strangers' JSON are refused with a 400, never read."""
    private = fake.serve("/secret.png", _png((8, 8)))
    with running(config_for(fake)) as gateway:
        for url in ["/etc/hostname", "file:///etc/hostname", private]:
            messages: Any = [
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}
            ]
            response = httpx2.post(
                f"{gateway.base_url}/chat/completions",
                json={"model": MODEL, "messages": messages},
                headers=AUTH,
            )
            assert response.status_code == 400, url
            assert _error(response)["param"] == "messages[0].content[0]"
    assert fake.requests == []


def test_private_host_allowed_by_name_only(fake: FakeGemini) -> None:
    """A host named in private_hosts may be fetched at a loopback address; its IP literal may not."""
    url = fake.serve("/pic.png", _png((8, 8)))
    by_name = url.replace("127.0.0.1", "localhost")
    config = config_for(fake, private_hosts=frozenset({"localhost"}))
    with running(config) as gateway:

        def ask(image: str) -> httpx2.Response:
            messages = [
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": image}}]}
            ]
            return httpx2.post(
                f"{gateway.base_url}/chat/completions",
                json={"model": MODEL, "messages": messages},
                headers=AUTH,
            )

        assert ask(by_name).status_code == 200
        refused = ask(url)
    assert refused.status_code == 400
    assert "loopback" in _error(refused)["message"]


def test_over_budget_is_a_413(fake: FakeGemini) -> None:
    """A request that cannot fit the byte budget gets a 413 listing the images."""
    data = "data:image/png;base64," + base64.b64encode(_png((256, 256))).decode()
    policy = ImagePolicy(max_request_bytes=20_000, fit="error")
    messages: Any = [
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": data}}]}
    ]
    with running(config_for(fake, policy=policy)) as gateway:
        response = httpx2.post(
            f"{gateway.base_url}/chat/completions",
            json={"model": MODEL, "messages": messages},
            headers=AUTH,
        )
    assert response.status_code == 413
    assert _error(response)["code"] == "request_too_large"
    assert "max_request_bytes=20,000" in _error(response)["message"]


def test_oversized_body_is_a_413_before_reading_it(fake: FakeGemini) -> None:
    """A body over max_body_bytes is refused with a 413 naming the flag."""
    with running(config_for(fake, max_body_bytes=1000)) as gateway:
        response = httpx2.post(
            f"{gateway.base_url}/chat/completions", content=b"x" * 5000, headers=AUTH
        )
    assert response.status_code == 413
    assert "--max-body-bytes" in _error(response)["message"]


def test_gemini_errors_keep_their_status_unwrapped_and_readable(fake: FakeGemini) -> None:
    """Gemini's array-wrapped 429 and its 400 for a bad key reach the client readable."""
    fake.script(429)
    with running(config_for(fake)) as gateway:
        client = _client(gateway.base_url)
        with pytest.raises(openai.RateLimitError) as quota:
            client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}])
        fake.api_key = "another-key-entirely"
        with pytest.raises(openai.BadRequestError) as bad_key:
            client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}])
    assert quota.value.status_code == 429
    assert isinstance(quota.value.body, dict)
    assert quota.value.body["code"] == "RESOURCE_EXHAUSTED"
    assert "rate limit or quota" in quota.value.body["message"]
    assert quota.value.response.headers.get("retry-after-ms") == "5"
    assert isinstance(bad_key.value.body, dict)
    assert "Gemini refused the API key" in bad_key.value.body["message"]
    assert UPSTREAM_KEY not in str(bad_key.value)


def test_upstream_500_passes_with_its_status(fake: FakeGemini) -> None:
    """Gemini's 500 stays a 500, its message readable."""
    fake.script(500)
    with running(config_for(fake)) as gateway:
        response = _say_x(gateway.base_url)
    assert response.status_code == 500
    assert "An internal error has occurred" in _error(response)["message"]
    assert _error(response)["type"] == "server_error"


def test_upstream_reset_is_a_502(fake: FakeGemini) -> None:
    """An upstream that resets the connection gives a 502 naming the upstream."""
    fake.script(RESET)
    with running(config_for(fake)) as gateway:
        response = _say_x(gateway.base_url)
    assert response.status_code == 502
    assert _error(response)["code"] == "upstream_unreachable"


def test_upstream_unreachable_is_a_502() -> None:
    """Nothing listening upstream: a 502, not a traceback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again before the gateway connects
    with FakeGemini() as fake:
        config = config_for(fake, upstream=f"http://127.0.0.1:{port}/v1beta/openai/")
    with running(config) as gateway:
        response = _say_x(gateway.base_url)
    assert response.status_code == 502
    assert "could not be reached" in _error(response)["message"]


def test_upstream_never_answering_is_a_504_and_the_request_is_cancelled(fake: FakeGemini) -> None:
    """After request_timeout without an answer: a 504, and the upstream sees the request dropped."""
    fake.script(HANG)
    with running(config_for(fake, request_timeout=0.5)) as gateway:
        response = _say_x(gateway.base_url, timeout=60)
        assert fake.wait_for(lambda f: f.cancelled == 1)
    assert response.status_code == 504
    assert _error(response)["code"] == "upstream_timeout"


def test_slow_upstream_is_waited_for(fake: FakeGemini) -> None:
    """An upstream slower than usual, but within the timeout, answers through the gateway."""
    fake.latency = 0.3
    with running(config_for(fake)) as gateway:
        answer = _client(gateway.base_url).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "x"}]
        )
    assert answer.choices[0].message.content == "I see 0 image(s): ."


def test_unknown_path_is_an_openai_shaped_404(fake: FakeGemini) -> None:
    """A path outside /v1 gets a 404 that says where the API lives."""
    with running(config_for(fake)) as gateway:
        response = httpx2.get(f"{gateway.url}/chat/completions", headers=AUTH)
    assert response.status_code == 404
    assert "/v1" in _error(response)["message"]


def test_errors_not_in_gemini_shape_are_shown_with_the_key_masked() -> None:
    """An upstream error page that is not Gemini's JSON is passed on readable, any echoed key masked."""
    from openai_gemini_vision.serve.problems import from_upstream

    page = from_upstream(502, f"<html>bad gateway for {UPSTREAM_KEY}</html>".encode(), UPSTREAM_KEY)
    other = from_upstream(404, b'{"detail": "no such model"}', UPSTREAM_KEY)
    assert page.status == 502
    assert "bad gateway for <api key>" in page.message
    assert UPSTREAM_KEY not in page.message
    assert other.message == 'Error code: 404 - {"detail": "no such model"}'
