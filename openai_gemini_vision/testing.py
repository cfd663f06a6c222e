"""Recording and replaying your own cassettes with image payloads kept small and readable.

With pytest-recording, in your `conftest.py`:

```python
import pytest
from openai_gemini_vision import testing
from openai_gemini_vision.testing import pytest_recording_configure as pytest_recording_configure


@pytest.fixture(scope="module")
def vcr_config():
    return testing.vcr_config()
```

Recorded requests then keep no key (`authorization`, `x-goog-api-key`, query `key`,
cookies, and the values of GEMINI_API_KEY / GOOGLE_API_KEY wherever they appear), and
every base64 image in a request body is stored as one short placeholder such as
`<image/jpeg 38,112 bytes sha256:ab12cd34ef567890>`. Replaying compares request bodies
with their images reduced the same way, so an image matches by its digest and a cassette
with three photos stays a few KB. With plain vcrpy: `vcr.VCR(**vcr_config())`, then
`register(that_vcr)`.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Callable, Iterable
from typing import Any

from .images.prepared import payload_placeholder

__all__ = [
    "BODY_MATCHER",
    "FILTERED_HEADERS",
    "before_record_request",
    "before_record_response",
    "image_body",
    "pytest_recording_configure",
    "register",
    "shrink_images",
    "vcr_config",
]

#: The name `vcr_config()` matches request bodies by; `register` teaches it to a VCR.
BODY_MATCHER = "image_body"

#: Request headers never written to a cassette: credentials and cookies.
FILTERED_HEADERS = ("authorization", "x-goog-api-key", "cookie", "proxy-authorization")
#: Query parameters never written: Google APIs also take the key as `?key=`, and a Files
#: API upload address carries its own credential as `upload_id`.
_FILTERED_QUERY = ("key", "upload_id")
_UPLOAD_ID = re.compile(r"([?&]upload_id=)[^&]+")
#: Response headers never written.
_FILTERED_RESPONSE_HEADERS = frozenset({"set-cookie", "set-cookie2"})
#: Environment variables whose values are scrubbed from everything recorded.
_KEY_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY")

_WHITESPACE = re.compile(r"\s+")
_DATA_URL = re.compile(r"data:(?P<mime>[\w.+-]+/[\w.+-]+)(?:;[^,;]*)*;base64,(?P<payload>.*)", re.S)


def _shrink(value: Any) -> tuple[Any, bool]:
    """`value` with every base64 data URL string replaced by its placeholder; and whether any was."""
    if isinstance(value, str):
        match = _DATA_URL.fullmatch(value)
        if match is None:
            return value, False
        try:
            data = base64.b64decode(_WHITESPACE.sub("", match["payload"]), validate=True)
        except (binascii.Error, ValueError):
            return value, False  # not base64 after all: leave it for the matcher to compare
        return payload_placeholder(match["mime"], data), True
    if isinstance(value, dict):
        changed = False
        result = {}
        for key, item in value.items():
            result[key], item_changed = _shrink(item)
            changed |= item_changed
        return result, changed
    if isinstance(value, list):
        pairs = [_shrink(item) for item in value]
        return [item for item, _ in pairs], any(changed for _, changed in pairs)
    return value, False


def shrink_images(body: bytes | str | None) -> bytes | str | None:
    """A JSON request body with each base64 data URL as a placeholder; other bodies unchanged.

    The body stays byte for byte what was sent when it holds no data URL.
    """
    if not body:
        return body
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body
    shrunk, changed = _shrink(parsed)
    if not changed:
        return body
    # openai's own serialization (openai._utils._json.openapi_dumps), so what is left
    # reads as it was sent.
    text = json.dumps(shrunk, ensure_ascii=False, separators=(",", ":"))
    return text.encode() if isinstance(body, bytes) else text


def before_record_request(request: Any) -> Any:
    """vcrpy hook: images in the body become placeholders (also run on requests being matched)."""
    if isinstance(request.body, bytes | str):
        request.body = shrink_images(request.body)
    return request


def before_record_response(response: dict[str, Any]) -> dict[str, Any]:
    """vcrpy hook: drops cookies a response sets, and hides a Files API upload address's id."""
    headers = response.get("headers") or {}
    response["headers"] = {
        name: [_UPLOAD_ID.sub(r"\1<hidden>", v) for v in value]
        if name.lower() == "x-goog-upload-url" and isinstance(value, list)
        else value
        for name, value in headers.items()
        if name.lower() not in _FILTERED_RESPONSE_HEADERS
    }
    return response


def _comparable(request: Any) -> Any:
    body = getattr(request, "body_bytes", request.body)
    if not isinstance(body, bytes | str):
        return body
    body = shrink_images(body)
    if not body:
        return None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body


def _first_difference(new: Any, recorded: Any, where: str = "body") -> str:
    if isinstance(new, dict) and isinstance(recorded, dict):
        for key in sorted(set(new) | set(recorded), key=str):
            if new.get(key, ...) != recorded.get(key, ...):
                return _first_difference(new.get(key), recorded.get(key), f"{where}[{key!r}]")
    if isinstance(new, list) and isinstance(recorded, list) and len(new) == len(recorded):
        for index, (a, b) in enumerate(zip(new, recorded, strict=True)):
            if a != b:
                return _first_difference(a, b, f"{where}[{index}]")
    return f"{where}: {_short(new)} in this request, {_short(recorded)} recorded"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def image_body(r1: Any, r2: Any) -> None:
    """vcrpy matcher: bodies equal once images are placeholders (images match by digest)."""
    new, recorded = _comparable(r1), _comparable(r2)
    if new != recorded:
        raise AssertionError(_first_difference(new, recorded))


def register(vcr: Any) -> None:
    """Teach a `vcr.VCR` the body matcher `vcr_config()` names."""
    vcr.register_matcher(BODY_MATCHER, image_body)


def pytest_recording_configure(config: Any, vcr: Any) -> None:
    """pytest-recording hook (import it into your conftest.py): registers the body matcher."""
    register(vcr)


def _from_environment(name: str) -> Callable[[Any, Any], str | None]:
    def value(_request: Any, _response: Any) -> str | None:
        found = os.environ.get(name, "").strip()
        # A short value would be replaced wherever its letters happen to occur.
        return found if len(found) >= 8 else None

    return value


def vcr_config(*, secrets: Iterable[str] = (), **overrides: Any) -> dict[str, Any]:
    """Settings for pytest-recording's `vcr_config` fixture, or `vcr.VCR(**...)`.

    Args:
        secrets: more values (keys, tokens) to scrub from everything recorded.
        overrides: any vcrpy setting, replacing the one given here.
    """
    sensitive: list[tuple[str, Any]] = [
        (f"<{name}>", _from_environment(name)) for name in _KEY_VARIABLES
    ]
    sensitive += [("<SECRET>", value) for value in secrets if value and len(value) >= 8]
    config: dict[str, Any] = {
        "filter_headers": list(FILTERED_HEADERS),
        "filter_query_parameters": list(_FILTERED_QUERY),
        "filter_sensitive_data": sensitive,
        "before_record_request": before_record_request,
        "before_record_response": before_record_response,
        # Store answers readable (Gemini gzips them) rather than as base64 of gzip.
        "decode_compressed_response": True,
        "match_on": ("method", "scheme", "host", "port", "path", "query", BODY_MATCHER),
    }
    config.update(overrides)
    return config
