"""`ogv serve`: an OpenAI-compatible gateway that prepares images, then forwards to Gemini.

Any OpenAI client, in any language, points its base URL at the gateway; image URLs,
GIF and HEIC files, and oversized images then work as with the library's own clients.

    from openai_gemini_vision.serve import ServeConfig, create_app
    app = create_app(ServeConfig(gateway_keys=["..."]))   # run with any ASGI server

Needs the `serve` extra: `pip install 'openai-gemini-vision[serve]'`.
"""

from __future__ import annotations

try:
    import aiohttp  # noqa: F401 - only whether the extra is installed
    import starlette  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised by the CLI's own check
    raise ImportError(
        f"The gateway needs the 'serve' extra ({exc.name} is missing): "
        "pip install 'openai-gemini-vision[serve]'"
    ) from exc

from .app import ESTIMATE_HEADER, Gateway, create_app
from .config import ServeConfig, check_exposure

__all__ = ["ESTIMATE_HEADER", "Gateway", "ServeConfig", "check_exposure", "create_app"]
