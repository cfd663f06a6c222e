"""Drop-in `OpenAI` / `AsyncOpenAI` clients for Gemini, and `wrap()`; nothing about pixels."""
# CONTRACT STUB: filled in by the client work (issue 4). Keep these names.

from __future__ import annotations

from typing import Any, TypeVar

import openai

from .policy import ImagePolicy

__all__ = ["GEMINI_BASE_URL", "AsyncOpenAI", "OpenAI", "wrap"]

GEMINI_BASE_URL = "https://generativelanguage.googleapis.com/v1beta/openai/"

_ClientT = TypeVar("_ClientT", openai.OpenAI, openai.AsyncOpenAI)


class OpenAI(openai.OpenAI):
    """`openai.OpenAI` pointed at Gemini, preparing every image before it is sent."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        image_policy: ImagePolicy | None = None,
        **kwargs: Any,
    ) -> None:
        raise NotImplementedError


class AsyncOpenAI(openai.AsyncOpenAI):
    """`openai.AsyncOpenAI` pointed at Gemini, preparing every image before it is sent."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        image_policy: ImagePolicy | None = None,
        **kwargs: Any,
    ) -> None:
        raise NotImplementedError


def wrap(client: _ClientT, *, image_policy: ImagePolicy | None = None) -> _ClientT:
    """Install image preparation on an existing openai client; returns it; idempotent."""
    raise NotImplementedError
