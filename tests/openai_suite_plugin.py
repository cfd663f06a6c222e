"""A pytest plugin run inside openai's own test suite: swaps in our clients, records the wire.

`tests/test_openai_suite.py` runs openai's tests (from its source distribution) in a
subprocess with `-p openai_suite_plugin`. Loaded before openai's conftest and test modules
are imported, the plugin replaces `openai.OpenAI` / `openai.AsyncOpenAI`, which is where
every selected openai test takes its clients from (`from openai import OpenAI, AsyncOpenAI`).
It then writes, for each test, its outcome and every HTTP request it sent, so the runs can
be compared test by test.

Environment:
- `OGV_SUITE_MODE`: `control` (openai untouched), `ours` (our `OpenAI` / `AsyncOpenAI`)
  or `wrap` (openai's classes, each new client passed through `wrap()`).
- `OGV_SUITE_REPORT`: the JSON file the outcomes and requests are written to.
"""

from __future__ import annotations

import inspect
import json
import os
import re
from collections.abc import Generator
from typing import Any

import httpx2
import openai
import pytest

# Absolute, not `from .fakeopenai`: this runs inside openai's suite, where `tests` is
# openai's own package and ours is reached through PYTHONPATH=<checkout>/tests.
from fakeopenai import FakeOpenAI

import openai_gemini_vision

__all__ = ["SKIP_REASON_EXTERNAL"]

#: Why a test whose recorded answer lives in an inline-snapshot external file is skipped.
SKIP_REASON_EXTERNAL = (
    "its recorded stream is an inline-snapshot external file (.inline-snapshot/external/), "
    "which openai's source distribution does not ship"
)

_MODE = os.environ.get("OGV_SUITE_MODE", "control")
_REPORT = os.environ.get("OGV_SUITE_REPORT", "")

_PlainOpenAI = openai.OpenAI
_PlainAsyncOpenAI = openai.AsyncOpenAI


class _WrapOnInitOpenAI(_PlainOpenAI):
    """`openai.OpenAI`, each instance passed through `wrap()` as soon as it is made."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        openai_gemini_vision.wrap(self)


class _WrapOnInitAsyncOpenAI(_PlainAsyncOpenAI):
    """`openai.AsyncOpenAI`, each instance passed through `wrap()` as soon as it is made."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        openai_gemini_vision.wrap(self)


# Named as openai names them, so that what wrap() does to the name (the User-Agent is made
# from the class name) is what a user's plain `openai.OpenAI` would get.
for _cls, _name in ((_WrapOnInitOpenAI, "OpenAI"), (_WrapOnInitAsyncOpenAI, "AsyncOpenAI")):
    _cls.__name__ = _cls.__qualname__ = _name

if _MODE == "ours":
    openai.OpenAI = openai_gemini_vision.OpenAI  # type: ignore[misc]
    openai.AsyncOpenAI = openai_gemini_vision.AsyncOpenAI  # type: ignore[misc]
elif _MODE == "wrap":
    openai.OpenAI = _WrapOnInitOpenAI  # type: ignore[misc]
    openai.AsyncOpenAI = _WrapOnInitAsyncOpenAI  # type: ignore[misc]
elif _MODE != "control":
    raise pytest.UsageError(f"OGV_SUITE_MODE={_MODE!r}: use control, ours or wrap")

# openai's generated API tests read TEST_API_BASE_URL when their modules are imported,
# which is after this plugin is.
_server = FakeOpenAI().start()
os.environ["TEST_API_BASE_URL"] = _server.base_url

_current: str | None = None
_requests: dict[str, list[dict[str, Any]]] = {}
_outcomes: dict[str, dict[str, str]] = {}

# Values that differ on every run whatever the client: openai's per-request idempotency
# key (a fresh uuid4), and the boundary httpx2 draws at random for each multipart body.
_IDEMPOTENCY = re.compile(r"^stainless-python-retry-[0-9a-f-]+$")
_BOUNDARY = re.compile(rb"boundary=([0-9A-Za-z'()+_,./:=?-]+)")


def _record(request: httpx2.Request) -> None:
    """Keep what goes on the wire for `request`, with the per-run random parts masked."""
    if _current is None:
        return
    try:
        body: bytes | None = request.content
    except httpx2.RequestNotRead:  # a streamed upload: reading it here would consume it
        body = None
    headers = [
        [name.decode("latin-1"), value.decode("latin-1")] for name, value in request.headers.raw
    ]
    content_type = request.headers.get("content-type", "").encode("latin-1")
    boundary = _BOUNDARY.search(content_type)
    for pair in headers:
        if _IDEMPOTENCY.match(pair[1]):
            pair[1] = "<idempotency key>"
        elif boundary:
            pair[1] = pair[1].replace(boundary.group(1).decode("latin-1"), "<boundary>")
    if body is not None and boundary:
        body = body.replace(boundary.group(1), b"<boundary>")
    _requests.setdefault(_current, []).append(
        {
            "method": request.method,
            "url": str(request.url),
            "headers": headers,
            "body": None if body is None else body.decode("utf-8", "backslashreplace"),
        }
    )


# Every request of an openai client goes through Client.send / AsyncClient.send, whether a
# respx route, a mock transport or a loopback socket answers it.
_plain_send = httpx2.Client.send
_plain_async_send = httpx2.AsyncClient.send


def _send(self: httpx2.Client, request: httpx2.Request, **kwargs: Any) -> httpx2.Response:
    _record(request)
    return _plain_send(self, request, **kwargs)


async def _async_send(
    self: httpx2.AsyncClient, request: httpx2.Request, **kwargs: Any
) -> httpx2.Response:
    _record(request)
    return await _plain_async_send(self, request, **kwargs)


httpx2.Client.send = _send  # type: ignore[method-assign]
httpx2.AsyncClient.send = _async_send  # type: ignore[method-assign]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip, in every run alike, the tests whose recorded data the sdist leaves out."""
    for item in items:
        function = getattr(item, "function", None)
        if function is None:
            continue
        try:
            source = inspect.getsource(function)
        except (OSError, TypeError):
            continue
        if "external(" in source:
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON_EXTERNAL))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    """Attribute the requests sent while `item` runs (setup to teardown) to it."""
    global _current
    _current = item.nodeid
    try:
        return (yield)
    finally:
        _current = None


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """One outcome per test: failed or error beats skipped beats passed."""
    xfail = hasattr(report, "wasxfail")
    if report.failed:
        outcome = "failed" if report.when == "call" else "error"
    elif report.skipped:
        outcome = "xfailed" if xfail else "skipped"
    else:
        outcome = "xpassed" if xfail else "passed"
    rank = ["passed", "xpassed", "skipped", "xfailed", "failed", "error"]
    entry = _outcomes.setdefault(report.nodeid, {"outcome": "passed", "message": ""})
    if rank.index(outcome) >= rank.index(entry["outcome"]):
        message = ""
        if report.failed:
            crash = getattr(report.longrepr, "reprcrash", None)
            message = crash.message if crash is not None else report.longreprtext
        elif report.skipped and isinstance(report.longrepr, tuple):
            message = str(report.longrepr[2])
        entry.update(outcome=outcome, message=message[:500])


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write the outcomes and requests for the comparing test to read."""
    if _REPORT:
        with open(_REPORT, "w", encoding="utf-8") as file:
            json.dump({"mode": _MODE, "outcomes": _outcomes, "requests": _requests}, file)


def pytest_unconfigure() -> None:
    """Stop the stand-in server."""
    _server.stop()
