"""Hypothesis strategies for chat messages as strangers send them: any nesting, any types.

Messages mix well-formed parts with junk (numbers where dicts belong, image_url without
a url, unknown part types, pydantic models, raw images in content lists). Image URLs are
tiny data URLs, broken ones, and strings naming files or other schemes; never an
http(s) URL a test could reach the network with, and never a path that would be read
(the default policy refuses path strings, and the only raw paths do not exist).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hypothesis import strategies as st
from openai.types.chat import ChatCompletionMessage
from PIL import Image

from openai_gemini_vision import GeminiVisionError

from .imaging import data_url, encode, image_bytes, photo

TINY_PNG = image_bytes("PNG", 6, 4)
TINY_GIF = image_bytes("GIF", 5, 3)
ROTATED_JPEG = encode(photo(8, 4), "JPEG", orientation=6)
TINY_PIL = photo(4, 3)


def _never_fetched(url: str) -> bool:
    """Whether `url` is not an http(s) URL (urlsplit drops tabs and newlines, as fetching would)."""
    try:
        return urlsplit(url).scheme.lower() not in {"http", "https"}
    except ValueError:
        return True


FIXED_URLS = [
    data_url(TINY_PNG, "image/png"),
    data_url(ROTATED_JPEG, "image/jpeg"),
    data_url(TINY_GIF, "image/gif"),
    data_url(TINY_PNG, "image/jpg"),
    data_url(TINY_PNG, ""),
    "data:image/png;base64,@@@@",
    "data:image/png;base64,",
    "data:image/png;base64iVBOR",
    "data:",
    "data:text/plain,hello",
    "",
    "cat.png",
    "/etc/passwd",
    "file:///etc/passwd",
    "file://server/share/cat.png",
    "gs://bucket/cat.png",
    "javascript:alert(1)",
    "C:\\photos\\cat.png",
    "http://[::1",
]

junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
"""JSON-like values of any shape (no NaN: inputs are compared for equality)."""

fixed_urls = st.sampled_from(FIXED_URLS)
urls = st.one_of(fixed_urls, fixed_urls, fixed_urls, st.text(max_size=24).filter(_never_fetched))
details = st.sampled_from(["low", "high", "auto", "LOW", "", None, 3])

image_urls = st.one_of(
    st.fixed_dictionaries({"url": urls}, optional={"detail": details}),
    urls,
    st.fixed_dictionaries({}, optional={"detail": details}),
    st.fixed_dictionaries({"url": junk}),
    junk,
)

raw_images = st.sampled_from(
    [TINY_PNG, bytearray(TINY_GIF), TINY_PIL, Path("/nonexistent/ogv-test/photo.png")]
)
"""Images a caller's code puts straight into a content list (never read from a real path)."""

image_parts = st.fixed_dictionaries({"type": st.just("image_url"), "image_url": image_urls})

parts = st.one_of(
    st.fixed_dictionaries({"type": st.just("text"), "text": st.text(max_size=20)}),
    image_parts,
    image_parts,
    image_parts,
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["input_audio", "file", "refusal", "IMAGE_URL"])
            | st.text(max_size=6)
        },
        optional={"text": junk, "image_url": image_urls, "input_audio": junk},
    ),
    raw_images,
    st.text(max_size=12),
    junk,
)

part_lists = st.lists(parts, max_size=4)
contents = st.one_of(part_lists, part_lists, part_lists, st.none(), st.text(max_size=30), junk)

tool_calls = st.lists(
    st.fixed_dictionaries(
        {
            "id": st.text(max_size=4),
            "type": st.just("function"),
            "function": st.fixed_dictionaries(
                {"name": st.text(max_size=6), "arguments": st.text(max_size=12)}
            )
            | junk,
        }
    )
    | junk,
    max_size=2,
)

roles = st.sampled_from(["user", "system", "assistant", "tool", "developer"]) | st.text(max_size=5)

dict_messages = st.fixed_dictionaries(
    {"role": roles, "content": contents},
    optional={"tool_calls": tool_calls | junk, "name": st.text(max_size=5)},
) | st.fixed_dictionaries({"role": roles, "tool_calls": tool_calls | junk})

model_messages = st.builds(
    lambda text: ChatCompletionMessage(role="assistant", content=text), st.text(max_size=20)
)
"""An assistant turn as openai returned it, fed back into the next request."""

messages = st.lists(
    st.one_of(
        dict_messages, dict_messages, dict_messages, model_messages, st.none() | st.integers()
    ),
    max_size=3,
)
"""A request's messages: mostly message dicts, sometimes a model or junk in a message's place."""

image_turns = st.builds(
    lambda role, first, rest: {"role": role, "content": [first, *rest]},
    roles,
    image_parts | raw_images,
    part_lists,
)
"""A message whose content list starts with an image part or a raw image."""

requests = st.one_of(
    messages,
    st.builds(
        lambda before, turn, after: [*before, turn, *after],
        st.lists(dict_messages, max_size=1),
        image_turns,
        st.lists(dict_messages | model_messages, max_size=1),
    ),
)
"""Messages as `messages`, or well-formed ones holding at least one image among the junk."""


def snapshot(value: Any) -> Any:
    """A deep copy of `value` to compare it with later (to prove it was not mutated)."""
    return copy.deepcopy(value)


def expected_images(copied: list[dict[str, Any]]) -> list[tuple[int, int, Any]]:
    """(message, index, source) of each image in copied messages, read from the contract.

    An image is a raw PIL image, path or bytes-like item in a content list, or a part of
    type "image_url" whose image_url is a string or a dict holding "url".
    """
    found = []
    for position, message in enumerate(copied):
        content = message.get("content")
        for index, part in enumerate(content if isinstance(content, list) else ()):
            if isinstance(part, bytes | bytearray | memoryview | Path | Image.Image):
                found.append((position, index, part))
            elif isinstance(part, dict) and part.get("type") == "image_url":
                image_url = part.get("image_url")
                if isinstance(image_url, str):
                    found.append((position, index, image_url))
                elif isinstance(image_url, dict) and "url" in image_url:
                    found.append((position, index, image_url["url"]))
    return found


# The TypeErrors the walker documents, by their messages: a message that is not a dict,
# and a value JSON cannot carry. Any other TypeError is a crash.
DOCUMENTED_TYPE_ERRORS = ("each message must be a dict", "cannot be sent as JSON")


def documented(exc: Exception) -> bool:
    """Whether `exc` is an error the library documents for bad messages."""
    if isinstance(exc, GeminiVisionError):
        return True
    return isinstance(exc, TypeError) and any(m in str(exc) for m in DOCUMENTED_TYPE_ERRORS)
