"""Running `ogv` in-process, as the command-line tests do."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from click.testing import CliRunner, Result

from openai_gemini_vision.cli import ogv

__all__ = ["run_ogv"]


def run_ogv(
    args: Sequence[str | os.PathLike[str]],
    *,
    input: str | bytes | None = None,
    env: Mapping[str, str | None] | None = None,
) -> Result:
    """Run `ogv ARGS...` in this process and return its exit code, stdout and stderr apart.

    `input` is what the command reads on stdin; `env` sets (or, with None, unsets)
    environment variables for this run only.
    """
    return CliRunner().invoke(ogv, [os.fspath(arg) for arg in args], input=input, env=env)
