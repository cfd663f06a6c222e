"""Streams forwarded as they arrive, cancelled with their client, ended cleanly when the upstream fails."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

pytest.importorskip("uvicorn", reason="the gateway's tests need the 'serve' extra")

import httpx2
import openai

from .fakegemini import BREAK, HANG, STALL, FakeGemini
from .servekit import AUTH, GATEWAY_KEY, MODEL, config_for, running

BODY = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "one two three"}]}


def until(condition: Callable[[], bool], limit: float = 30.0) -> bool:
    """Whether `condition` came true within `limit` seconds (checked every 10 ms)."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_first_chunk_arrives_while_the_upstream_is_still_streaming(fake: FakeGemini) -> None:
    """The client holds the first chunk while the upstream has sent nothing more: no buffering."""
    fake.script(STALL)
    with running(config_for(fake)) as gateway:
        client = openai.OpenAI(base_url=gateway.base_url, api_key=GATEWAY_KEY)
        stream = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "one two three"}], stream=True
        )
        chunks = iter(stream)
        first = next(chunks)
        # The upstream is still holding the rest of the answer back.
        assert fake.held == 1
        fake.release()
        rest = [chunk.choices[0].delta.content for chunk in chunks]
    assert first.choices[0].delta.content == "I "
    assert "".join([first.choices[0].delta.content or "", *map(str, rest)]) == (
        "I see 0 image(s): ."
    )


def test_client_disconnect_cancels_the_upstream_stream(fake: FakeGemini) -> None:
    """A client leaving mid-stream closes the upstream request, and its slot is given back."""
    fake.script(STALL)
    with running(config_for(fake)) as gateway:
        with httpx2.stream(
            "POST", f"{gateway.base_url}/chat/completions", json=BODY, headers=AUTH
        ) as response:
            assert response.status_code == 200
            pieces = response.iter_raw()  # kept: a dropped iterator would close the response
            assert next(pieces).startswith(b"data: ")
            assert gateway.gateway.admission.requests == 1
        # Leaving the block closed the connection mid-stream.
        assert fake.wait_for(lambda f: f.cancelled == 1)
        assert until(lambda: gateway.gateway.admission.requests == 0)
        assert gateway.gateway.admission.bytes == 0


def test_client_disconnect_cancels_a_waiting_request(fake: FakeGemini) -> None:
    """A client leaving before a non-streamed answer also cancels the upstream request."""
    fake.script(HANG)
    with running(config_for(fake)) as gateway:
        body = {**BODY, "stream": False}
        with pytest.raises(httpx2.ReadTimeout):
            httpx2.post(
                f"{gateway.base_url}/chat/completions",
                json=body,
                headers=AUTH,
                timeout=httpx2.Timeout(30, read=0.5),  # the client gives up
            )
        assert fake.wait_for(lambda f: f.cancelled == 1)
        assert until(lambda: gateway.gateway.admission.requests == 0)


def test_upstream_failure_mid_stream_ends_with_an_error_event(fake: FakeGemini) -> None:
    """An upstream dropping the connection mid-stream: the SDK gets the chunks, then an APIError."""
    fake.script(BREAK)
    with running(config_for(fake)) as gateway:
        client = openai.OpenAI(base_url=gateway.base_url, api_key=GATEWAY_KEY, max_retries=0)
        stream = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "one two three"}], stream=True
        )
        chunks = iter(stream)
        received = [next(chunks).choices[0].delta.content]
        fake.release()  # the upstream now drops the connection
        with pytest.raises(openai.APIError, match="closed the connection") as caught:
            received += [chunk.choices[0].delta.content for chunk in chunks]
        assert until(lambda: gateway.gateway.admission.requests == 0)
        metrics = httpx2.get(f"{gateway.url}/metrics").text
    assert received == ["I "]
    assert caught.value.body is not None
    assert 'ogv_errors_total{status="502",code="upstream_unreachable"} 1' in metrics


def test_stream_usage_is_read_from_the_last_chunk(fake: FakeGemini) -> None:
    """Reported prompt tokens come from the stream's last usage, as Gemini's facts say."""
    with running(config_for(fake)) as gateway:
        client = openai.OpenAI(base_url=gateway.base_url, api_key=GATEWAY_KEY)
        list(
            client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True
            )
        )
        assert until(lambda: gateway.gateway.metrics.tokens_reported > 0)
    # The fake reports 4 prompt tokens for a request without images.
    assert gateway.gateway.metrics.tokens_reported == 4
