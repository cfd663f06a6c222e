"""Loopback servers for the benchmarks, each in a process of its own that stops by itself.

Two kinds, both on 127.0.0.1 only:
- `files DIR`: serves DIR's files at GET /<name>, each answer after `--latency` seconds
  (an image host far away);
- `gemini`: tests/fakegemini.py's stand-in for Gemini's chat endpoint, answering after
  `--latency` seconds.

A server prints its base URL on its first line, then serves until its standard input
closes (the benchmark finished, or died: the pipe closes either way) or `--lifetime`
seconds pass, whichever comes first. Its own process keeps its threads off the
benchmark's interpreter lock, as a real server would be.

    with serve("files", str(folder), latency=0.2) as base_url:
        ...
"""

from __future__ import annotations

import argparse
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["serve"]

ROOT = Path(__file__).resolve().parent.parent
LIFETIME = 600.0  # seconds: longer than any workload, short enough not to linger


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 drops a burst of connections; each costs a 1 s retransmit.
    request_queue_size = 256


class _SlowFiles(SimpleHTTPRequestHandler):
    """Files from one folder, each answer held back by `latency` seconds."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: with Nagle's algorithm on, the body
    # would wait for the client's delayed ACK (40 ms on Linux loopback).
    disable_nagle_algorithm = True
    latency = 0.0

    def do_GET(self) -> None:
        time.sleep(self.latency)
        super().do_GET()

    def copyfile(self, source: Any, outputfile: Any) -> None:
        """Send the body with sendfile(2): the kernel copies it, not this process.

        The server shares the machine with the client it serves; the less of the CPU
        it takes, the more the figures are the client's.
        """
        self.connection.sendfile(source)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a benchmark prints its own figures."""


def _files_url(folder: str, latency: float) -> tuple[_Server, str]:
    handler = type("Handler", (_SlowFiles,), {"latency": latency})
    server = _Server(("127.0.0.1", 0), partial(handler, directory=folder))
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def _until_stdin_closes(lifetime: float) -> None:
    """Block until the parent closes our stdin (or dies), or `lifetime` seconds pass.

    Polled here rather than read in a thread: a thread blocked reading stdin holds its
    lock, and the interpreter would then hang at exit instead of stopping.
    """
    deadline = time.monotonic() + lifetime
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([sys.stdin], [], [], left)
        if ready and not os.read(sys.stdin.fileno(), 4096):
            return  # end of file: the parent closed the pipe, or died


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["files", "gemini"])
    parser.add_argument("folder", nargs="?", help="for files: the folder to serve")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--lifetime", type=float, default=LIFETIME)
    args = parser.parse_args()
    if args.kind == "files":
        server, url = _files_url(args.folder, args.latency)
        print(url, flush=True)
        _until_stdin_closes(args.lifetime)
        server.shutdown()
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from fakegemini import FakeGemini  # type: ignore[import-not-found] # found via the line above

    with FakeGemini(latency=args.latency) as fake:
        print(fake.base_url, flush=True)
        _until_stdin_closes(args.lifetime)


@contextmanager
def serve(*args: str, latency: float) -> Iterator[str]:
    """Run a loopback server (`"files", folder` or `"gemini"`) and yield its base URL."""
    command = [sys.executable, __file__, *args, "--latency", str(latency)]
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert child.stdin is not None
    assert child.stdout is not None
    try:
        url = child.stdout.readline().strip()
        if not url:
            raise RuntimeError(f"the loopback server {args} did not start")
        yield url
    finally:
        child.stdin.close()
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


if __name__ == "__main__":
    _main()
