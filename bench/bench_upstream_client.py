"""Which HTTP client should `ogv serve` forward with: httpx2's AsyncClient or aiohttp's?

    python bench/bench_upstream_client.py [--requests 2000] [--concurrency 64]

Both post the same small chat body to the same fake Gemini (tests/fakegemini.py, in a
process of its own on loopback) under uvloop, as the gateway runs. Reported per client:
requests a second at the given concurrency, the median and p99 latency of requests sent
one at a time, and the CPU time this process spent per request (the figure that decides
on a shared machine: wall-clock numbers move with the neighbours, CPU per request does
not). aiohttp is optional: without it only httpx2 is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable

import httpx2
from loopback import serve

__all__ = ["main"]

BODY = json.dumps(
    {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "Hello there"}]}
).encode()
HEADERS = {"content-type": "application/json", "authorization": "Bearer k"}

Post = Callable[[], Awaitable[bytes]]


async def _run(post: Post, requests: int, concurrency: int) -> dict[str, float]:
    for _ in range(50):  # warm: connections open, code paths compiled
        await post()
    serial = []
    for _ in range(300):
        start = time.perf_counter()
        await post()
        serial.append((time.perf_counter() - start) * 1000)
    serial.sort()
    queue = iter(range(requests))

    async def worker() -> None:
        for _ in queue:
            await post()

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {
        "req/s": requests / wall,
        "p50 ms": statistics.median(serial),
        "p99 ms": serial[int(len(serial) * 0.99) - 1],
        "CPU ms/request": cpu * 1000 / requests,
    }


async def _httpx2(url: str, requests: int, concurrency: int) -> dict[str, float]:
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx2.AsyncClient(limits=limits) as client:

        async def post() -> bytes:
            response = await client.post(url, content=BODY, headers=HEADERS)
            return response.content

        return await _run(post, requests, concurrency)


async def _aiohttp(url: str, requests: int, concurrency: int) -> dict[str, float]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def post() -> bytes:
            async with session.post(url, data=BODY, headers=HEADERS) as response:
                return await response.read()

        return await _run(post, requests, concurrency)


def main() -> None:
    """Measure each client against the same fake upstream and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    clients = {"httpx2.AsyncClient": _httpx2}
    try:
        import aiohttp  # noqa: F401 - only whether it is there

        clients["aiohttp.ClientSession"] = _aiohttp
    except ImportError:
        pass
    with serve("gemini", latency=0.0) as base_url:
        url = base_url + "chat/completions"
        rows = {
            name: asyncio.run(run(url, args.requests, args.concurrency))
            for name, run in clients.items()
        }
    columns = list(next(iter(rows.values())))
    print("| client | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for name, row in rows.items():
        print(f"| {name} | " + " | ".join(f"{row[c]:,.2f}" for c in columns) + " |")


if __name__ == "__main__":
    main()
