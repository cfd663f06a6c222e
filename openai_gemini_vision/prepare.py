"""Walking OpenAI messages, rewriting image parts, and keeping the request within budget."""
# CONTRACT STUB: filled in by the client work (issue 4). Keep these signatures.

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict

from .images import PreparedImage
from .policy import ImagePolicy
from .tokens import TokenEstimate

__all__ = ["PreparedRequest", "aprepare_messages", "prepare_messages"]


class PreparedRequest(BaseModel):
    """Messages ready to send, the images in them, and what the request will cost."""

    model_config = ConfigDict(frozen=True)

    messages: list[dict[str, Any]]
    images: list[PreparedImage]
    request_bytes: int
    estimate: TokenEstimate


def prepare_messages(
    messages: Iterable[Any], *, model: str | None = None, policy: ImagePolicy | None = None
) -> PreparedRequest:
    """Rewrite every image part into a checked data URL; never mutates `messages`."""
    raise NotImplementedError


async def aprepare_messages(
    messages: Iterable[Any], *, model: str | None = None, policy: ImagePolicy | None = None
) -> PreparedRequest:
    """Async `prepare_messages` (URL images are fetched concurrently)."""
    raise NotImplementedError
