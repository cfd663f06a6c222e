"""What the gateway holds at once: requests and bytes in flight, body size; waits before a 429."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("uvicorn", reason="the gateway's tests need the 'serve' extra")

import httpx2

from openai_gemini_vision.serve.limits import Admission
from openai_gemini_vision.serve.problems import GatewayError

from .fakegemini import HANG, FakeGemini
from .servekit import AUTH, MODEL, config_for, running

BODY = {"model": MODEL, "messages": [{"role": "user", "content": "x"}]}


def _in_background(
    url: str, body: dict[str, Any], results: list[httpx2.Response]
) -> threading.Thread:
    def run() -> None:
        results.append(httpx2.post(url, json=body, headers=AUTH, timeout=60))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_gateway_full_is_a_429_with_retry_after(fake: FakeGemini) -> None:
    """With every slot taken and no wait allowed, a request gets 429 and Retry-After."""
    fake.script(HANG)
    config = config_for(fake, max_in_flight=1, queue_timeout=0)
    with running(config) as gateway:
        url = f"{gateway.base_url}/chat/completions"
        first: list[httpx2.Response] = []
        thread = _in_background(url, BODY, first)
        assert fake.wait_for(lambda f: f.held == 1)
        refused = httpx2.post(url, json=BODY, headers=AUTH)
        fake.release()
        thread.join(60)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["error"]["code"] == "gateway_busy"
    assert first[0].status_code == 200


def test_a_burst_waits_for_a_slot_instead_of_failing(fake: FakeGemini) -> None:
    """A request finding the gateway full waits for the slot to free, then succeeds."""
    fake.script(HANG)
    config = config_for(fake, max_in_flight=1, queue_timeout=60)
    with running(config) as gateway:
        url = f"{gateway.base_url}/chat/completions"
        results: list[httpx2.Response] = []
        first = _in_background(url, BODY, results)
        assert fake.wait_for(lambda f: f.held == 1)
        second = _in_background(url, BODY, results)
        admission = gateway.gateway.admission
        for _ in range(3000):  # until the second request is queued (30 s at most)
            if admission._waiters:
                break
            threading.Event().wait(0.01)
        assert admission._waiters
        fake.release()
        first.join(60)
        second.join(60)
    assert [r.status_code for r in results] == [200, 200]
    assert fake.max_in_flight == 1


def test_bytes_in_flight_bound_refuses_what_could_never_fit(fake: FakeGemini) -> None:
    """A request needing more memory than the whole budget gets a 413 naming the flag."""
    config = config_for(fake, max_bytes_in_flight=10_000)
    body = {"model": MODEL, "messages": [{"role": "user", "content": "y" * 5_000}]}
    with running(config) as gateway:
        response = httpx2.post(f"{gateway.base_url}/chat/completions", json=body, headers=AUTH)
    assert response.status_code == 413
    assert "--max-bytes-in-flight" in response.json()["error"]["message"]
    assert fake.requests == []


def test_bytes_in_flight_are_shared_between_requests(fake: FakeGemini) -> None:
    """Two requests that fit the byte budget alone but not together: the second is refused."""
    fake.script(HANG)
    body = {"model": MODEL, "messages": [{"role": "user", "content": "z" * 2_000}]}
    config = config_for(fake, max_bytes_in_flight=10_000, queue_timeout=0)
    with running(config) as gateway:
        url = f"{gateway.base_url}/chat/completions"
        results: list[httpx2.Response] = []
        thread = _in_background(url, body, results)
        assert fake.wait_for(lambda f: f.held == 1)
        assert gateway.gateway.admission.bytes > 5_000
        refused = httpx2.post(url, json=body, headers=AUTH)
        fake.release()
        thread.join(60)
    assert refused.status_code == 429
    assert "bytes in flight" in refused.json()["error"]["message"]
    assert results[0].status_code == 200


def test_image_urls_reserve_their_fetch_limit(fake: FakeGemini) -> None:
    """An image URL counts max_fetch_bytes against the budget before it is fetched."""
    url = "https://images.example/cat.png"
    body = {
        "model": MODEL,
        "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}
        ],
    }
    with running(config_for(fake, max_bytes_in_flight=1_000_000)) as gateway:
        response = httpx2.post(f"{gateway.base_url}/chat/completions", json=body, headers=AUTH)
    # 20 MB may come back from one URL: more than this gateway's whole budget.
    assert response.status_code == 413
    assert fake.requests == []


def test_admission_gives_back_slots_and_bytes() -> None:
    """Closing a ticket (twice, harmlessly) frees its slot and bytes for the next request."""

    async def scenario() -> None:
        admission = Admission(max_requests=1, max_bytes=100, wait=0)
        ticket = await admission.enter()
        await ticket.reserve(60)
        with pytest.raises(GatewayError) as full:
            await admission.enter()
        assert full.value.status == 429
        ticket.close()
        ticket.close()
        assert (admission.requests, admission.bytes) == (0, 0)
        again = await admission.enter()
        await again.reserve(100)
        with pytest.raises(GatewayError) as too_big:
            await again.reserve(101)
        assert too_big.value.status == 413
        again.close()

    asyncio.run(scenario())


def test_a_waiting_request_takes_the_freed_slot() -> None:
    """A request waiting for a slot gets it as soon as one is given back."""

    async def scenario() -> None:
        admission = Admission(max_requests=1, max_bytes=100, wait=60)
        ticket = await admission.enter()
        waiting = asyncio.ensure_future(admission.enter())
        while not admission._waiters:
            await asyncio.sleep(0)
        assert not waiting.done()
        ticket.close()
        second = await waiting
        assert admission.requests == 1
        second.close()

    asyncio.run(scenario())


def test_chunked_body_is_cut_off_at_the_limit(fake: FakeGemini) -> None:
    """A body sent without Content-Length is still refused with a 413 past max_body_bytes."""

    def pieces() -> Iterator[bytes]:
        for _ in range(50):
            yield b"x" * 1000

    with running(config_for(fake, max_body_bytes=10_000)) as gateway:
        response = httpx2.post(
            f"{gateway.base_url}/chat/completions", content=pieces(), headers=AUTH
        )
    assert response.status_code == 413
    assert "at least" in response.json()["error"]["message"]


def test_image_work_runs_off_the_event_loop(
    fake: FakeGemini, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While one request's images are being prepared, the gateway still answers others."""
    from openai_gemini_vision.request import prepare

    started, finish = threading.Event(), threading.Event()
    build = prepare._build

    def held_build(plan: Any, *args: Any) -> Any:
        if plan.slots:  # image work: held until the other requests were answered
            started.set()
            finish.wait(60)
        return build(plan, *args)

    monkeypatch.setattr(prepare, "_build", held_build)
    image = "data:image/gif;base64,R0lGODlhAQABAAAAACw="
    body = {
        "model": MODEL,
        "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": image}}]}
        ],
    }
    with running(config_for(fake)) as gateway:
        results: list[httpx2.Response] = []
        thread = _in_background(f"{gateway.base_url}/chat/completions", body, results)
        assert started.wait(60)
        health = httpx2.get(f"{gateway.url}/healthz", timeout=60)  # answered meanwhile
        text = httpx2.post(f"{gateway.base_url}/chat/completions", json=BODY, headers=AUTH)
        finish.set()
        thread.join(60)
    assert health.status_code == 200
    assert text.status_code == 200
    assert results[0].status_code == 400  # a 1x1 GIF without pixels: refused, after the wait
