"""`prepare_messages` rewrites only image parts, never mutates its input, and keeps the budget."""

from __future__ import annotations

import base64
import copy
import io
import random
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from openai._utils._json import openapi_dumps
from openai.types.chat import (
    ChatCompletionMessage,
    ChatCompletionMessageFunctionToolCall,
    ChatCompletionUserMessageParam,
)
from openai.types.chat.chat_completion_message_function_tool_call import Function
from PIL import Image

from openai_gemini_vision import (
    BlockedURLError,
    CorruptImageError,
    FetchError,
    ImageError,
    ImagePolicy,
    RequestTooLargeError,
    TooManyImagesError,
    aprepare_messages,
    prepare_messages,
)
from openai_gemini_vision.request import plan as request_plan
from openai_gemini_vision.request.estimate import DEFAULT_MODEL

from .imaging import data_url, image_bytes, photo

PNG = image_bytes("PNG", 64, 48)
JPEG = image_bytes("JPEG", 64, 48)


def _image_part(url: str, **extra: Any) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url, **extra}}


def _noise_png(side: int, seed: int) -> bytes:
    """A PNG of random pixels: large for its size, so a small budget forces shrinking."""
    pixels = random.Random(seed).randbytes(side * side * 3)
    buf = io.BytesIO()
    Image.frombytes("RGB", (side, side), pixels).save(buf, "PNG")
    return buf.getvalue()


def _sized(fmt: str, width: int, height: int) -> bytes:
    """A `fmt` image of the given size, made in C (Pillow's noise) so large sizes stay fast."""
    buf = io.BytesIO()
    Image.effect_noise((width, height), 40).convert("RGB").save(buf, fmt)
    return buf.getvalue()


def _decoded(part: dict[str, Any]) -> bytes:
    url = part["image_url"]["url"]
    assert url.startswith("data:image/")
    return base64.b64decode(url.partition(",")[2])


class _ImageServer:
    """A loopback HTTP server serving fixed bytes per path and counting requests."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.hits: dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits[self.path] = server.hits.get(self.path, 0) + 1
                body = server.files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


@pytest.fixture
def image_server() -> Iterator[_ImageServer]:
    """A loopback server with a PNG at /a.png and a JPEG at /b.jpg."""
    server = _ImageServer({"/a.png": PNG, "/b.jpg": JPEG})
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


LOOPBACK = ImagePolicy(allow_private_urls=True)


# --- what is left alone ---------------------------------------------------------------


def test_text_only_request_comes_back_equal_and_sized_like_openai() -> None:
    """A request without images is returned equal, as new objects, sized as openai sends it."""
    messages = [
        {"role": "system", "content": "Answer in French. ✓"},
        {"role": "user", "content": "Bonjour, ça va ?"},
    ]
    result = prepare_messages(messages)
    assert result.messages == messages
    assert result.messages[0] is not messages[0]
    assert result.images == []
    assert result.request_bytes == len(openapi_dumps(result.messages))


def test_every_non_image_part_and_message_passes_untouched() -> None:
    """System, developer, tool, assistant tool_calls, audio and unknown parts are kept as written.

    (A `file` part is a PDF, turned into pages: tests/test_expand.py.)"""
    audio = {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}
    unknown = {"type": "refusal_note", "note": {"id": "f-1"}, "x": [1, None, 2.5]}
    messages: list[dict[str, Any]] = [
        {"role": "developer", "content": [{"type": "text", "text": "be brief"}]},
        {"role": "system", "content": "s"},
        {"role": "user", "content": [audio, unknown, _image_part(data_url(PNG))]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
    ]
    result = prepare_messages(messages)
    assert result.messages[:2] == messages[:2]
    assert result.messages[3:] == messages[3:]
    assert result.messages[2]["content"][:2] == [audio, unknown]
    assert _decoded(result.messages[2]["content"][2]) == PNG


def test_bare_strings_in_a_content_list_become_text_parts() -> None:
    """The google-genai habit ["What is this?", image] gives openai's dict text parts."""
    result = prepare_messages([{"role": "user", "content": ["What is this?", PNG]}])
    content = result.messages[0]["content"]
    assert content[0] == {"type": "text", "text": "What is this?"}
    assert content[1]["type"] == "image_url"
    assert _decoded(content[1]) == PNG


# --- never mutating the caller's objects ----------------------------------------------


def test_dict_messages_with_every_image_kind_are_not_mutated(tmp_path: Path) -> None:
    """Dicts holding data URLs, PIL images, Paths and bytes are deep-equal before and after."""
    path = tmp_path / "p.jpg"
    path.write_bytes(JPEG)
    messages = [
        {"role": "user", "content": ["look", photo(), path, bytearray(PNG)]},
        {"role": "assistant", "content": "a cat"},
        {"role": "user", "content": [_image_part(data_url(PNG, "image/jpg"), detail="low")]},
    ]
    before = copy.deepcopy(messages)
    result = prepare_messages(messages)
    assert messages == before
    assert len(result.images) == 4


def test_typed_params_and_pydantic_messages_are_accepted_and_not_mutated() -> None:
    """openai's TypedDict params and a ChatCompletionMessage fed back in stay unchanged."""
    reply = ChatCompletionMessage(
        role="assistant",
        content=None,
        tool_calls=[
            ChatCompletionMessageFunctionToolCall(
                id="c1", type="function", function=Function(name="look", arguments='{"x":1}')
            )
        ],
    )
    user: ChatCompletionUserMessageParam = {
        "role": "user",
        "content": [
            {"type": "text", "text": "and this?"},
            {"type": "image_url", "image_url": {"url": data_url(JPEG, "image/jpeg")}},
        ],
    }
    messages: list[Any] = [user, reply, {"role": "tool", "tool_call_id": "c1", "content": "ok"}]
    before = copy.deepcopy(messages)
    result = prepare_messages(messages)
    assert messages == before
    assert reply.model_dump() == before[1].model_dump()
    assert result.messages[1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "look", "arguments": '{"x":1}'}}
        ],
    }
    assert _decoded(result.messages[0]["content"][1]) == JPEG


def test_a_generator_of_messages_and_parts_is_accepted() -> None:
    """Any iterable openai's create() takes (here generators) is read like a list."""
    parts = (p for p in ["hi", PNG])
    result = prepare_messages(m for m in [{"role": "user", "content": parts}])
    assert len(result.images) == 1
    assert result.messages[0]["content"][0] == {"type": "text", "text": "hi"}


# --- image parts ----------------------------------------------------------------------


def test_data_url_with_a_wrong_type_is_corrected() -> None:
    """A data URL labelled image/jpg holding a PNG is sent as image/png, and says so."""
    result = prepare_messages(
        [{"role": "user", "content": [_image_part(data_url(PNG, "image/jpg"))]}]
    )
    url = result.messages[0]["content"][0]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert result.images[0].changes == ("declared image/jpg, is image/png: sent as image/png",)


def test_raw_objects_become_image_parts_with_their_sources(tmp_path: Path) -> None:
    """A PIL image, a pathlib.Path and bytes in a content list are always allowed and loaded."""
    path = tmp_path / "pic.png"
    path.write_bytes(PNG)
    result = prepare_messages([{"role": "user", "content": [photo(), path, JPEG]}])
    assert [image.source for image in result.images] == ["PIL image", str(path), "bytes"]
    parts = result.messages[0]["content"]
    assert all(set(part) == {"type", "image_url"} for part in parts)
    assert _decoded(parts[1]) == PNG
    assert _decoded(parts[2]) == JPEG


def test_part_detail_wins_over_policy_and_is_kept() -> None:
    """A part's own detail="low" downscales even under policy detail="high", and stays written."""
    big = _sized("PNG", 800, 600)
    content = [_image_part(data_url(big), detail="low"), _image_part(data_url(big))]
    result = prepare_messages(
        [{"role": "user", "content": content}], policy=ImagePolicy(detail="high")
    )
    assert [(i.width, i.height) for i in result.images] == [(384, 288), (800, 600)]
    parts = result.messages[0]["content"]
    assert parts[0]["image_url"]["detail"] == "low"
    assert "detail" not in parts[1]["image_url"]


def test_policy_detail_low_applies_when_the_part_has_none() -> None:
    """Without a part detail, ImagePolicy(detail="low") sets the size sent."""
    big = _sized("JPEG", 1000, 500)
    result = prepare_messages(
        [{"role": "user", "content": [big]}], policy=ImagePolicy(detail="low")
    )
    assert (result.images[0].width, result.images[0].height) == (384, 192)


def test_loose_string_image_url_is_written_as_a_proper_part() -> None:
    """{"image_url": "data:..."} (a common loose spelling) becomes {"image_url": {"url": ...}}."""
    part = {"type": "image_url", "image_url": data_url(PNG)}
    result = prepare_messages([{"role": "user", "content": [part]}])
    assert _decoded(result.messages[0]["content"][0]) == PNG


def test_images_are_listed_per_slot_in_message_order() -> None:
    """PreparedRequest.images has one entry per image part, in the order they appear."""
    messages = [
        {"role": "user", "content": [JPEG, "x", PNG]},
        {"role": "user", "content": [_image_part(data_url(JPEG, "image/jpeg"))]},
    ]
    result = prepare_messages(messages)
    assert [i.mime_type for i in result.images] == ["image/jpeg", "image/png", "image/jpeg"]
    assert [i.source for i in result.images] == ["bytes", "bytes", "data URL"]


# --- errors say where -----------------------------------------------------------------


def test_a_broken_image_error_names_its_place_and_keeps_its_type() -> None:
    """Garbage base64 in the second message raises CorruptImageError naming messages[1].content[1]."""
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "user", "content": ["see", _image_part("data:image/png;base64,@@@@")]},
    ]
    with pytest.raises(
        CorruptImageError, match=r"^messages\[1\]\.content\[1\] \(data URL\): .*base64"
    ) as caught:
        prepare_messages(messages)
    assert (caught.value.where, caught.value.source) == ("messages[1].content[1]", "data URL")


def test_undecodable_bytes_raise_an_image_error_naming_the_part() -> None:
    """Bytes that are not an image raise an ImageError (a ValueError) at their place."""
    with pytest.raises(ImageError, match=r"messages\[0\]\.content\[0\]"):
        prepare_messages([{"role": "user", "content": [b"<html>not found</html>"]}])


def test_a_url_that_is_not_a_string_is_refused_with_the_fix() -> None:
    """image_url.url of None raises ImageError naming the accepted forms."""
    with pytest.raises(
        ImageError, match=r"messages\[0\]\.content\[0\]: image_url.url is a NoneType"
    ):
        prepare_messages([{"role": "user", "content": [_image_part(None)]}])  # type: ignore[arg-type]


def test_non_message_input_raises_type_error() -> None:
    """A single dict or a string instead of a list of messages is a TypeError."""
    with pytest.raises(TypeError, match="list of message dicts"):
        prepare_messages({"role": "user", "content": "hi"})
    with pytest.raises(TypeError, match="must be a dict"):
        prepare_messages(["hi"])


def test_a_value_json_cannot_carry_raises_type_error() -> None:
    """An object JSON cannot send (a set) raises TypeError naming its type, not a bare json error."""
    with pytest.raises(TypeError, match="messages hold a set"):
        prepare_messages([{"role": "user", "content": "hi", "name": {1, 2}}])


# --- local files ----------------------------------------------------------------------


@pytest.mark.parametrize("as_url", [False, True], ids=["path", "file-url"])
def test_string_paths_are_refused_by_default(tmp_path: Path, as_url: bool) -> None:
    """A path or file:// URL inside message JSON raises BlockedURLError naming allow_local_files."""
    path = tmp_path / "secret.png"
    path.write_bytes(PNG)
    url = path.as_uri() if as_url else str(path)
    with pytest.raises(
        BlockedURLError, match=r"messages\[0\]\.content\[0\] .*allow_local_files"
    ) as caught:
        prepare_messages([{"role": "user", "content": [_image_part(url)]}])
    assert caught.value.where == "messages[0].content[0]"
    assert caught.value.source == url


@pytest.mark.parametrize("as_url", [False, True], ids=["path", "file-url"])
def test_string_paths_are_read_when_allowed(tmp_path: Path, as_url: bool) -> None:
    """With allow_local_files=True a path or file:// URL in image_url.url is read."""
    path = tmp_path / "pic.png"
    path.write_bytes(PNG)
    url = path.as_uri() if as_url else str(path)
    result = prepare_messages(
        [{"role": "user", "content": [_image_part(url)]}],
        policy=ImagePolicy(allow_local_files=True),
    )
    assert _decoded(result.messages[0]["content"][0]) == PNG


# --- identical images -----------------------------------------------------------------


def test_identical_bytes_are_prepared_once_but_fill_every_slot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same image as bytes, a data URL and again bytes is prepared once and sent three times."""
    calls: list[int] = []
    real = request_plan.plan_source

    def counting(source: Any, blob: Any, **kwargs: Any) -> Any:
        calls.append(len(blob.all()))
        return real(source, blob, **kwargs)

    monkeypatch.setattr(request_plan, "plan_source", counting)
    big = _sized("PNG", 300, 200)
    content = [big, _image_part(data_url(big)), bytes(big), _image_part(data_url(big))]
    result = prepare_messages([{"role": "user", "content": content}])
    assert calls == [len(big)]
    assert [_decoded(part) for part in result.messages[0]["content"]] == [big] * 4
    assert [i.source for i in result.images] == ["bytes", "data URL", "bytes", "data URL"]
    assert result.request_bytes == len(openapi_dumps(result.messages))


def test_the_same_image_at_two_details_is_prepared_twice() -> None:
    """One image asked for at detail low and at full size is sent at both sizes."""
    big = _sized("PNG", 800, 400)
    content = [_image_part(data_url(big), detail="low"), _image_part(data_url(big))]
    result = prepare_messages([{"role": "user", "content": content}])
    assert [i.width for i in result.images] == [384, 800]


# --- URLs -----------------------------------------------------------------------------


def test_url_images_are_fetched_once_each(image_server: _ImageServer) -> None:
    """Two URLs, one of them used twice, are fetched once each and inlined in every slot."""
    a, b = image_server.url("/a.png"), image_server.url("/b.jpg")
    content = [_image_part(a), _image_part(b), _image_part(a)]
    result = prepare_messages([{"role": "user", "content": content}], policy=LOOPBACK)
    assert image_server.hits == {"/a.png": 1, "/b.jpg": 1}
    assert [_decoded(p) for p in result.messages[0]["content"]] == [PNG, JPEG, PNG]
    assert result.images[0].source == a


def test_loopback_urls_are_refused_by_default(image_server: _ImageServer) -> None:
    """Without allow_private_urls a loopback URL raises BlockedURLError at its place, unfetched."""
    content = ["hi", _image_part(image_server.url("/a.png"))]
    with pytest.raises(BlockedURLError, match=r"messages\[0\]\.content\[1\]"):
        prepare_messages([{"role": "user", "content": content}])
    assert image_server.hits == {}


def test_a_missing_url_raises_fetch_error_with_the_status(image_server: _ImageServer) -> None:
    """A 404 image URL raises FetchError naming its place and the status."""
    content = [_image_part(image_server.url("/gone.png?token=abc"))]
    with pytest.raises(FetchError, match=r"messages\[0\]\.content\[0\]: .*404") as caught:
        prepare_messages([{"role": "user", "content": content}], policy=LOOPBACK)
    assert "token=abc" not in str(caught.value)


@pytest.mark.asyncio
async def test_async_prepare_fetches_and_matches_sync(image_server: _ImageServer) -> None:
    """aprepare_messages fetches URL images and returns what prepare_messages returns."""
    content = ["two", _image_part(image_server.url("/a.png")), photo()]
    messages = [{"role": "user", "content": content}]
    before = copy.deepcopy(messages)
    result = await aprepare_messages(messages, policy=LOOPBACK)
    assert messages == before
    assert result == prepare_messages(messages, policy=LOOPBACK)


@pytest.mark.asyncio
async def test_async_prepare_does_image_work_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Decoding and encoding run in a worker thread, so the event loop keeps serving."""
    threads: list[threading.Thread] = []
    real = request_plan.plan_source

    def recording(source: Any, blob: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread())
        return real(source, blob, **kwargs)

    monkeypatch.setattr(request_plan, "plan_source", recording)
    await aprepare_messages([{"role": "user", "content": [PNG]}])
    assert threads
    assert threads[0] is not threading.main_thread()


# --- the budget -----------------------------------------------------------------------


def _three_noisy() -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": ["compare", _noise_png(200, 1), _noise_png(160, 2)]},
        {"role": "user", "content": [_image_part(data_url(_noise_png(120, 3)))]},
    ]


def test_over_budget_shrinks_the_largest_images_until_it_fits() -> None:
    """Three noisy PNGs over a 150 KB budget are re-encoded until the request fits, saying so."""
    policy = ImagePolicy(max_request_bytes=150_000)
    messages = _three_noisy()
    result = prepare_messages(messages, policy=policy)
    assert result.request_bytes <= 150_000
    assert result.request_bytes == len(openapi_dumps(result.messages))
    largest = result.images[0]
    assert largest.mime_type == "image/jpeg"
    assert any("re-encoded" in change or "downscaled" in change for change in largest.changes)
    unchanged = prepare_messages(messages)
    assert unchanged.request_bytes > 150_000
    assert all(image.changes == () for image in unchanged.images)


def test_extra_bytes_count_against_the_budget() -> None:
    """extra_bytes (the rest of the body) makes a request that fit alone need shrinking."""
    messages = [{"role": "user", "content": [_noise_png(100, 4)]}]
    plain = prepare_messages(messages)
    policy = ImagePolicy(max_request_bytes=plain.request_bytes + 10)
    assert prepare_messages(messages, policy=policy).images[0].changes == ()
    tight = prepare_messages(messages, policy=policy, extra_bytes=1000)
    assert tight.images[0].changes
    assert tight.request_bytes + 1000 <= policy.max_request_bytes


def test_fit_error_lists_every_image_and_the_fix() -> None:
    """fit="error" over budget raises RequestTooLargeError with each image's place, size and the fix."""
    policy = ImagePolicy(max_request_bytes=150_000, fit="error")
    with pytest.raises(RequestTooLargeError) as caught:
        prepare_messages(_three_noisy(), policy=policy)
    text = str(caught.value)
    assert "over max_request_bytes=150,000" in text
    for where, size in [
        ("messages[0].content[1]", "200x200"),
        ("messages[0].content[2]", "160x160"),
        ("messages[1].content[0]", "120x120"),
    ]:
        assert f"{where}: image/png {size}" in text
    assert 'fit="shrink"' in text
    assert 'detail="low"' in text
    assert isinstance(caught.value, ValueError)


def test_a_request_that_cannot_fit_raises_after_shrinking() -> None:
    """A budget no amount of shrinking meets raises RequestTooLargeError saying it tried."""
    policy = ImagePolicy(max_request_bytes=2_000)
    with pytest.raises(RequestTooLargeError, match="after shrinking every image") as caught:
        prepare_messages(_three_noisy(), policy=policy)
    assert "up to 20,000,000" in str(caught.value)


def test_text_alone_over_budget_raises() -> None:
    """Text longer than the budget raises RequestTooLargeError with no images to shrink."""
    with pytest.raises(RequestTooLargeError, match=r"\(no images\)"):
        prepare_messages(
            [{"role": "user", "content": "x" * 500}], policy=ImagePolicy(max_request_bytes=100)
        )


def test_too_many_images_raises_before_any_fetch(image_server: _ImageServer) -> None:
    """More images than max_images raises TooManyImagesError with count, limit and fix, unfetched."""
    content = [_image_part(image_server.url("/a.png"))] * 3
    policy = LOOPBACK.model_copy(update={"max_images": 2})
    with pytest.raises(TooManyImagesError, match=r"holds 3 images.*max_images=2.*1 too many"):
        prepare_messages([{"role": "user", "content": content}], policy=policy)
    assert image_server.hits == {}


# --- the estimate ---------------------------------------------------------------------


def test_estimate_prices_images_as_sent_for_the_model() -> None:
    """The estimate uses each image's size as sent and the named model's rules."""
    messages = [{"role": "user", "content": ["hi", _sized("PNG", 1000, 800)]}]
    low = prepare_messages(messages, model="gemini-2.0-flash", policy=ImagePolicy(detail="low"))
    full = prepare_messages(messages, model="gemini-2.0-flash")
    assert low.estimate.per_image == [258]
    assert full.estimate.per_image == [258 * 5]  # 1000x800: 533 px tiles, 2 x 2, + whole image
    assert full.estimate.family == "Gemini 2.0"


def test_estimate_without_a_model_uses_the_default_family() -> None:
    """model=None prices the request with DEFAULT_MODEL's rules, not as an unknown model."""
    result = prepare_messages([{"role": "user", "content": [PNG]}])
    assert result.estimate.model == DEFAULT_MODEL
    assert not result.estimate.assumed_family
    assert result.estimate.per_image[0] > 0
