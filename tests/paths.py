"""Where the suite's files are: the checkout, its cassettes, the example images."""

from __future__ import annotations

from pathlib import Path

__all__ = ["CASSETTES", "DATA", "EXAMPLE", "ROOT"]

#: The checkout (the folder holding pyproject.toml).
ROOT = Path(__file__).resolve().parents[1]
#: Cassettes live at the top level, cassettes/<test module>/<test name>.yaml.
CASSETTES = ROOT / "cassettes"
#: Small images the tests and the README's examples use.
DATA = ROOT / "tests" / "data"
#: 160x120: a house, a door, the sun (the hand-written detection and segmentation answers).
EXAMPLE = DATA / "example.png"
