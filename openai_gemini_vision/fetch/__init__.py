"""Fetching image URLs safely: the only network access for images, address checks below it."""

from __future__ import annotations

from .fetcher import (
    MAX_REDIRECTS,
    afetch_image,
    afetch_many,
    fetch_image,
    fetch_many,
    public_url,
)

__all__ = [
    "MAX_REDIRECTS",
    "afetch_image",
    "afetch_many",
    "fetch_image",
    "fetch_many",
    "public_url",
]
