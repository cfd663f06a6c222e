"""Median timings of recipes run in turn, so that a slow moment of the machine hits them all alike.

With each time, the page faults of the same runs: where a recipe only moves megabytes,
first touches of fresh memory (a fault each, the kernel zeroing a 4 kB page) can cost
more than the work itself, and how many there are depends on what ran before.
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable, Mapping
from typing import NamedTuple

__all__ = ["Measure", "measure", "medians"]


class Measure(NamedTuple):
    """Medians over the runs of one recipe."""

    ms: float
    faults: float
    """Minor page faults (no disk) of one run."""


def measure(runs: int, recipes: Mapping[str, Callable[[], object]]) -> dict[str, Measure]:
    """Median milliseconds and page faults of each recipe, the recipes interleaved `runs` times.

    Each recipe runs once untimed first: the page cache, Pillow's plugin registry and
    lazy imports are warm before the clock starts, as they are in a running program.
    Each round starts one recipe further on: what a recipe leaves behind (a heap
    trimmed, pages to fault back in) falls on every other recipe in turn, not always
    on the one after it.
    """
    if not recipes:  # every alternative of this kind missing (the bench extra not installed)
        return {}
    times: dict[str, list[float]] = {name: [] for name in recipes}
    faults: dict[str, list[int]] = {name: [] for name in recipes}
    for recipe in recipes.values():
        recipe()
    names = list(recipes)
    for run in range(runs):
        for name in names[run % len(names) :] + names[: run % len(names)]:
            recipe = recipes[name]
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            start = time.perf_counter()
            recipe()
            times[name].append((time.perf_counter() - start) * 1000)
            faults[name].append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return {
        name: Measure(statistics.median(times[name]), statistics.median(faults[name]))
        for name in recipes
    }


def medians(runs: int, recipes: Mapping[str, Callable[[], object]]) -> dict[str, float]:
    """Median milliseconds of each recipe, the recipes interleaved `runs` times."""
    return {name: result.ms for name, result in measure(runs, recipes).items()}
