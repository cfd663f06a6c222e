"""No cassette holds a key: every file under cassettes/ is scanned for key-like strings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from .paths import CASSETTES

# Google API keys are "AIza" and 35 more characters; OpenAI keys start "sk-"; OAuth
# access tokens "ya29."; a bearer credential is anything after "Bearer " that is not a
# <placeholder>.
KEY_PATTERNS = {
    "Google API key": re.compile(r"AIza[0-9A-Za-z_-]{35}"),
    "bearer credential": re.compile(r"Bearer\s+(?!<)[^\s'\"]+"),
    "OpenAI key": re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"),
    "OAuth token": re.compile(r"\bya29\.[0-9A-Za-z_-]+"),
}
SECRET_HEADERS = {"authorization", "x-goog-api-key", "cookie", "set-cookie"}


def leaks(text: str) -> list[str]:
    """Each key-like string in `text`, named by kind."""
    return [
        f"{kind}: {m.group()[:12]}..." for kind, p in KEY_PATTERNS.items() for m in p.finditer(text)
    ]


def cassette_files() -> list[Path]:
    """Every file under cassettes/: the cassettes and their README."""
    return sorted(p for p in CASSETTES.rglob("*") if p.is_file())


def test_there_are_cassettes_to_scan() -> None:
    """The scan covers real files (an empty or moved folder would make it pass vacuously)."""
    assert len([p for p in cassette_files() if p.suffix == ".yaml"]) >= 9


def test_scanner_finds_each_kind_of_key() -> None:
    """Planted keys of each kind are found; placeholders left by the filters are not."""
    planted = (
        "AIza" + "Sy" + "A" * 33,
        "Authorization: Bearer abc.def",
        "sk-" + "proj" + "x" * 20,
        "ya29." + "a0AfH6",
    )
    for text in planted:
        assert leaks(text), text
    assert leaks("Bearer <GEMINI_API_KEY> and AIzaShort") == []


@pytest.mark.parametrize("path", cassette_files(), ids=lambda p: str(p.relative_to(CASSETTES)))
def test_cassette_holds_no_key(path: Path) -> None:
    """No key-like string, and no credential or cookie header, in this cassette."""
    text = path.read_text(encoding="utf-8")
    assert leaks(text) == []
    if path.suffix != ".yaml":
        return
    for interaction in yaml.safe_load(text).get("interactions", []):
        for part in ("request", "response"):
            headers = {name.lower() for name in interaction[part].get("headers") or {}}
            assert not headers & SECRET_HEADERS, f"{part} of {path.name}"
