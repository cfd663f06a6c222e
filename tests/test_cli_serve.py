"""`ogv serve` as a command: its refusals, and a graceful stop on SIGTERM with streams in flight."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

pytest.importorskip("uvicorn", reason="the gateway's tests need the 'serve' extra")

import openai

from .clirunner import run_ogv
from .fakegemini import STALL, FakeGemini
from .servekit import MODEL

#: Longest the tests wait for the server process to say it is up, or to exit.
LIMIT = 60.0


def test_refuses_a_public_address_without_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--host 0.0.0.0` without a gateway key stops at once, saying why and what to pass."""
    monkeypatch.setenv("GEMINI_API_KEY", "server-key-not-real")
    result = run_ogv(["serve", "--host", "0.0.0.0"])  # noqa: S104 - refused
    assert result.exit_code == 1, result.output
    assert "open relay" in result.output
    assert "--api-key" in result.output


def test_needs_a_gemini_key_or_forwarding() -> None:
    """Without GEMINI_API_KEY the command names it and --forward-client-key (usage error)."""
    result = run_ogv(["serve"])
    assert result.exit_code == 2, result.output
    assert "GEMINI_API_KEY" in result.output
    assert "--forward-client-key" in result.output


def test_says_how_to_install_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the serve extra, the command says which pip command installs it."""
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import uvicorn now fails
    result = run_ogv(["serve"])
    assert result.exit_code == 1, result.output
    assert "pip install 'openai-gemini-vision[serve]'" in result.output
    assert "Traceback" not in result.output


def test_bad_option_values_are_one_line_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """An upstream that is no URL is refused in one line naming the field."""
    monkeypatch.setenv("GEMINI_API_KEY", "server-key-not-real")
    result = run_ogv(["serve", "--upstream", "ftp://nowhere"])
    assert result.exit_code == 1, result.output
    assert "upstream must be an http(s) URL" in result.output


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def _server(
    fake: FakeGemini, *extra: str, port: int = 0, workers: int = 1
) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """`ogv serve` in a process of its own on 127.0.0.1 (port 0: any), once every worker is up."""
    env = {**os.environ, "GEMINI_API_KEY": "server-key-not-real"}
    command = [sys.executable, "-m", "openai_gemini_vision", "serve", "--port", str(port)]
    command += ["--upstream", fake.base_url, "--log-format", "off", "--workers", str(workers)]
    command += extra
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env
    )
    assert process.stderr is not None
    lines: list[str] = []
    ready = 0
    timer = threading.Timer(LIMIT, process.kill)  # a server that never starts ends the wait
    timer.start()
    try:
        for line in process.stderr:
            lines.append(line)
            found = re.search(r"running on http://127\.0\.0\.1:(\d+)", line)
            if found:
                port = port or int(found.group(1))
            ready += "Application startup complete" in line
            if port and ready == workers:
                break
    finally:
        timer.cancel()
    assert port, "".join(lines)
    # Keep reading stderr so that the server never blocks on a full pipe.
    reader = threading.Thread(target=process.stderr.read, daemon=True)
    reader.start()
    try:
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(LIMIT)
        reader.join(LIMIT)
        process.stderr.close()


def _refuses_connections(port: int) -> bool:
    """Whether nothing accepts connections on the port any more (checked for up to LIMIT s)."""
    stop = threading.Event()
    for _ in range(int(LIMIT / 0.02)):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                pass
        except OSError:
            return True
        stop.wait(0.02)
    return False


def _stream(base_url: str, results: list[str]) -> None:
    client = openai.OpenAI(base_url=base_url, api_key="anything-on-loopback", max_retries=0)
    chunks = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "one two three"}], stream=True
    )
    results.append("".join(chunk.choices[0].delta.content or "" for chunk in chunks))


def test_sigterm_lets_streams_in_flight_finish() -> None:
    """On SIGTERM the server stops accepting, finishes the streams in flight, then exits."""
    with FakeGemini() as fake, _server(fake, "--grace", "60") as (process, port):
        fake.script(STALL, STALL, STALL)
        results: list[str] = []
        base_url = f"http://127.0.0.1:{port}/v1"
        threads = [threading.Thread(target=_stream, args=(base_url, results)) for _ in range(3)]
        for thread in threads:
            thread.start()
        assert fake.wait_for(lambda f: f.held == 3)
        process.send_signal(signal.SIGTERM)
        assert _refuses_connections(port)
        assert process.poll() is None  # still finishing the three streams
        fake.release()
        for thread in threads:
            thread.join(LIMIT)
        code = process.wait(LIMIT)
    assert results == ["I see 0 image(s): ."] * 3
    # uvicorn raises the signal again once it has finished, so a supervisor sees the stop.
    assert code in (0, -signal.SIGTERM)
    assert fake.cancelled == 0


def test_several_workers_serve_the_same_port() -> None:
    """`--workers 2` serves requests from worker processes that read the parent's config."""
    with (
        FakeGemini() as fake,
        _server(fake, port=_free_port(), workers=2) as (
            process,
            port,
        ),
    ):
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="loopback")
        answers = [
            client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}])
            for _ in range(4)
        ]
        client.close()
        process.send_signal(signal.SIGTERM)
        code = process.wait(LIMIT)
    assert [a.choices[0].message.content for a in answers] == ["I see 0 image(s): ."] * 4
    assert fake.authorizations == ["Bearer server-key-not-real"] * 4
    assert code in (0, -signal.SIGTERM)


def test_keys_from_flags_and_environment_reach_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    """--api-key (repeated) and OGV_SERVE_API_KEYS both count; with them a wide bind is allowed."""
    import uvicorn

    started: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: started.update(app=app, **options))
    monkeypatch.setenv("GEMINI_API_KEY", "server-key-not-real")
    monkeypatch.setenv("OGV_SERVE_API_KEYS", "env-key-aaaaaaaaaaaaaaaa, env-key-bbbbbbbbbbbbbbbb")
    first, second = "flag-key-cccccccccccccccc", "flag-key-dddddddddddddddd"
    wide = "0.0.0.0"  # noqa: S104 - never bound: uvicorn.run is replaced
    args = ["serve", "--host", wide, "--port", "9999", "--api-key", first, "--api-key", second]
    result = run_ogv(args)
    assert result.exit_code == 0, result.output
    config = started["app"].state.gateway.config
    keys = {key.get_secret_value() for key in config.gateway_keys}
    assert keys == {first, second, "env-key-aaaaaaaaaaaaaaaa", "env-key-bbbbbbbbbbbbbbbb"}
    assert (started["host"], started["port"]) == (wide, 9999)
    assert started["timeout_graceful_shutdown"] == 30.0
    # Keys are never printed, not even in the banner.
    assert first not in result.output
    assert "4 gateway key(s)" in result.output
