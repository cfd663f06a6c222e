"""Real recordings of Gemini's endpoint replay through our clients as through openai's own.

The recordings live outside the project, in ../shared/reference/cassettes/ (see
GEMINI_FACTS.md there): tool calls from gemini-2.5-pro (pydantic-ai's suite) and streamed
gzip answers from gemini-2.0-flash (magentic's suite). Each request recorded there is
sent again, through `openai_gemini_vision.OpenAI` / `AsyncOpenAI` and through a plain
`openai` client; both must send the same body and get the same objects back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
import vcr
import yaml

import openai_gemini_vision as ogv

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "cassettes"

pytestmark = pytest.mark.skipif(
    not REFERENCE.is_dir(), reason=f"reference recordings not found at {REFERENCE}"
)

# The recorded hosts, headers and bodies come from other clients; what identifies an
# interaction is its method and path, and they are played in order.
REPLAY = vcr.VCR(record_mode="none", match_on=("method", "path"))


def recorded_bodies(name: str) -> list[dict[str, Any]]:
    """The JSON bodies of the requests recorded in cassette `name`, in order."""
    interactions = yaml.safe_load((REFERENCE / name).read_text())["interactions"]
    return [json.loads(i["request"]["body"]) for i in interactions]


def sync_clients(sent: list[bytes]) -> dict[str, openai.OpenAI]:
    """Our client and a plain openai one, both noting each body they send in `sent`."""

    def note(request: httpx2.Request) -> None:
        sent.append(request.read())

    def http() -> httpx2.Client:
        return httpx2.Client(event_hooks={"request": [note]})

    return {
        "ours": ogv.OpenAI(api_key="test-key-not-real", http_client=http(), max_retries=0),
        "plain": openai.OpenAI(
            api_key="test-key-not-real",
            base_url=ogv.GEMINI_BASE_URL,
            http_client=http(),
            max_retries=0,
        ),
    }


def replay_sync(name: str, call: Callable[[openai.OpenAI, dict[str, Any]], Any]) -> None:
    """Send every recorded request of `name` through both clients; compare bodies and results."""
    bodies = recorded_bodies(name)
    results: dict[str, list[Any]] = {}
    sent: dict[str, list[bytes]] = {}
    for label in ("ours", "plain"):
        sent[label] = []
        client = sync_clients(sent[label])[label]
        with REPLAY.use_cassette(str(REFERENCE / name)) as cassette:
            results[label] = [call(client, body) for body in bodies]
            assert cassette.all_played
    assert results["ours"] == results["plain"]
    assert [json.loads(b) for b in sent["ours"]] == [json.loads(b) for b in sent["plain"]]
    assert [json.loads(b) for b in sent["ours"]] == bodies


def create(client: openai.OpenAI, body: dict[str, Any]) -> Any:
    """`create(**body)`: the whole answer, or every chunk of a streamed one, as dicts."""
    answer = client.chat.completions.create(**body)
    if isinstance(answer, openai.Stream):
        return [chunk.model_dump() for chunk in answer]
    return answer.model_dump()


def test_tool_calls_replay_through_our_client() -> None:
    """Non-streamed tool calls (gemini-2.5-pro, two turns) come back as openai returns them."""
    replay_sync("gemini_compat_tool_calls_nonstream.yaml", create)


def test_tool_call_turns_are_sent_untouched() -> None:
    """The assistant turn with tool_calls (content None) and the tool turn reach Gemini as given."""
    sent: list[bytes] = []
    client = sync_clients(sent)["ours"]
    first, second = recorded_bodies("gemini_compat_tool_calls_nonstream.yaml")
    with REPLAY.use_cassette(str(REFERENCE / "gemini_compat_tool_calls_nonstream.yaml")):
        reply = client.chat.completions.create(**first)
        call = reply.choices[0].message.tool_calls
        assert call is not None
        assert call[0].type == "function"
        assert call[0].function.name == "get_current_time"
        assert reply.usage is not None
        assert reply.usage.total_tokens > reply.usage.prompt_tokens + reply.usage.completion_tokens
        answer = client.chat.completions.create(**second)
    assert answer.choices[0].message.content == "The current time is Noon. \n"
    assert answer.system_fingerprint is None
    assert json.loads(sent[1])["messages"][1:] == second["messages"][1:]


def test_streamed_text_replays_through_our_client() -> None:
    """A streamed gzip answer (chunks without id, usage on each) matches openai's chunks."""
    replay_sync("gemini_compat_stream_say_hello.yaml", create)


def test_streamed_tool_call_replays_through_our_client() -> None:
    """A streamed forced tool call, with parallel_tool_calls and tool_choice, passes untouched."""
    replay_sync("gemini_compat_stream_tool_call.yaml", create)


def test_stream_helper_assembles_the_text() -> None:
    """`chat.completions.stream()` on our client puts the streamed pieces together."""
    body = recorded_bodies("gemini_compat_stream_say_hello.yaml")[0]
    body.pop("stream")
    with REPLAY.use_cassette(str(REFERENCE / "gemini_compat_stream_say_hello.yaml")):
        client = sync_clients([])["ours"]
        with client.chat.completions.stream(**body) as stream:
            final = stream.get_final_completion()
    assert final.choices[0].message.content == "Hello there! How can I help you today?\n"


@pytest.mark.asyncio
async def test_async_stream_replays_through_our_async_client() -> None:
    """The async recording streams through `AsyncOpenAI` as through `openai.AsyncOpenAI`."""
    name = "gemini_compat_stream_async_say_hello.yaml"
    (body,) = recorded_bodies(name)
    results = {}
    clients: dict[str, openai.AsyncOpenAI] = {
        "ours": ogv.AsyncOpenAI(api_key="test-key-not-real", max_retries=0),
        "plain": openai.AsyncOpenAI(
            api_key="test-key-not-real", base_url=ogv.GEMINI_BASE_URL, max_retries=0
        ),
    }
    for label, client in clients.items():
        with REPLAY.use_cassette(str(REFERENCE / name)) as cassette:
            stream = await client.chat.completions.create(**body)
            results[label] = [chunk.model_dump() async for chunk in stream]
            assert cassette.all_played
        await client.close()
    assert results["ours"] == results["plain"]
    text = "".join(c["choices"][0]["delta"]["content"] or "" for c in results["ours"])
    assert text == "Hello there! How can I help you today?\n"
    assert all(c["id"] is None and c["usage"] for c in results["ours"])
