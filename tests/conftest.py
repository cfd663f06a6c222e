"""Shared test configuration: one fake Gemini, one key, the cassette settings.

Test files are named after the module they test (`tests/test_<module>.py`,
`test_<part>_<module>.py` for cli/, serve/ and batch/); ARCHITECTURE.md ("Tests") gives
the whole rule and the few checks that span the package, and test_architecture.py holds
every test file to it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

from openai_gemini_vision import testing
from openai_gemini_vision.testing import pytest_recording_configure as pytest_recording_configure

from .fakegemini import FakeGemini
from .paths import CASSETTES

# Properties are judged by what they find, never by how long an example took: a busy
# 2-core CI machine would otherwise fail them on Hypothesis's 200 ms deadline.
settings.register_profile("ogv", deadline=None)
settings.load_profile("ogv")

# Read before `_no_ambient_keys` clears the environment: only a re-recording run
# (`GEMINI_API_KEY=... pytest --record-mode=rewrite`) sends it, and only to Gemini.
_RECORDING_KEY = (
    os.environ.get("GEMINI_API_KEY", "").strip() or os.environ.get("GOOGLE_API_KEY", "").strip()
)
#: The key cassette tests use when replaying; never a real one.
REPLAY_KEY = "test-key-not-real"


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


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    """Top-level cassettes/<test module>/, not pytest-recording's tests/cassettes/."""
    return str(CASSETTES / request.path.stem)


@pytest.fixture
def vcr_config(request: pytest.FixtureRequest, record_mode: str) -> dict[str, object]:
    """The library's own recording settings; loopback servers in tests are never recorded."""
    marker = request.node.get_closest_marker("vcr")
    pinned = marker is not None and marker.kwargs.get("record_mode") == "none"
    if record_mode != "none" and not pinned and not _RECORDING_KEY:
        # Skipped before pytest-recording deletes the cassette it would rewrite.
        pytest.skip("re-recording needs a key: GEMINI_API_KEY=... pytest --record-mode=rewrite")
    return testing.vcr_config(
        secrets=[_RECORDING_KEY] if _RECORDING_KEY else [], ignore_localhost=True
    )


@pytest.fixture
def gemini_key(record_mode: str) -> str:
    """The real key while re-recording cassettes, a placeholder while replaying them."""
    if record_mode != "none" and _RECORDING_KEY:
        return _RECORDING_KEY
    return REPLAY_KEY


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch, gemini_key: str) -> str:
    """A key in GEMINI_API_KEY, as a user would set it (OpenAI's variables stay cleared).

    The placeholder while replaying, so no test key can reach a cassette; the real key only
    while re-recording, and testing.vcr_config scrubs it from what is written."""
    monkeypatch.setenv("GEMINI_API_KEY", gemini_key)
    return gemini_key


@pytest.fixture
def fake() -> Iterator[FakeGemini]:
    """A fake Gemini on loopback that answers at once and takes any key.

    A module needing another stand-in (one that checks the key, or the batch endpoints)
    defines its own `fake`, which pytest uses there in place of this one."""
    with FakeGemini() as server:
        yield server


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[int, int]]]:
    """Every pixel decode Pillow makes from now on, as (format, size): reading a header
    is no decode; `load()` with image data still to read is one."""
    from PIL import ImageFile

    seen: list[tuple[str, tuple[int, int]]] = []
    real = ImageFile.ImageFile.load

    def load(self: ImageFile.ImageFile) -> object:
        if self.tile:
            seen.append((self.format or "", self.size))
        return real(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    return seen
