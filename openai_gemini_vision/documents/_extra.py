"""The optional `documents` extra (pypdfium2, PyAV): imported when first needed, or a typed error."""

from __future__ import annotations

import importlib
from types import ModuleType

from ..errors import MissingDependencyError

__all__ = ["INSTALL", "require"]

#: What to run when the extra is missing.
INSTALL = "pip install 'openai-gemini-vision[documents]'"


def require(module: str, what: str) -> ModuleType:
    """`module`, imported; MissingDependencyError naming the extra when it is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        error = MissingDependencyError(
            f"{what} need {module.split('.')[0]}, which is not installed: {INSTALL}"
        )
        error.name = module
        raise error from exc
