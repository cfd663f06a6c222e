"""The only place that opens a network connection for an image: limits, redirects, address checks."""
# CONTRACT STUB: filled in by the fetch work (issue 4). Keep these signatures.

from __future__ import annotations

from collections.abc import Sequence

from .policy import ImagePolicy

__all__ = ["afetch_image", "afetch_many", "fetch_image", "fetch_many"]


def fetch_image(url: str, policy: ImagePolicy) -> bytes:
    """GET an http(s) image URL within the policy's limits; raises FetchError / BlockedURLError."""
    raise NotImplementedError


async def afetch_image(url: str, policy: ImagePolicy) -> bytes:
    """Async `fetch_image`."""
    raise NotImplementedError


def fetch_many(urls: Sequence[str], policy: ImagePolicy) -> dict[str, bytes | Exception]:
    """Fetch distinct URLs concurrently (at most `policy.fetch_concurrency` at once)."""
    raise NotImplementedError


async def afetch_many(urls: Sequence[str], policy: ImagePolicy) -> dict[str, bytes | Exception]:
    """Async `fetch_many`."""
    raise NotImplementedError
