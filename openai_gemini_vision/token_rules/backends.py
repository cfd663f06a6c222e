"""Which Google service bills a request: the Gemini API or Vertex AI.

The same model bills differently on the two (GEMINI_FACTS.md, "Image tokens": Gemini 2.5
bills a 700x1003 image 258 tokens on the Gemini API and 1,806 on Vertex AI,
googleapis/python-genai#1907), so every price names its backend.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from ..errors import InvalidArgumentError

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "VERTEX_HOST",
    "Backend",
    "backend_for_base_url",
    "backend_of",
]

Backend = Literal["gemini-api", "vertex-ai"]

#: Every backend, the default first.
BACKENDS: tuple[Backend, ...] = ("gemini-api", "vertex-ai")

#: Google AI Studio keys and `generativelanguage.googleapis.com`: what the clients talk to
#: unless told otherwise.
DEFAULT_BACKEND: Backend = "gemini-api"

#: Vertex AI's OpenAI-compatible endpoint lives on this host, or on a regional one such as
#: `us-central1-aiplatform.googleapis.com`:
#: https://cloud.google.com/vertex-ai/generative-ai/docs/migrate/openai/overview
VERTEX_HOST = "aiplatform.googleapis.com"

# Spellings people write for each backend (CLI flags, environment variables, configs).
_SPELLINGS: dict[str, Backend] = {
    "gemini-api": "gemini-api",
    "gemini": "gemini-api",
    "ai-studio": "gemini-api",
    "aistudio": "gemini-api",
    "google-ai-studio": "gemini-api",
    "generativelanguage": "gemini-api",
    "vertex-ai": "vertex-ai",
    "vertexai": "vertex-ai",
    "vertex": "vertex-ai",
}


def backend_of(value: str | None) -> Backend:
    """`value` as "gemini-api" or "vertex-ai" (any case, "_" or "-"); None is "gemini-api"."""
    if value is None:
        return DEFAULT_BACKEND
    if isinstance(value, str):
        key = value.strip().lower().replace("_", "-").replace(" ", "-")
        if key in _SPELLINGS:
            return _SPELLINGS[key]
    raise InvalidArgumentError(
        f"{value!r} is not a valid backend. Valid backends are: "
        + ", ".join(repr(b) for b in BACKENDS)
        + " (or None for 'gemini-api')."
    )


def backend_for_base_url(url: object) -> Backend:
    """The backend a base URL reaches: "vertex-ai" on `aiplatform.googleapis.com` (any
    region), else "gemini-api" (Google's own endpoint, a proxy, a test server, or None)."""
    if url is None:
        return DEFAULT_BACKEND
    text = str(url).strip()
    if "//" not in text:  # "us-central1-aiplatform.googleapis.com/v1/..." without a scheme
        text = "//" + text
    try:
        host = (urlsplit(text).hostname or "").rstrip(".")
    except ValueError:  # an unbalanced "[" in the host: not Vertex's
        return DEFAULT_BACKEND
    if host == VERTEX_HOST or host.endswith(("-" + VERTEX_HOST, "." + VERTEX_HOST)):
        return "vertex-ai"
    return DEFAULT_BACKEND
