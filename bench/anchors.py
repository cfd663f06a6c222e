"""The recipes users would pick instead of ours, each from an image file to what a request carries.

- naive: Google's documented recipe, `base64.b64encode(path.read_bytes())`.
- google-genai: `types.Part.from_bytes(data=..., mime_type=...)`, and a PIL image placed in
  `contents` (the SDK's `_transformers.t_part`, which re-encodes it in `pil_to_blob`).
  Both are then serialized as the SDK does before a request (`_common.convert_to_dict`,
  then `encode_unserializable_types`, where the bytes become base64).
- LiteLLM: an OpenAI message holding a base64 data URL, turned into Gemini parts by
  `GoogleAIStudioGeminiConfig.transform_messages`, what `litellm.completion("gemini/...")`
  runs; it inlines the data URL's base64 as it comes.
- Pillow: the obvious detail="low", a full decode then `thumbnail` and a JPEG; and
  `thumbnail` on an image not yet loaded, which lets libjpeg decode at 1/2 to 1/8 scale.

Every recipe returns the characters of base64 it would send, so payloads can be compared.
google-genai and LiteLLM are optional (`pip install '.[bench]'`): `missing` says why one
cannot run, and nothing here ever needs the network (`offline.forbid_network` makes sure).
"""

from __future__ import annotations

import base64
import functools
import importlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from offline import forbid_network
from PIL import Image

# Before either anchor is imported: LiteLLM reads its offline switches at import.
forbid_network()

__all__ = [
    "GENAI",
    "LITELLM",
    "MIME_TYPES",
    "NAIVE",
    "PILLOW_FULL",
    "PILLOW_REDUCED",
    "Alternative",
    "genai_bytes",
    "genai_pil",
    "litellm_gemini",
    "missing",
    "naive",
    "pillow_low",
]

#: What a user would write as the type, from the file name (Python 3.11's `mimetypes`
#: does not know .heic).
MIME_TYPES = {".jpg": "image/jpeg", ".png": "image/png", ".heic": "image/heic"}

_LOW_SIDE = 384  # detail="low": both sides within one 258-token tile, as ours aims


@dataclass(frozen=True)
class Alternative:
    """A recipe and the distribution it needs (None: only the standard library and Pillow)."""

    label: str
    recipe: Callable[[Path], int]
    package: str | None = None
    slow: bool = False
    """Decodes and re-encodes the pixels: seconds on 12 MP, so timed fewer times."""


_MODULES = {
    "google-genai": "google.genai",
    "litellm": "litellm.llms.gemini.chat.transformation",
}


def missing(alternative: Alternative) -> str | None:
    """Why `alternative` cannot run here (its package is not importable), or None.

    The import happens here, outside any timing: LiteLLM's takes seconds.
    """
    if alternative.package is None:
        return None
    try:
        importlib.import_module(_MODULES[alternative.package])
    except ImportError as exc:
        return f"{alternative.package} cannot be imported ({exc}); pip install '.[bench]'"
    return None


def naive(path: Path) -> int:
    """Google's recipe: the file's bytes in base64, not yet inside a data URL."""
    return len(base64.b64encode(path.read_bytes()))


def _genai_payload(part: Any) -> int:
    from google.genai import _common

    request = _common.encode_unserializable_types(_common.convert_to_dict(part))
    return len(request["inline_data"]["data"])  # type: ignore[index]


def genai_bytes(path: Path) -> int:
    """google-genai: `Part.from_bytes`, serialized as the SDK sends it."""
    from google.genai import types

    data = path.read_bytes()
    return _genai_payload(types.Part.from_bytes(data=data, mime_type=MIME_TYPES[path.suffix]))


def genai_pil(path: Path) -> int:
    """google-genai: a PIL image in `contents`, converted by the SDK and serialized."""
    from google.genai import _transformers

    with Image.open(path) as im:
        return _genai_payload(_transformers.t_part(im))


def litellm_gemini(path: Path) -> int:
    """LiteLLM: a data URL in an OpenAI message, converted to Gemini parts."""
    from litellm.llms.gemini.chat.transformation import GoogleAIStudioGeminiConfig

    encoded = base64.b64encode(path.read_bytes()).decode()
    url = f"data:{MIME_TYPES[path.suffix]};base64,{encoded}"
    messages: Any = [
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}
    ]
    contents = GoogleAIStudioGeminiConfig().transform_messages(messages, "gemini-2.5-flash")
    return len(contents[0]["parts"][0]["inline_data"]["data"])


def pillow_low(path: Path, *, full_decode: bool = True) -> int:
    """Pillow's way to detail="low": thumbnail to 384 px, JPEG, base64.

    `full_decode=True` loads every pixel first, as code that opens, converts or checks
    the image before shrinking it does; False lets `thumbnail` ask libjpeg for a
    reduced decode.
    """
    with Image.open(path) as im:
        small = im.convert("RGB") if full_decode else im
        small.thumbnail((_LOW_SIDE, _LOW_SIDE))
        buffer = io.BytesIO()
        small.save(buffer, "JPEG")
    return len(base64.b64encode(buffer.getvalue()))


NAIVE = Alternative("naive base64", naive)
PILLOW_FULL = Alternative("Pillow decode + thumbnail", pillow_low)
PILLOW_REDUCED = Alternative(
    "Pillow thumbnail() on the unloaded JPEG (reduced decode)",
    functools.partial(pillow_low, full_decode=False),
)
GENAI = (
    Alternative("google-genai Part.from_bytes", genai_bytes, "google-genai"),
    Alternative("google-genai PIL image", genai_pil, "google-genai", slow=True),
)
LITELLM = Alternative("LiteLLM data URL -> Gemini", litellm_gemini, "litellm")
