"""The package root exposes exactly the public names of the API document."""

from __future__ import annotations

import importlib
import pkgutil
import tomllib
from pathlib import Path

import openai_gemini_vision as ogv


def _isort_key(name: str) -> tuple[int, str]:
    # ruff's RUF022 order: CONSTANTS, then Classes, then functions.
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


def test_all_is_sorted_and_unique() -> None:
    """`__all__` is kept sorted (constants, classes, functions) so additions are easy to review."""
    assert list(ogv.__all__) == sorted(set(ogv.__all__), key=_isort_key)


def test_all_names_resolve() -> None:
    """Every name in `__all__` is importable from the package root."""
    for name in ogv.__all__:
        assert hasattr(ogv, name), name


def test_every_module_declares_all() -> None:
    """Each module says what it exports, and exports only what exists."""
    for info in pkgutil.walk_packages(ogv.__path__, prefix="openai_gemini_vision."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        assert hasattr(module, "__all__"), info.name
        for name in module.__all__:
            assert hasattr(module, name), f"{info.name}.{name}"


def test_api_document_names_present() -> None:
    """The names fixed by the API document are all exported from the root."""
    required = {
        "GEMINI_BASE_URL",
        "SUPPORTED_MIME_TYPES",
        "OpenAI",
        "AsyncOpenAI",
        "wrap",
        "ImagePolicy",
        "load_image",
        "image_part",
        "PreparedImage",
        "prepare_messages",
        "aprepare_messages",
        "PreparedRequest",
        "estimate_image_tokens",
        "estimate_tokens",
        "TokenEstimate",
        "Detection",
        "parse_detections",
        "detect",
        "draw_detections",
        "GeminiVisionError",
        "ImageError",
        "UnsupportedImageError",
        "CorruptImageError",
        "ImageTooLargeError",
        "RequestTooLargeError",
        "TooManyImagesError",
        "FetchError",
        "BlockedURLError",
        "MissingAPIKeyError",
    }
    assert required <= set(ogv.__all__)


def test_constants() -> None:
    """The base URL and the five MIME types are the ones Gemini documents."""
    assert ogv.GEMINI_BASE_URL == "https://generativelanguage.googleapis.com/v1beta/openai/"
    assert {
        "image/png",
        "image/jpeg",
        "image/webp",
        "image/heic",
        "image/heif",
    } == ogv.SUPPORTED_MIME_TYPES


def test_error_tree() -> None:
    """Input errors are also ValueErrors, so callers' `except ValueError` keeps working."""
    for cls in (ogv.ImageError, ogv.RequestTooLargeError, ogv.TooManyImagesError):
        assert issubclass(cls, ValueError)
        assert issubclass(cls, ogv.GeminiVisionError)
    for cls in (ogv.UnsupportedImageError, ogv.CorruptImageError, ogv.ImageTooLargeError):
        assert issubclass(cls, ogv.ImageError)
    assert issubclass(ogv.BlockedURLError, ogv.FetchError)
    assert not issubclass(ogv.FetchError, ValueError)


def test_the_license_file_is_the_license_pyproject_declares() -> None:
    """LICENSE holds the MIT license that pyproject.toml declares, and ships in the sdist."""
    root = Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text())
    assert project["project"]["license"] == "MIT"
    assert "LICENSE" in project["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]
    text = (root / "LICENSE").read_text()
    assert text.startswith("MIT License\n\nCopyright (c) ")
    assert "Permission is hereby granted, free of charge, to any person" in text
    assert 'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND' in text
