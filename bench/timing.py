"""Median timings of recipes run in turn, so that a slow moment of the machine hits them all alike."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping

__all__ = ["medians"]


def medians(runs: int, recipes: Mapping[str, Callable[[], object]]) -> dict[str, float]:
    """Median milliseconds of each recipe, the recipes interleaved `runs` times.

    Each recipe runs once untimed first: the page cache, Pillow's plugin registry and
    lazy imports are warm before the clock starts, as they are in a running program.
    """
    times: dict[str, list[float]] = {name: [] for name in recipes}
    for recipe in recipes.values():
        recipe()
    for _ in range(runs):
        for name, recipe in recipes.items():
            start = time.perf_counter()
            recipe()
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}
