"""The JSON bodies a client sends, seen through an httpx2 event hook."""

from __future__ import annotations

import json
from typing import Any

import httpx2

__all__ = ["SentBodies"]


class SentBodies:
    """Request bodies as they leave the client, in order; pass `client()` as `http_client`."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx2.Request) -> None:
        """Keep one request's body (every request these tests send is JSON)."""
        self.bodies.append(json.loads(request.content))

    def client(self) -> httpx2.Client:
        """An httpx2 client that records every body it sends."""
        return httpx2.Client(event_hooks={"request": [self]})
