"""The Gemini key never shows: not in logs, exception messages or reprs, cassettes or CLI output.

Every test runs with GEMINI_API_KEY set to a recognisable key, drives a client path
against a loopback Gemini (tests/fakegemini.py, which refuses any other key), and scans
everything a person or a log file could be shown for that key, or for its middle alone
(a key cut short to fit a line still leaks).
"""

from __future__ import annotations

import logging
import socket
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
import vcr
from click.testing import Result
from pydantic import BaseModel

from openai_gemini_vision import AsyncOpenAI, MissingAPIKeyError, OpenAI, testing, wrap

from .clirunner import run_ogv
from .fakegemini import FakeGemini
from .imaging import image_bytes

CANARY = "KeyHygieneCanary"
KEY = "AIzaSy" + CANARY + "0123456789abcdefg"  # Google's shape: "AIza" and 35 more characters
OTHER_KEY = "AIzaSy" + "SomeoneElsesKey" + "0123456789abcdefgh"
PNG = image_bytes("PNG", 32, 24)
ANSWER = '{"caption": "a small photo"}'
LOGGERS = ("openai", "httpx2", "httpcore2", "openai_gemini_vision")


class Caption(BaseModel):
    """What `parse` reads the answer into."""

    caption: str


def assert_clean(*texts: object) -> None:
    """None of `texts` holds the key, or the middle of it."""
    assert len(KEY) == 39
    for text in texts:
        shown = text if isinstance(text, str) else repr(text)
        assert KEY not in shown
        assert CANARY not in shown, shown[max(0, shown.find(CANARY) - 200) :][:400]


def shown(exc: BaseException) -> list[str]:
    """Everything an exception shows: its message, repr, and full traceback with causes."""
    return [str(exc), repr(exc), "".join(traceback.format_exception(exc))]


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Every captured log line as formatted, and each record's fields as stored."""
    return [caplog.text, *(repr(vars(record)) for record in caplog.records)]


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    """The recognisable key, in GEMINI_API_KEY as users set it."""
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    return KEY


@pytest.fixture(autouse=True)
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every logger the clients use, captured at DEBUG."""
    caplog.set_level(logging.DEBUG)
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


@pytest.fixture
def fake() -> Iterator[FakeGemini]:
    """A loopback Gemini that takes only KEY and answers with JSON `parse` can read."""
    with FakeGemini(api_key=KEY, answer=lambda _body: ANSWER) as server:
        yield server


@pytest.fixture
def picky() -> Iterator[FakeGemini]:
    """A loopback Gemini that takes only another key: KEY gets Gemini's 400 API_KEY_INVALID."""
    with FakeGemini(api_key=OTHER_KEY) as server:
        yield server


def closed_port_url() -> str:
    """A loopback base URL where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1beta/openai/"


def _messages() -> list[dict[str, Any]]:
    return [{"role": "user", "content": ["What is in this photo?", PNG]}]


def test_logs_capture_every_client_logger(
    fake: FakeGemini, caplog: pytest.LogCaptureFixture
) -> None:
    """The DEBUG capture really hears openai, httpx2, httpcore2 and this library (else the scans prove nothing)."""
    with OpenAI(base_url=fake.base_url) as client:
        client.chat.completions.create(model="gemini-2.5-flash", messages=_messages())
    heard = {record.name.split(".")[0] for record in caplog.records}
    assert set(LOGGERS) <= heard
    assert any("Prepared 1 image(s)" in record.getMessage() for record in caplog.records)


def test_sync_create_stream_and_parse(fake: FakeGemini, caplog: pytest.LogCaptureFixture) -> None:
    """create, stream and parse on OpenAI and on a wrapped openai.OpenAI send the key and show it nowhere."""
    plain = openai.OpenAI(api_key=KEY, base_url=fake.base_url)
    with OpenAI(base_url=fake.base_url) as ours, wrap(plain) as wrapped:
        for client in (ours, wrapped, ours.with_options(timeout=5.0)):
            completion = client.chat.completions.create(
                model="gemini-2.5-flash", messages=_messages()
            )
            chunks = list(
                client.chat.completions.create(
                    model="gemini-2.5-flash", messages=_messages(), stream=True
                )
            )
            parsed = client.chat.completions.parse(
                model="gemini-2.5-flash", messages=_messages(), response_format=Caption
            )
            assert completion.choices[0].message.content == ANSWER
            assert parsed.choices[0].message.parsed == Caption(caption="a small photo")
            assert_clean(client, str(client), completion, chunks, parsed)
    assert fake.statuses == [200] * 9  # the fake took the key every time
    assert_clean(*logged(caplog))


@pytest.mark.asyncio
async def test_async_create_stream_and_parse(
    fake: FakeGemini, caplog: pytest.LogCaptureFixture
) -> None:
    """The async client's create, stream and parse show the key nowhere."""
    async with AsyncOpenAI(base_url=fake.base_url) as client:
        completion = await client.chat.completions.create(
            model="gemini-2.5-flash", messages=_messages()
        )
        stream = await client.chat.completions.create(
            model="gemini-2.5-flash", messages=_messages(), stream=True
        )
        chunks = [chunk async for chunk in stream]
        parsed = await client.chat.completions.parse(
            model="gemini-2.5-flash", messages=_messages(), response_format=Caption
        )
        assert parsed.choices[0].message.parsed == Caption(caption="a small photo")
        assert_clean(client, str(client), completion, chunks, parsed)
    assert fake.statuses == [200] * 3
    assert_clean(*logged(caplog))


def _failing(
    scenario: str, fake: FakeGemini, picky: FakeGemini
) -> tuple[str, dict[str, Any], type[openai.OpenAIError]]:
    """(base URL, client options, expected error) for one way a request fails."""
    if scenario == "bad key":
        return picky.base_url, {}, openai.BadRequestError
    if scenario == "429 after retries":
        fake.script(429, 429)
        return fake.base_url, {"max_retries": 1}, openai.RateLimitError
    if scenario == "500 after retries":
        fake.script(500, 500)
        return fake.base_url, {"max_retries": 1}, openai.InternalServerError
    return closed_port_url(), {"max_retries": 0}, openai.APIConnectionError


SCENARIOS = ["bad key", "429 after retries", "500 after retries", "connection refused"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_sync_errors(
    scenario: str, fake: FakeGemini, picky: FakeGemini, caplog: pytest.LogCaptureFixture
) -> None:
    """A refused key, a quota error, a server error or a refused connection never show the key."""
    base_url, options, expected = _failing(scenario, fake, picky)
    with OpenAI(base_url=base_url, **options) as client, pytest.raises(expected) as info:
        client.chat.completions.create(model="gemini-2.5-flash", messages=_messages())
    assert_clean(*shown(info.value), *logged(caplog))


@pytest.mark.asyncio
@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_async_errors(
    scenario: str, fake: FakeGemini, picky: FakeGemini, caplog: pytest.LogCaptureFixture
) -> None:
    """The async client's errors never show the key either."""
    base_url, options, expected = _failing(scenario, fake, picky)
    async with AsyncOpenAI(base_url=base_url, **options) as client:
        with pytest.raises(expected) as info:
            await client.chat.completions.create(model="gemini-2.5-flash", messages=_messages())
    assert_clean(*shown(info.value), *logged(caplog))


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        (
            "application/json",
            f'[{{"error": {{"code": 400, "message": "Bad key {KEY}."}}}}]',
            "Error code: 400 - Bad key <api key>.",
        ),
        ("text/plain", f"key={KEY} is not allowed", "Error code: 400"),
    ],
    ids=["json", "text"],
)
def test_a_server_echoing_the_key_is_scrubbed(
    content_type: str, body: str, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An error body that quotes the key (JSON or plain text) gives a message without it."""

    def echo(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(400, text=body, headers={"content-type": content_type})

    http = httpx2.Client(transport=httpx2.MockTransport(echo))
    with (
        OpenAI(base_url="http://127.0.0.1:9/v1beta/openai/", http_client=http) as client,
        pytest.raises(openai.BadRequestError) as info,
    ):
        client.chat.completions.create(model="gemini-2.5-flash", messages=_messages())
    assert str(info.value).startswith(message)
    assert_clean(*shown(info.value), *logged(caplog))


@pytest.mark.parametrize("padding", ["\n", "\r\n", "  ", "\t"])
def test_a_key_read_from_a_file_is_stripped(
    padding: str, fake: FakeGemini, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key keeping its file's newline (argument or environment) is sent without it."""
    with OpenAI(api_key=KEY + padding, base_url=fake.base_url, max_retries=0) as client:
        client.chat.completions.create(model="gemini-2.5-flash", messages=_messages())
    monkeypatch.setenv("GEMINI_API_KEY", padding + KEY + padding)
    with OpenAI(base_url=fake.base_url, max_retries=0) as client:
        client.chat.completions.create(model="gemini-2.5-flash", messages=_messages())
    assert fake.statuses == [200, 200]


@pytest.mark.parametrize("bad", ["\n", "\r", "\x1b", "\x7f", "\u2019"])
def test_a_key_that_cannot_be_sent_is_refused_without_showing_it(
    bad: str, fake: FakeGemini, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A key with a line break, control character or curly quote inside is refused by position, not printed."""
    broken = KEY[:20] + bad + KEY[20:]
    with pytest.raises(MissingAPIKeyError, match=r"position 21 of 40.*aistudio") as argument:
        OpenAI(api_key=broken, base_url=fake.base_url)
    monkeypatch.setenv("GEMINI_API_KEY", broken)
    with pytest.raises(MissingAPIKeyError, match="GEMINI_API_KEY") as environment:
        AsyncOpenAI(base_url=fake.base_url)
    assert fake.requests == []
    assert_clean(*shown(argument.value), *shown(environment.value), *logged(caplog))


def test_a_recorded_cassette_holds_no_key(fake: FakeGemini, tmp_path: Path) -> None:
    """Recording create, stream and an error with the library's vcr_config leaves the key out of the file."""
    recorder = vcr.VCR(cassette_library_dir=str(tmp_path), record_mode="all")
    testing.register(recorder)
    fake.script(500)
    with (
        recorder.use_cassette("client.yaml", **testing.vcr_config()) as cassette,
        OpenAI(base_url=fake.base_url, max_retries=0) as client,
    ):
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="gemini-2.5-flash", messages=_messages())
        client.chat.completions.create(model="gemini-2.5-flash", messages=_messages())
        list(
            client.chat.completions.create(
                model="gemini-2.5-flash", messages=_messages(), stream=True
            )
        )
        assert len(cassette.requests) == 3
    text = (tmp_path / "client.yaml").read_text()
    assert "<image/png " in text  # the recording really holds these requests
    assert_clean(text)


def _ask(*args: str) -> Result:
    png = Path("photo.png")
    png.write_bytes(PNG)
    return run_ogv(["ask", str(png), "--prompt", "What is it?", *args])


def _cli_shown(result: Result) -> list[str]:
    extra = shown(result.exception) if result.exception else []
    return [result.output, result.stderr, *extra]


def test_cli_dry_run(
    fake: FakeGemini,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`ogv ask --dry-run` prints the request it would send, and no key."""
    monkeypatch.chdir(tmp_path)
    result = _ask("--dry-run", "--base-url", fake.base_url)
    assert result.exit_code == 0, result.output
    assert "(dry run: not sent)" in result.stderr
    assert fake.requests == []
    assert_clean(*_cli_shown(result), *logged(caplog))


@pytest.mark.parametrize("debug", [False, True], ids=["one line", "--debug traceback"])
@pytest.mark.parametrize("scenario", ["bad key", "500 after retries", "connection refused"])
def test_cli_failing_ask(
    scenario: str,
    debug: bool,
    fake: FakeGemini,
    picky: FakeGemini,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failing `ogv ask` (one-line error or --debug traceback) shows no key."""
    monkeypatch.chdir(tmp_path)
    fake.script(500, 500, 500)  # the CLI's client keeps openai's two retries
    base_url, expected = {
        "bad key": (picky.base_url, openai.BadRequestError),
        "500 after retries": (fake.base_url, openai.InternalServerError),
        "connection refused": (closed_port_url(), openai.APIConnectionError),
    }[scenario]
    result = _ask("--base-url", base_url, *(["--debug"] if debug else []))
    assert result.exit_code != 0
    if debug:
        assert isinstance(result.exception, expected)
    else:
        assert result.stderr.startswith("ogv: error:"), result.output
    assert_clean(*_cli_shown(result), *logged(caplog))


def test_cli_failing_caption(
    picky: FakeGemini, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`ogv caption` refused by the key shows none, on screen or in its results file."""
    (tmp_path / "photo.png").write_bytes(PNG)
    out = tmp_path / "captions.jsonl"
    result = run_ogv(
        [
            "caption",
            str(tmp_path),
            "-p",
            "Caption",
            "--out",
            str(out),
            "--base-url",
            picky.base_url,
        ],
    )
    assert result.exit_code != 0
    assert picky.statuses
    assert set(picky.statuses) == {400}
    written = out.read_text() if out.exists() else ""
    assert_clean(*_cli_shown(result), written, *logged(caplog))
