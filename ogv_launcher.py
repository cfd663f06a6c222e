"""The `ogv` command's entry point: a Ctrl-C while the package loads ends as one later does.

Importing openai_gemini_vision (openai, pydantic, Pillow, rich) takes a second or more,
and a Ctrl-C then would print a traceback through Python's import machinery. This module
sits outside the package and imports nothing heavy, so it is running, ready to turn that
Ctrl-C into one line and exit status 130, before the loading begins.
"""

from __future__ import annotations

import sys

__all__ = ["main"]

# The same words and status as openai_gemini_vision.cli._common (INTERRUPTED,
# EXIT_INTERRUPTED), which cannot be imported before the package has loaded.
_INTERRUPTED = "ogv: stopped by Ctrl-C."
_EXIT_INTERRUPTED = 130


def main() -> None:
    """Load the `ogv` command line and run it."""
    try:
        from openai_gemini_vision.cli import main as run
    except KeyboardInterrupt:
        # A terminal has echoed "^C" on the current line: end that line first.
        sys.stderr.write(("\n" if sys.stderr.isatty() else "") + _INTERRUPTED + "\n")
        sys.exit(_EXIT_INTERRUPTED)
    run()


if __name__ == "__main__":
    main()
