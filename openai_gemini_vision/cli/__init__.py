"""The `ogv` command line: ask about images, estimate tokens, caption folders, draw boxes and
masks, serve other languages.

Each command lives in its own module; `_common` maps library errors to exit codes in
one place.
"""

from __future__ import annotations

from ._common import main, ogv
from .ask import ask
from .batch import batch
from .caption import caption
from .detect import detect
from .segment import segment
from .serve import serve
from .tokens import tokens

ogv.add_command(ask)
ogv.add_command(tokens)
ogv.add_command(caption)
ogv.add_command(detect)
ogv.add_command(segment)
ogv.add_command(batch)
ogv.add_command(serve)

__all__ = ["main", "ogv"]
