"""Load: a few thousand mixed requests, 100 at once; every one answered, nothing leaked, memory bounded.

Bounded in count (REQUESTS) and in time (each request has a deadline, the whole run
another); it stops by itself. Nothing here is timed: a slow machine makes it slower,
never failing.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import os
import time
from typing import Any

import pytest

pytest.importorskip("uvicorn", reason="the gateway's tests need the 'serve' extra")

import aiohttp
from PIL import Image

from .fakegemini import FakeGemini
from .servekit import GATEWAY_KEY, MODEL, config_for, running

REQUESTS = 2000
CONCURRENCY = 100
#: The gateway's byte budget for this run: small enough that images make it matter.
BYTES_BOUND = 32_000_000
#: Longest the whole run may take before it is abandoned (a failure, not a hang).
RUN_LIMIT = 240.0


def _data_url(fmt: str, size: tuple[int, int]) -> str:
    out = io.BytesIO()
    Image.effect_noise(size, 40).convert("RGB").save(out, fmt)
    return f"data:image/{fmt.lower()};base64," + base64.b64encode(out.getvalue()).decode()


def _bodies() -> list[dict[str, Any]]:
    """Text, images (one converted from GIF) and streams, in turn."""
    jpeg = _data_url("JPEG", (160, 120))
    gif = _data_url("GIF", (48, 48))
    images = [{"type": "image_url", "image_url": {"url": url}} for url in (jpeg, gif)]
    text = [{"role": "user", "content": "Say something."}]
    pictured = [{"role": "user", "content": [{"type": "text", "text": "What is this?"}, *images]}]
    return [
        {"model": MODEL, "messages": text},
        {"model": MODEL, "messages": text, "stream": True},
        {"model": MODEL, "messages": pictured},
        {"model": MODEL, "messages": pictured, "stream": True},
    ]


def _open_fds(kind: str = "") -> int:
    """File descriptors this process holds (those whose target starts with `kind`)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own descriptor, closed by now
            count += os.readlink(f"/proc/self/fd/{fd}").startswith(kind)
    return count


async def _one(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> str:
    """What came back: "ok", "stream", or the error code of a clean OpenAI-shaped error."""
    headers = {"Authorization": f"Bearer {GATEWAY_KEY}"}
    async with session.post(url, json=body, headers=headers) as response:
        raw = await response.read()
    if response.status != 200:
        error = json.loads(raw)["error"]
        assert {"message", "type", "param", "code"} <= set(error), raw
        assert response.status in {429, 502, 503, 504}, raw
        return str(error["code"])
    if body.get("stream"):
        events = [line for line in raw.decode().split("\n\n") if line]
        assert events[-1] == "data: [DONE]", raw
        assert all(json.loads(e[6:])["object"] == "chat.completion.chunk" for e in events[:-1])
        return "stream"
    answer = json.loads(raw)
    assert answer["choices"][0]["message"]["content"].startswith("I see"), raw
    return "ok"


async def _load(url: str, requests: int) -> list[str]:
    bodies = _bodies()
    queue = iter(range(requests))
    outcomes: list[str] = []
    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:

        async def worker() -> None:
            for number in queue:
                outcomes.append(await _one(session, url, bodies[number % len(bodies)]))

        async with asyncio.timeout(RUN_LIMIT):
            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return outcomes


def _settled(condition: Any, limit: float = 30.0) -> bool:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_mixed_load_is_answered_in_full_without_leaks() -> None:
    """2,000 requests, 100 at once, text / images / streams: all answered, no leaks."""
    with FakeGemini() as fake:
        # The default limits but a smaller byte budget: 100 clients at once must all be served.
        config = config_for(fake, max_bytes_in_flight=BYTES_BOUND)
        sockets = _open_fds("socket:")
        # A first small run opens what lives as long as the process (thread pools, the
        # loop's own pipes), so that what the second run leaves open is a leak.
        with running(config) as gateway:
            asyncio.run(_load(f"{gateway.base_url}/chat/completions", CONCURRENCY))
        # Once the fake has closed its side of the gateway's pooled connections.
        assert _settled(lambda: _open_fds("socket:") <= sockets)
        fds_before = _open_fds()
        fake.requests.clear()
        with running(config) as gateway:
            tasks_before = gateway.tasks()
            outcomes = asyncio.run(_load(f"{gateway.base_url}/chat/completions", REQUESTS))
            admission = gateway.gateway.admission
            assert _settled(lambda: admission.requests == 0)
            assert admission.bytes == 0
            assert _settled(lambda: gateway.tasks() <= tasks_before)
            peak = admission.peak_bytes
        assert _settled(lambda: _open_fds() <= fds_before), (fds_before, _open_fds())
    assert len(outcomes) == REQUESTS
    # Every request came back whole: the defaults refuse none of 100 ordinary clients.
    assert outcomes.count("ok") + outcomes.count("stream") == REQUESTS, set(outcomes)
    assert len(fake.requests) == REQUESTS
    assert 0 < peak <= BYTES_BOUND
