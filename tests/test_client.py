"""The drop-in clients against Gemini's endpoint, replayed from cassettes/test_client/.

The cassettes were first written by hand (cassettes/README.md): the request as the client
sends it, the answer in the shape of Gemini's real recordings. Tests whose answer Gemini
gives on demand assert only what a live answer also satisfies, so that
`GEMINI_API_KEY=... pytest --record-mode=rewrite tests/test_client.py` replaces their
cassettes with real recordings; tests pinned to `record_mode="none"` hold answers nobody
can ask for (a 429 before a success, one kind of 400), or replay another test's cassette.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar, cast

import httpx2
import openai
import pytest
from pydantic import BaseModel

import openai_gemini_vision.request.prepare
from openai_gemini_vision import (
    GEMINI_BASE_URL,
    AsyncOpenAI,
    ImagePolicy,
    OpenAI,
    TooManyImagesError,
    wrap,
)
from openai_gemini_vision.client import KEY_PAGE, QUOTA_PAGE
from openai_gemini_vision.images.blob import parse_data_url
from openai_gemini_vision.images.prepared import payload_placeholder

from .fakegemini import FakeGemini
from .paths import DATA

MODEL = "gemini-2.5-flash"
HOUSE = DATA / "example.png"  # 160x120 PNG: a house with a door under the sun
CIRCLE = DATA / "red_circle.jpg"  # 48x32 JPEG: a red disc on white
#: A key Gemini refuses; the bad-key cassette is re-recorded with it, never with a real one.
BAD_KEY = "not-a-gemini-key-0123456789"

_T = TypeVar("_T")

pytestmark = pytest.mark.vcr  # every test replays cassettes/test_client/<test name>.yaml

# Never re-recorded: an answer nobody can ask for again, or another test's cassette.
hand_written = pytest.mark.vcr(record_mode="none")


def replays(test_name: str) -> Callable[[_T], _T]:
    """Replay `test_name`'s cassette (re-recorded by that test alone, read here as it is)."""

    def mark(test: _T) -> _T:
        return cast(_T, hand_written(pytest.mark.default_cassette(f"{test_name}.yaml")(test)))

    return mark


class Wire:
    """What crosses a client's transport: each request, and each response read whole."""

    def __init__(self) -> None:
        self.requests: list[httpx2.Request] = []
        self.responses: list[httpx2.Response] = []

    def client(self) -> httpx2.Client:
        """An http client for `OpenAI(http_client=...)` that notes what it sends and gets."""

        def read(response: httpx2.Response) -> None:
            response.read()
            self.responses.append(response)

        return httpx2.Client(event_hooks={"request": [self.requests.append], "response": [read]})

    def async_client(self) -> httpx2.AsyncClient:
        """The same for `AsyncOpenAI(http_client=...)`."""

        async def note(request: httpx2.Request) -> None:
            self.requests.append(request)

        async def read(response: httpx2.Response) -> None:
            await response.aread()
            self.responses.append(response)

        return httpx2.AsyncClient(event_hooks={"request": [note], "response": [read]})

    def bodies(self) -> list[Any]:
        """The JSON body of each request, in order."""
        return [json.loads(request.content) for request in self.requests]


class _Again(httpx2.BaseTransport, httpx2.AsyncBaseTransport):
    """Answers every request with a copy of a response already received, noting the request."""

    def __init__(self, response: httpx2.Response) -> None:
        self.requests: list[httpx2.Request] = []
        self._status = response.status_code
        self._content = response.content  # decoded: the encoding headers no longer apply
        skip = {"content-encoding", "content-length", "transfer-encoding"}
        self._headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in skip]

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        self.requests.append(request)
        return httpx2.Response(self._status, headers=self._headers, content=self._content)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return self.handle_request(request)


def plain_twin(wire: Wire, call: Callable[[openai.OpenAI, dict[str, Any]], _T]) -> _T:
    """What a plain openai client returns when it sends the body ours sent and gets its answer.

    The plain client must send those bytes unchanged: images were already inline in them.
    """
    sent = wire.requests[-1].content
    again = _Again(wire.responses[-1])
    http = httpx2.Client(transport=again)
    with openai.OpenAI(api_key="unused", base_url=GEMINI_BASE_URL, http_client=http) as plain:
        result = call(plain, json.loads(sent) if sent else {})
    assert [request.content for request in again.requests] == [sent]
    return result


def image_urls(body: Mapping[str, Any]) -> list[str]:
    """The `image_url.url` of every image part of a chat request body, in order."""
    return [
        part["image_url"]["url"]
        for message in body["messages"]
        if isinstance(message["content"], list)
        for part in message["content"]
        if part["type"] == "image_url"
    ]


def recorded_bodies(cassette: Any) -> list[Any]:
    """The JSON request bodies a cassette holds (images as their digest placeholders)."""
    return [json.loads(request.body) for request in cassette.requests]


def recorded_answer(cassette: Any, index: int = 0) -> str:
    """The message text of the chat answer recorded in interaction `index`."""
    body = json.loads(cassette.responses[index]["body"]["string"])
    return str(body["choices"][0]["message"]["content"])


def assert_sent_inline(wire: Wire, cassette: Any, *images: tuple[str, bytes]) -> None:
    """Each request carried these images, in order, as data URLs of exactly these bytes,
    and the cassette holds each as its digest placeholder, which the replay matched."""
    placeholders = [payload_placeholder(mime, data) for mime, data in images]
    assert wire.bodies(), "nothing was sent"
    for body in wire.bodies():
        assert [parse_data_url(url) for url in image_urls(body)] == list(images)
    for body in recorded_bodies(cassette):
        assert image_urls(body) == placeholders


def png(path: Path) -> tuple[str, bytes]:
    """(MIME type, bytes) of a PNG file sent as it is."""
    return "image/png", path.read_bytes()


def jpeg(path: Path) -> tuple[str, bytes]:
    """(MIME type, bytes) of a JPEG file sent as it is."""
    return "image/jpeg", path.read_bytes()


def ask_about_the_house() -> list[Any]:
    """The one-image request: a question and a local file, as a user writes it."""
    return [{"role": "user", "content": ["Describe this picture in one sentence.", HOUSE]}]


_E = TypeVar("_E", bound=openai.APIStatusError)


def failure(client: openai.OpenAI, error: type[_E]) -> _E:
    """The error of type `error` that `client` raises for the one-image request."""
    with pytest.raises(error) as caught:
        client.chat.completions.create(model=MODEL, messages=ask_about_the_house())
    return caught.value


def text_of(completion: Any) -> str:
    """The answer's text, which must be there."""
    content = completion.choices[0].message.content
    assert isinstance(content, str)
    assert content.strip()
    return content


# --- chat completions re-recordable against the live service ---------------------------


def test_one_image(gemini_key: str, vcr: Any) -> None:
    """A local image goes out as a data URL and the answer comes back as openai's own object."""
    wire = Wire()
    with OpenAI(api_key=gemini_key, http_client=wire.client()) as client:
        completion = client.chat.completions.create(model=MODEL, messages=ask_about_the_house())
    text_of(completion)
    assert completion.usage is not None
    assert completion.usage.prompt_tokens > 0
    assert_sent_inline(wire, vcr, png(HOUSE))
    (body,) = wire.bodies()
    assert body["model"] == MODEL
    assert body["messages"][0]["content"][0] == {
        "type": "text",
        "text": "Describe this picture in one sentence.",
    }
    assert completion == plain_twin(wire, lambda c, b: c.chat.completions.create(**b))


def test_several_images_in_one_message(gemini_key: str, vcr: Any) -> None:
    """A file and raw bytes in one message both go out inline, in the order given."""
    wire = Wire()
    messages: list[Any] = [
        {
            "role": "user",
            "content": ["What do these two pictures show?", HOUSE, CIRCLE.read_bytes()],
        }
    ]
    with OpenAI(api_key=gemini_key, http_client=wire.client()) as client:
        completion = client.chat.completions.create(model=MODEL, messages=messages)
    text_of(completion)
    assert_sent_inline(wire, vcr, png(HOUSE), jpeg(CIRCLE))
    assert completion == plain_twin(wire, lambda c, b: c.chat.completions.create(**b))


@pytest.fixture
def image_host() -> Iterator[FakeGemini]:
    """A loopback HTTP server to serve image URLs from (its GETs are never recorded)."""
    with FakeGemini() as server:
        yield server


def test_an_image_url_is_fetched_and_sent_inline(
    gemini_key: str, vcr: Any, image_host: FakeGemini
) -> None:
    """An http URL is fetched by the client and its bytes go to Gemini inline, never the URL."""
    url = image_host.serve("/house.png", HOUSE.read_bytes())
    messages: list[Any] = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this picture?"},
                {"type": "image_url", "image_url": {"url": url}},
            ],
        }
    ]
    wire = Wire()
    policy = ImagePolicy(allow_private_urls=True)  # the test server is on loopback
    with OpenAI(api_key=gemini_key, image_policy=policy, http_client=wire.client()) as client:
        completion = client.chat.completions.create(model=MODEL, messages=messages)
    text_of(completion)
    assert_sent_inline(wire, vcr, png(HOUSE))
    assert url not in json.dumps(wire.bodies())


def test_a_streamed_answer(gemini_key: str, vcr: Any) -> None:
    """A streamed answer arrives as openai's chunks, usage included, as a plain client reads it."""
    wire = Wire()
    with OpenAI(api_key=gemini_key, http_client=wire.client()) as client:
        stream = client.chat.completions.create(
            model=MODEL,
            messages=ask_about_the_house(),
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk.model_dump() for chunk in stream]
    assert chunks
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    text = "".join(c["choices"][0]["delta"]["content"] or "" for c in chunks if c["choices"])
    assert text.strip()
    assert chunks[-1]["usage"]["total_tokens"] > 0
    assert_sent_inline(wire, vcr, png(HOUSE))
    assert wire.bodies()[0]["stream"] is True

    def stream_plainly(plain: openai.OpenAI, body: dict[str, Any]) -> list[dict[str, Any]]:
        return [chunk.model_dump() for chunk in plain.chat.completions.create(**body)]

    assert chunks == plain_twin(wire, stream_plainly)


class Scene(BaseModel):
    """The structured answer asked for with `parse`."""

    caption: str
    objects: list[str]


def test_parse_with_a_pydantic_response_format(gemini_key: str, vcr: Any) -> None:
    """`chat.completions.parse` sends the image inline with the schema and parses the answer."""
    wire = Wire()
    with OpenAI(api_key=gemini_key, http_client=wire.client()) as client:
        completion = client.chat.completions.parse(
            model=MODEL, messages=ask_about_the_house(), response_format=Scene
        )
    scene = completion.choices[0].message.parsed
    assert isinstance(scene, Scene)
    assert scene.caption.strip()
    assert scene.objects
    assert_sent_inline(wire, vcr, png(HOUSE))
    response_format = wire.bodies()[0]["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "Scene"

    def parse_plainly(plain: openai.OpenAI, body: dict[str, Any]) -> Any:
        return plain.chat.completions.parse(
            **{k: v for k, v in body.items() if k not in {"response_format", "stream"}},
            response_format=Scene,
        )

    assert completion == plain_twin(wire, parse_plainly)


@pytest.mark.asyncio
async def test_the_async_client(gemini_key: str, vcr: Any) -> None:
    """`AsyncOpenAI` sends the image inline and returns what a plain `openai.AsyncOpenAI` does."""
    wire = Wire()
    messages: list[Any] = [{"role": "user", "content": ["What colour is the disc?", CIRCLE]}]
    async with AsyncOpenAI(api_key=gemini_key, http_client=wire.async_client()) as client:
        completion = await client.chat.completions.create(model=MODEL, messages=messages)
    text_of(completion)
    assert_sent_inline(wire, vcr, jpeg(CIRCLE))
    again = _Again(wire.responses[0])
    async with openai.AsyncOpenAI(
        api_key="unused",
        base_url=GEMINI_BASE_URL,
        http_client=httpx2.AsyncClient(transport=again),
    ) as plain:
        assert completion == await plain.chat.completions.create(**wire.bodies()[0])


def test_a_bad_key_is_explained_as_a_key_problem(vcr: Any) -> None:
    """Gemini's 400 API_KEY_INVALID is a BadRequestError saying which key to set and where."""
    wire = Wire()
    with OpenAI(api_key=BAD_KEY, http_client=wire.client()) as client:
        error = failure(client, openai.BadRequestError)
    assert error.status_code == 400
    message = str(error)
    assert message.startswith("Error code: 400 - API key not valid. Please pass a valid API key.")
    assert "GEMINI_API_KEY" in message
    assert KEY_PAGE in message
    assert BAD_KEY not in message
    assert isinstance(error.body, dict)  # openai's convention: the object under "error"
    assert error.body["status"] == "INVALID_ARGUMENT"
    reasons = [detail.get("reason") for detail in error.body["details"]]
    assert "API_KEY_INVALID" in reasons
    assert len(wire.requests) == 1  # a 400 is not retried
    assert_sent_inline(wire, vcr, png(HOUSE))


# --- answers that cannot be asked for: hand-written for good ---------------------------


@hand_written
def test_an_array_wrapped_400_is_readable(gemini_key: str, vcr: Any) -> None:
    """Gemini's `[{"error": {...}}]` 400 gives openai's BadRequestError with Gemini's message,
    the error object as `body`, and the raw array still on the response."""
    wire = Wire()
    messages: list[Any] = [{"role": "user", "content": ["What colour is the disc?", CIRCLE]}]
    with (
        OpenAI(api_key=gemini_key, http_client=wire.client()) as client,
        pytest.raises(openai.BadRequestError) as caught,
    ):
        client.chat.completions.create(model=MODEL, messages=messages)
    error = caught.value
    assert error.status_code == 400
    gemini_says = "Unable to process input image. Please retry or report in https://developers.generativeai.google/guide/troubleshooting"
    assert str(error) == f"Error code: 400 - {gemini_says}"
    assert error.body == {"code": 400, "message": gemini_says, "status": "INVALID_ARGUMENT"}
    assert error.response.json() == [{"error": error.body}]
    assert len(wire.requests) == 1
    assert_sent_inline(wire, vcr, jpeg(CIRCLE))

    def raised(plain: openai.OpenAI, body: dict[str, Any]) -> openai.APIStatusError:
        with pytest.raises(openai.APIStatusError) as plainly:
            plain.chat.completions.create(**body)
        return plainly.value

    plain_error = plain_twin(wire, raised)
    assert type(plain_error) is type(error)  # the same exception class a plain client raises
    assert plain_error.body == [{"error": error.body}]  # ... leaving Gemini's array as it came


@hand_written
def test_a_429_is_retried_and_then_succeeds(
    gemini_key: str, vcr: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a 429 RESOURCE_EXHAUSTED the SDK waits and retries the same prepared body once."""
    waits: list[float] = []
    monkeypatch.setattr(openai._base_client, "time", SimpleNamespace(sleep=waits.append))
    prepared: list[object] = []
    real_prepare = openai_gemini_vision.request.prepare.prepare_messages

    def counting(*args: Any, **kwargs: Any) -> Any:
        prepared.append(args[0])
        return real_prepare(*args, **kwargs)

    monkeypatch.setattr("openai_gemini_vision.client.prepare_messages", counting)
    wire = Wire()
    with OpenAI(api_key=gemini_key, max_retries=2, http_client=wire.client()) as client:
        completion = client.chat.completions.create(model=MODEL, messages=ask_about_the_house())
    text_of(completion)
    assert [response.status_code for response in wire.responses] == [429, 200]
    assert len(waits) == 1
    assert 0 < waits[0] <= 8  # openai's back-off (no retry-after from Gemini), not slept here
    assert len(prepared) == 1  # the retry reuses the prepared body: no second encode or fetch
    first, second = wire.bodies()
    assert first == second
    assert_sent_inline(wire, vcr, png(HOUSE))
    assert vcr.all_played


@replays("test_a_429_is_retried_and_then_succeeds")
def test_a_429_without_retries_says_how_to_allow_them(gemini_key: str) -> None:
    """With max_retries=0 the 429 is a RateLimitError naming the quota and the retry setting."""
    with OpenAI(api_key=gemini_key, max_retries=0) as client:
        error = failure(client, openai.RateLimitError)
    assert error.status_code == 429
    message = str(error)
    assert message.startswith("Error code: 429 - Resource has been exhausted (e.g. check quota).")
    assert "Retries are off (max_retries=0)" in message
    assert QUOTA_PAGE in message
    assert isinstance(error.body, dict)
    assert error.body["status"] == "RESOURCE_EXHAUSTED"


# --- every way of calling prepares images: replays of test_one_image's cassette -------


@replays("test_one_image")
def test_with_options_copies_prepare_images_with_the_same_policy(gemini_key: str, vcr: Any) -> None:
    """A client from `with_options(...)` keeps the image policy and sends images inline."""
    policy = ImagePolicy(max_images=1)
    wire = Wire()
    with OpenAI(api_key=gemini_key, image_policy=policy, http_client=wire.client()) as client:
        copy = client.with_options(max_retries=1, timeout=30)
        assert copy.image_policy is policy
        completion = copy.chat.completions.create(model=MODEL, messages=ask_about_the_house())
        two: list[Any] = [{"role": "user", "content": ["Compare.", HOUSE, CIRCLE]}]
        with pytest.raises(TooManyImagesError):
            copy.chat.completions.create(model=MODEL, messages=two)
    assert text_of(completion) == recorded_answer(vcr)
    assert_sent_inline(wire, vcr, png(HOUSE))


@replays("test_one_image")
def test_with_raw_response_prepares_images(gemini_key: str, vcr: Any) -> None:
    """`with_raw_response` sends the image inline and parses to the recorded answer."""
    with OpenAI(api_key=gemini_key) as client:
        raw = client.chat.completions.with_raw_response.create(
            model=MODEL, messages=ask_about_the_house()
        )
    assert raw.status_code == 200
    (url,) = image_urls(json.loads(raw.http_request.content))
    assert parse_data_url(url) == png(HOUSE)
    assert text_of(raw.parse()) == recorded_answer(vcr)


@replays("test_one_image")
def test_with_streaming_response_prepares_images(gemini_key: str, vcr: Any) -> None:
    """`with_streaming_response` sends the image inline and parses to the recorded answer."""
    with (
        OpenAI(api_key=gemini_key) as client,
        client.chat.completions.with_streaming_response.create(
            model=MODEL, messages=ask_about_the_house()
        ) as response,
    ):
        assert response.status_code == 200
        (url,) = image_urls(json.loads(response.http_request.content))
        completion = response.parse()
    assert parse_data_url(url) == png(HOUSE)
    assert text_of(completion) == recorded_answer(vcr)


@replays("test_one_image")
def test_a_wrapped_openai_client_behaves_the_same(gemini_key: str, vcr: Any) -> None:
    """`wrap(openai.OpenAI(...))` pointed at Gemini sends the same body and gets the same answer."""
    wire = Wire()
    plain = openai.OpenAI(api_key=gemini_key, base_url=GEMINI_BASE_URL, http_client=wire.client())
    with wrap(plain) as client:
        assert client is plain
        completion = client.chat.completions.create(model=MODEL, messages=ask_about_the_house())
    assert text_of(completion) == recorded_answer(vcr)
    assert_sent_inline(wire, vcr, png(HOUSE))


# --- other endpoints pass through untouched --------------------------------------------


def test_models_list_passes_through(gemini_key: str, vcr: Any) -> None:
    """`models.list()` is sent and read exactly as a plain openai client does."""
    wire = Wire()
    with OpenAI(api_key=gemini_key, http_client=wire.client()) as client:
        models = list(client.models.list())
    assert models
    assert all(model.id for model in models)
    (request,) = wire.requests
    assert (request.method, request.url.path) == ("GET", "/v1beta/openai/models")
    assert request.content == b""
    assert models == plain_twin(wire, lambda c, _: list(c.models.list()))
    assert [request.path for request in vcr.requests] == ["/v1beta/openai/models"]


def test_embeddings_pass_through(gemini_key: str, vcr: Any) -> None:
    """`embeddings.create()` sends the body a plain openai client sends and reads the same vector."""
    text = "A red house with a door under a yellow sun."
    wire = Wire()
    with OpenAI(api_key=gemini_key, http_client=wire.client()) as client:
        embedding = client.embeddings.create(
            model="gemini-embedding-001", input=text, encoding_format="float"
        )
    (vector,) = embedding.data
    assert vector.embedding
    assert all(isinstance(value, float) for value in vector.embedding)
    (body,) = wire.bodies()
    assert body["input"] == text
    twin = plain_twin(wire, lambda c, b: c.embeddings.create(**b))
    assert embedding == twin
    assert recorded_bodies(vcr) == [body]
