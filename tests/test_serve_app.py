"""Real OpenAI clients, unmodified, against `ogv serve` and a fake Gemini: Python, Node, curl."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("uvicorn", reason="the gateway's tests need the 'serve' extra")

import httpx2
import openai
from PIL import Image
from pydantic import SecretStr

from openai_gemini_vision.serve import ESTIMATE_HEADER

from .fakegemini import FakeGemini, images_in
from .servekit import GATEWAY_KEY, MODEL, UPSTREAM_KEY, config_for, running

NODE_DIR = Path(__file__).parent / "node"


def _gif() -> bytes:
    frames = [Image.new("P", (48, 32), color) for color in (1, 2)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:])
    return out.getvalue()


def _jpeg(size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(out, "JPEG")
    return out.getvalue()


def _content(image_urls: list[str]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = [{"type": "text", "text": "What is in these pictures?"}]
    parts += [{"type": "image_url", "image_url": {"url": url}} for url in image_urls]
    return parts


def _localhost(url: str) -> str:
    """The fake's URL by host name, the way a private image host is named to the gateway."""
    return url.replace("127.0.0.1", "localhost")


def test_python_openai_sdk_asks_about_a_gif_and_an_image_url(fake: FakeGemini) -> None:
    """The plain openai package gets answers about a local GIF and an image URL, both ways."""
    image_url = _localhost(fake.serve("/photo.jpg", _jpeg()))
    gif_url = "data:image/gif;base64," + base64.b64encode(_gif()).decode()
    config = config_for(fake, private_hosts=frozenset({"localhost"}))
    with running(config) as gateway:
        client = openai.OpenAI(base_url=gateway.base_url, api_key=GATEWAY_KEY)
        messages: Any = [{"role": "user", "content": _content([gif_url, image_url])}]
        answer = client.chat.completions.create(model=MODEL, messages=messages)
        chunks = client.chat.completions.create(model=MODEL, messages=messages, stream=True)
        streamed = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert answer.choices[0].message.content is not None
    assert answer.choices[0].message.content.startswith("I see 2 image(s)")
    assert streamed.startswith("I see 2 image(s)")
    sent = images_in(fake.requests[0])
    # The GIF became a PNG and the URL was fetched and inlined: what Gemini takes.
    assert [mime for mime, _ in sent] == ["image/png", "image/jpeg"]
    assert sent[1][1] == _jpeg()
    assert fake.authorizations[0] == f"Bearer {UPSTREAM_KEY}"


def test_answers_carry_request_id_and_estimate_headers(fake: FakeGemini) -> None:
    """Each answer carries its request id and the estimated prompt tokens in headers."""
    with running(config_for(fake)) as gateway:
        client = openai.OpenAI(base_url=gateway.base_url, api_key=GATEWAY_KEY)
        data = "data:image/jpeg;base64," + base64.b64encode(_jpeg()).decode()
        raw = client.chat.completions.with_raw_response.create(
            model=MODEL,
            messages=[{"role": "user", "content": _content([data])}],  # type: ignore[misc]
            extra_headers={"x-request-id": "trace-42"},
        )
    assert raw.headers["x-request-id"] == "trace-42"
    # One image at 258 tokens on 2.5 models (GEMINI_FACTS.md), plus the text.
    assert int(raw.headers[ESTIMATE_HEADER]) > 258
    assert raw.parse().choices[0].message.content == "I see 1 image(s): <image/jpeg " + (
        f"{len(_jpeg()):,} bytes sha256:{hashlib.sha256(_jpeg()).hexdigest()[:16]}>."
    )


def test_models_and_other_v1_requests_are_forwarded_untouched(fake: FakeGemini) -> None:
    """GET /v1/models reaches the upstream's models list with the server's key."""
    with running(config_for(fake)) as gateway:
        client = openai.OpenAI(base_url=gateway.base_url, api_key=GATEWAY_KEY)
        models = [model.id for model in client.models.list()]
    assert models == ["models/gemini-2.5-flash", "models/gemini-2.5-pro"]


def test_client_key_forwarded_with_the_flag(fake: FakeGemini) -> None:
    """With forward_client_key, each client's own Gemini key goes upstream, not the server's."""
    config = config_for(fake, gateway_keys=(), upstream_key=None, forward_client_key=True)
    with running(config) as gateway:
        client = openai.OpenAI(base_url=gateway.base_url, api_key="clients-own-gemini-key")
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert fake.authorizations == ["Bearer clients-own-gemini-key"]


def test_client_key_beside_a_gateway_key(fake: FakeGemini) -> None:
    """With gateway keys too, the client's Gemini key travels in x-goog-api-key."""
    config = config_for(fake, upstream_key=None, forward_client_key=True)
    with running(config) as gateway:
        client = openai.OpenAI(
            base_url=gateway.base_url,
            api_key=GATEWAY_KEY,
            default_headers={"x-goog-api-key": "clients-own-gemini-key"},
        )
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
        with pytest.raises(openai.AuthenticationError, match="x-goog-api-key"):
            openai.OpenAI(
                base_url=gateway.base_url, api_key=GATEWAY_KEY, max_retries=0
            ).chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert fake.authorizations == ["Bearer clients-own-gemini-key"]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_streams_server_sent_events(fake: FakeGemini) -> None:
    """`curl -N` receives the stream's events and its closing [DONE]."""
    body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "hello"}]}
    with running(config_for(fake)) as gateway:
        result = subprocess.run(  # noqa: S603 - curl on loopback, arguments fixed here
            [  # noqa: S607 - whichever curl is on PATH, as a user would run it
                "curl",
                "-sS",
                "-N",
                "--max-time",
                "30",
                f"{gateway.base_url}/chat/completions",
                "-H",
                f"Authorization: Bearer {GATEWAY_KEY}",
                "-H",
                "Content-Type: application/json",
                "-d",
                json.dumps(body),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    events = [line for line in result.stdout.splitlines() if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]"
    pieces = [json.loads(e[6:])["choices"][0]["delta"]["content"] for e in events[:-1]]
    assert "".join(pieces) == "I see 0 image(s): ."


def _node_ready() -> str | None:
    """Why the Node test cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (NODE_DIR / "node_modules" / "openai").is_dir():
        return "the openai npm package is missing: run `npm install --prefix tests/node --no-package-lock` (.ci/run does)"
    return None


@pytest.mark.skipif(_node_ready() is not None, reason=str(_node_ready()))
def test_node_openai_package_asks_about_a_gif_and_an_image_url(
    fake: FakeGemini, tmp_path: Path
) -> None:
    """The official openai npm package, run by Node, gets answers and a readable 400."""
    gif = tmp_path / "animated.gif"
    gif.write_bytes(_gif())
    image_url = _localhost(fake.serve("/photo.jpg", _jpeg()))
    config = config_for(fake, private_hosts=frozenset({"localhost"}))
    with running(config) as gateway:
        result = subprocess.run(  # noqa: S603 - node on loopback, arguments fixed here
            [  # noqa: S607 - whichever node is on PATH, as a user would run it
                "node",
                str(NODE_DIR / "ask.cjs"),
                gateway.base_url,
                GATEWAY_KEY,
                str(gif),
                image_url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["answer"].startswith("I see 2 image(s)")
    assert out["streamed"].startswith("I see 2 image(s)")
    assert out["error"]["status"] == 400
    assert out["error"]["param"] == "messages[0].content[0]"
    assert out["error"]["code"] == "corrupt_image"
    assert [mime for mime, _ in images_in(fake.requests[0])] == ["image/png", "image/jpeg"]


def test_healthz_needs_no_key(fake: FakeGemini) -> None:
    """A load balancer's health check gets 200 without a key."""
    with running(config_for(fake, gateway_keys=(SecretStr("x" * 32),))) as gateway:
        response = httpx2.get(f"{gateway.url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
