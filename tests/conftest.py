"""Shared test configuration."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_ambient_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's real keys or base URLs."""
    for name in (
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "OPENAI_API_KEY",
        "GEMINI_BASE_URL",
        "OPENAI_BASE_URL",
        "GEMINI_MODEL",
    ):
        monkeypatch.delenv(name, raising=False)
