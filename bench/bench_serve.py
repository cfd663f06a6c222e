"""`ogv serve` against calling the upstream directly and against LiteLLM's proxy, side by side.

    python bench/bench_serve.py [--quick] [--litellm PATH/TO/litellm]

All three talk to the same fake Gemini (tests/fakegemini.py, a process of its own on
loopback), one worker each, and the same client (aiohttp, in this process) measures:

1. latency added over direct, p50 and p99, one request at a time: a text-only request
   and one carrying a 1 MB JPEG (targets for text-only: p50 <= 2 ms, p99 <= 10 ms);
2. throughput with 64 clients at once, text-only (target: at least 2x LiteLLM's proxy);
3. time to the first byte of a stream, added over direct (target <= 5 ms);
4. the gateway's peak memory (VmHWM) with 100 requests of 15 MB in flight, against its
   configured --max-bytes-in-flight.

The targets are rounds of each kind interleaved (direct, ours, LiteLLM, direct, ...), so
a busy moment of a shared machine hits all three alike. LiteLLM is optional: install
`litellm[proxy]` (a separate venv is fine) and pass its `litellm` script with --litellm,
or have it on PATH. The markdown table goes to stdout and bench/out/serve.md.
Nothing leaves the machine: every server listens on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
from loopback import serve
from PIL import Image

__all__ = ["main"]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
MODEL = "gemini-2.5-flash"
#: The key clients send: our gateway key, and LiteLLM's master key (it refuses to start without one).
KEY = "sk-bench-gateway-key-0123456789abcdef"
STARTUP_LIMIT = 180.0  # LiteLLM's proxy takes long to import on a busy 2-core machine


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _jpeg(target: int) -> bytes:
    """A noisy photo-like JPEG of about `target` bytes."""
    side = 400
    while True:
        out = io.BytesIO()
        Image.effect_noise((side, side), 60).convert("RGB").save(out, "JPEG", quality=90)
        if out.tell() >= target:
            return out.getvalue()
        side = int(side * (target / out.tell()) ** 0.5) + 16


def _body(image: bytes | None = None, *, stream: bool = False) -> bytes:
    import base64
    import json

    content: object = "Describe the weather in one sentence."
    if image is not None:
        url = "data:image/jpeg;base64," + base64.b64encode(image).decode()
        content = [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": url}},
        ]
    body = {"model": MODEL, "messages": [{"role": "user", "content": content}], "stream": stream}
    return json.dumps(body).encode()


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    import urllib.request

    deadline = time.monotonic() + STARTUP_LIMIT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2):  # loopback only
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} was not ready after {STARTUP_LIMIT:.0f} s")


@contextmanager
def _process(
    command: list[str], ready: str, env: dict[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(  # noqa: S603 - our own commands, on loopback
        command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_ready(ready, process)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def _ours(upstream: str, *extra: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = _free_port()
    command = [sys.executable, "-m", "openai_gemini_vision", "serve", "--port", str(port)]
    command += ["--upstream", upstream, "--log-format", "off", "--api-key", KEY, *extra]
    with _process(command, f"http://127.0.0.1:{port}/healthz", {"GEMINI_API_KEY": "k"}) as p:
        yield f"http://127.0.0.1:{port}/v1/", p


@contextmanager
def _litellm(script: str, upstream: str) -> Iterator[str]:
    port = _free_port()
    command = [script, "--model", f"openai/{MODEL}", "--api_base", upstream, "--port", str(port)]
    command += ["--num_workers", "1"]
    env = {
        "OPENAI_API_KEY": "k",
        "LITELLM_MASTER_KEY": KEY,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no download of the price list at start
        "LITELLM_LOG": "ERROR",
        "LITELLM_TELEMETRY": "False",
    }
    with _process(command, f"http://127.0.0.1:{port}/health/liveliness", env):
        yield f"http://127.0.0.1:{port}/v1/"


# Measurements: one aiohttp session per target, warm connections.


async def _post(session: aiohttp.ClientSession, url: str, body: bytes) -> float:
    start = time.perf_counter()
    async with session.post(url, data=body, headers=_HEADERS) as response:
        await response.read()
        assert response.status == 200, (url, response.status, await response.text())
    return (time.perf_counter() - start) * 1000


async def _first_byte(session: aiohttp.ClientSession, url: str, body: bytes) -> float:
    start = time.perf_counter()
    async with session.post(url, data=body, headers=_HEADERS) as response:
        assert response.status == 200, (url, response.status)
        await response.content.readany()
        first = (time.perf_counter() - start) * 1000
        await response.read()
    return first


_HEADERS = {"content-type": "application/json", "authorization": f"Bearer {KEY}"}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def _latencies(
    targets: dict[str, str], body: bytes, runs: int, *, first_byte: bool = False
) -> dict[str, list[float]]:
    """Times of `runs` requests per target, one at a time, the targets interleaved."""
    times: dict[str, list[float]] = {name: [] for name in targets}
    async with aiohttp.ClientSession() as session:
        measure = _first_byte if first_byte else _post
        for base in targets.values():
            for _ in range(20):  # warm: connections open, code paths run
                await measure(session, base + "chat/completions", body)
        for _ in range(runs):
            for name, base in targets.items():
                times[name].append(await measure(session, base + "chat/completions", body))
    return times


async def _throughput(base: str, body: bytes, requests: int, clients: int) -> float:
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        url = base + "chat/completions"
        for _ in range(clients):
            await _post(session, url, body)
        queue = iter(range(requests))

        async def client() -> None:
            for _ in queue:
                await _post(session, url, body)

        start = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        return requests / (time.perf_counter() - start)


async def _flood(base: str, body: bytes, count: int) -> list[int]:
    timeout = aiohttp.ClientTimeout(total=600)
    connector = aiohttp.TCPConnector(limit=count)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one() -> int:
            async with session.post(base + "chat/completions", data=body, headers=_HEADERS) as r:
                await r.read()
                return r.status

        return list(await asyncio.gather(*(one() for _ in range(count))))


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    """Run every workload and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs, for trying a change")
    parser.add_argument("--litellm", default=shutil.which("litellm"), help="LiteLLM's CLI script")
    parser.add_argument("--memory-only", action="store_true", help="only the memory workload")
    args = parser.parse_args()
    if args.memory_only:
        print(_table([_memory_row()]))
        return
    runs, requests = (100, 1000) if args.quick else (400, 4000)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    started = os.getloadavg()
    text, photo = _body(), _body(_jpeg(1_000_000))
    stream = _body(stream=True)
    rows: list[tuple[str, str, str, str, str]] = []
    with (
        serve("gemini", latency=0.0) as upstream,
        _ours(upstream) as (ours, _),
        _maybe_litellm(args.litellm, upstream) as litellm,
    ):
        targets = {"direct": upstream, "ogv serve": ours}
        if litellm:
            targets["LiteLLM proxy"] = litellm
        for label, body in (("text-only", text), ("1 MB JPEG", photo)):
            times = asyncio.run(_latencies(targets, body, runs))
            limits = (2.0, 10.0) if label == "text-only" else (None, None)
            rows.append(_added_row(f"latency added, {label}", times, *limits))
        times = asyncio.run(_latencies(targets, stream, runs, first_byte=True))
        rows.append(_added_row("stream time to first byte, added", times, 5.0, None))
        rates = {
            name: asyncio.run(_throughput(base, text, requests, 64))
            for name, base in targets.items()
        }
        ratio = rates["ogv serve"] / rates["LiteLLM proxy"] if "LiteLLM proxy" in rates else None
        rows.append(
            (
                "throughput, 64 clients, text-only",
                f"{rates['ogv serve']:,.0f} req/s (direct {rates['direct']:,.0f})",
                f"{rates['LiteLLM proxy']:,.0f} req/s"
                if "LiteLLM proxy" in rates
                else "not installed",
                f"{ratio:.1f}x" if ratio else "-",
                ">= 2x LiteLLM" + (f": {'met' if ratio >= 2 else 'missed'}" if ratio else ""),
            )
        )
    rows.append(_memory_row())
    table = _header(started) + _table(rows)
    OUT.mkdir(exist_ok=True)
    (OUT / "serve.md").write_text(table)
    print(table)


@contextmanager
def _maybe_litellm(script: str | None, upstream: str) -> Iterator[str | None]:
    if not script:
        yield None
        return
    with _litellm(script, upstream) as url:
        yield url


def _added_row(
    what: str, times: dict[str, list[float]], p50_max: float | None, p99_max: float | None
) -> tuple[str, str, str, str, str]:
    direct = times["direct"]

    def added(name: str) -> str:
        mine = times[name]
        return (
            f"p50 +{_pct(mine, 0.5) - _pct(direct, 0.5):.2f} ms, "
            f"p99 +{_pct(mine, 0.99) - _pct(direct, 0.99):.2f} ms"
        )

    other = added("LiteLLM proxy") if "LiteLLM proxy" in times else "not installed"
    base = f" (direct p50 {statistics.median(direct):.2f} ms)"
    mine = times["ogv serve"]
    checks = []
    if p50_max is not None:
        met = _pct(mine, 0.5) - _pct(direct, 0.5) <= p50_max
        checks.append(f"p50 <= {p50_max:g} ms: {'met' if met else 'missed'}")
    if p99_max is not None:
        met = _pct(mine, 0.99) - _pct(direct, 0.99) <= p99_max
        checks.append(f"p99 <= {p99_max:g} ms: {'met' if met else 'missed'}")
    return (what, added("ogv serve") + base, other, "-", "; ".join(checks) or "-")


def _memory_row() -> tuple[str, str, str, str, str]:
    bound = 1_000_000_000
    body = _body(_jpeg(11_000_000))  # ~15 MB as base64 JSON
    with (
        serve("gemini", latency=0.5) as upstream,
        _ours(upstream, "--max-bytes-in-flight", str(bound), "--queue-timeout", "120") as (
            ours,
            process,
        ),
    ):
        baseline = _peak_rss(process.pid)
        start = time.perf_counter()
        statuses = asyncio.run(_flood(ours, body, 100))
        seconds = time.perf_counter() - start
        peak = _peak_rss(process.pid)
    ok = statuses.count(200)
    return (
        f"peak memory, 100 requests of {len(body) / 1e6:.0f} MB at once",
        f"{peak / 1e6:,.0f} MB peak RSS ({baseline / 1e6:,.0f} MB idle), {ok}/100 answered in {seconds:.1f} s",
        "-",
        "-",
        f"within --max-bytes-in-flight {bound / 1e6:,.0f} MB + idle: "
        + ("met" if peak - baseline <= bound else "missed"),
    )


def _header(load_before: tuple[float, float, float]) -> str:
    """When, on what, at which commit, and how busy the machine was."""
    import platform
    from datetime import UTC, datetime

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - the repository's own git
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    ).stdout.strip()
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    after = os.getloadavg()
    return (
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC at commit {commit or '?'} on {cpu}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; load average "
        f"{load_before[0]:.2f} before, {after[0]:.2f} after (a shared machine: other work ran "
        "beside). Upstream: tests/fakegemini.py answering at once, in its own process.\n\n"
    )


def _table(rows: list[tuple[str, str, str, str, str]]) -> str:
    lines = [
        "| workload | ogv serve | LiteLLM proxy | ours / LiteLLM | target |",
        "|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
