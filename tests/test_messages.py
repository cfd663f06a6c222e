"""The message walker: a private plain copy, every image found in order, every text gathered.

Properties over messages of any nesting and any types (tests/chat_strategies.py): only
the documented errors come out, and the caller's messages are never changed.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings

from openai_gemini_vision import SUPPORTED_MIME_TYPES, GeminiVisionError, prepare_messages
from openai_gemini_vision.images.blob import parse_data_url
from openai_gemini_vision.request.messages import copy_messages, image_slots, text_of

from .chat_strategies import documented, expected_images, requests, snapshot


def _scribble(value: Any) -> None:
    """Change every dict and list inside `value` (what a caller of the copy may do)."""
    if isinstance(value, dict):
        for item in list(value.values()):
            _scribble(item)
        value["scribbled"] = True
    elif isinstance(value, list):
        for item in list(value):
            _scribble(item)
        value.append("scribbled")


def _copied(given_messages: list[Any]) -> list[dict[str, Any]] | None:
    """copy_messages' result, or None when a message is not a message (its documented TypeError)."""
    try:
        return copy_messages(given_messages)
    except TypeError as exc:
        if not documented(exc):
            raise
        return None


@settings(max_examples=300)
@given(requests)
def test_copy_is_plain_and_private(given_messages: list[Any]) -> None:
    """copy_messages gives plain dicts sharing no dict or list with the input, or the documented TypeError."""
    before = snapshot(given_messages)
    copied = _copied(given_messages)
    if copied is not None:
        assert all(type(message) is dict for message in copied)
        _scribble(copied)
    assert given_messages == before


@settings(max_examples=300)
@given(requests)
def test_image_slots_find_every_image_in_order(given_messages: list[Any]) -> None:
    """image_slots yields each image exactly where it sits, in message order, and replace() writes there."""
    copied = _copied(given_messages)
    if copied is None:
        return
    slots = list(image_slots(copied))
    assert [(s.message, s.index, s.value) for s in slots] == expected_images(copied)
    for slot in slots:
        assert slot.content is copied[slot.message]["content"]
        assert slot.where == f"messages[{slot.message}].content[{slot.index}]"
        slot.replace({"type": "text", "text": "replaced"})
        assert copied[slot.message]["content"][slot.index]["text"] == "replaced"


@settings(max_examples=300)
@given(requests)
def test_text_of_gathers_every_text(given_messages: list[Any]) -> None:
    """text_of holds each string content, text part and tool-call name and arguments."""
    copied = _copied(given_messages)
    if copied is None:
        return
    text = text_of(copied)
    for message in copied:
        content = message.get("content")
        pieces = [content] if isinstance(content, str) else []
        for part in content if isinstance(content, list) else ():
            if isinstance(part, str):
                pieces.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                pieces.append(part["text"])
        for piece in pieces:
            assert piece in text


@settings(max_examples=150, deadline=None)
@given(requests)
def test_prepare_gives_a_request_or_a_documented_error(given_messages: list[Any]) -> None:
    """prepare_messages returns checked data-URL parts sized as promised, or a GeminiVisionError or TypeError; input untouched."""
    before = snapshot(given_messages)
    try:
        prepared = prepare_messages(given_messages)
    except (GeminiVisionError, TypeError) as exc:
        if not documented(exc):
            raise
        assert given_messages == before
        return
    assert given_messages == before
    slots = list(image_slots(prepared.messages))
    assert len(slots) == len(prepared.images) == len(prepared.estimate.per_image)
    for slot, image in zip(slots, prepared.images, strict=True):
        mime, data = parse_data_url(slot.value)
        assert (mime, data) == (image.mime_type, image.data)
        assert mime in SUPPORTED_MIME_TYPES
    sent = json.dumps(prepared.messages, ensure_ascii=False, separators=(",", ":"))
    assert prepared.request_bytes == len(sent.encode())


def test_text_of_passes_over_tool_calls_that_are_not_a_list() -> None:
    """A tool_calls value that is no list (message JSON from strangers) is skipped, not a crash."""
    messages = [
        {"role": "assistant", "content": "hi", "tool_calls": 1},
        {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}, 7]},
    ]
    assert text_of(messages) == "hi\nf\n{}"
