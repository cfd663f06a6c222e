"""Running the gateway for tests: uvicorn in a thread of this process, on 127.0.0.1:<free port>.

    with FakeGemini() as fake, running(config_for(fake)) as gateway:
        client = openai.OpenAI(base_url=gateway.base_url, api_key=GATEWAY_KEY)

The socket is bound before the server starts, so the port is known at once and no test
waits on a guess. Every wait is bounded and ends the test with a clear failure.
"""

from __future__ import annotations

import asyncio
import base64
import io
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx2
import uvicorn
from PIL import Image
from pydantic import SecretStr
from starlette.applications import Starlette

from openai_gemini_vision.serve import ServeConfig, create_app
from openai_gemini_vision.serve.app import Gateway

from .fakegemini import FakeGemini

__all__ = [
    "AUTH",
    "GATEWAY_KEY",
    "MODEL",
    "UPSTREAM_KEY",
    "Running",
    "ask",
    "config_for",
    "image_data_url",
    "running",
]

#: The key clients of the test gateway send.
GATEWAY_KEY = "gateway-key-for-tests-0123456789"
#: The Gemini key the test gateway sends upstream.
UPSTREAM_KEY = "upstream-gemini-key-not-real"
#: The headers a client of the test gateway sends.
AUTH = {"Authorization": f"Bearer {GATEWAY_KEY}"}
#: The model the gateway tests ask for.
MODEL = "gemini-2.5-flash"

#: Longest any test waits for a server to start or stop.
STARTUP_LIMIT = 30.0


def config_for(fake: FakeGemini, **changes: Any) -> ServeConfig:
    """A gateway config forwarding to `fake`, with one gateway key and the server's key."""
    settings: dict[str, Any] = {
        "upstream": fake.base_url,
        "gateway_keys": (SecretStr(GATEWAY_KEY),),
        "upstream_key": SecretStr(UPSTREAM_KEY),
        "log_format": "off",
    }
    settings.update(changes)
    return ServeConfig(**settings)


@dataclass
class Running:
    """A gateway being served: where it is, and its app's state."""

    app: Starlette
    port: int
    loop: asyncio.AbstractEventLoop | None = field(default=None)
    """The server's event loop, once it has started."""

    def tasks(self) -> int:
        """Tasks alive on the server's loop (the caller's own query not counted)."""
        assert self.loop is not None

        async def count() -> int:
            return len(asyncio.all_tasks()) - 1

        return asyncio.run_coroutine_threadsafe(count(), self.loop).result(STARTUP_LIMIT)

    @property
    def url(self) -> str:
        """http://127.0.0.1:<port>"""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What OpenAI clients take as their base URL."""
        return f"{self.url}/v1"

    @property
    def gateway(self) -> Gateway:
        """The app's state: admission, metrics, upstream."""
        gateway: Gateway = self.app.state.gateway
        return gateway


@contextmanager
def running(config: ServeConfig, *, grace: float = 5.0) -> Iterator[Running]:
    """Serve `create_app(config)` on loopback for the `with` block, then stop it."""
    app = create_app(config, host="127.0.0.1")
    state = Running(app, 0)
    original = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(inner: Starlette) -> AsyncIterator[None]:
        state.loop = asyncio.get_running_loop()
        async with original(inner):
            yield

    app.router.lifespan_context = lifespan
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    state.port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=grace,
            backlog=512,
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_LIMIT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the gateway did not start")
        time.sleep(0.01)
    try:
        yield state
    finally:
        server.should_exit = True
        thread.join(STARTUP_LIMIT)
        sock.close()


def image_data_url(image: Image.Image, fmt: str) -> str:
    """`image` saved as `fmt` (PNG, GIF ...), as a data URL."""
    out = io.BytesIO()
    image.save(out, fmt)
    return f"data:image/{fmt.lower()};base64," + base64.b64encode(out.getvalue()).decode()


def ask(base_url: str, urls: list[str]) -> httpx2.Response:
    """One chat completion through the gateway at `base_url`, an image part per URL."""
    content = [{"type": "image_url", "image_url": {"url": url}} for url in urls]
    body = {"model": MODEL, "messages": [{"role": "user", "content": content}]}
    return httpx2.post(f"{base_url}/chat/completions", json=body, headers=AUTH, timeout=60)
