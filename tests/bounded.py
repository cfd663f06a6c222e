"""Run one call in a worker thread within a time bound, recording every warning it raises.

A hang in C code, where no signal handler runs, fails the test as surely as one in Python.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

# Seconds any single case may take (they take milliseconds, the largest decode about one
# second; a hang or a full decode of a decompression bomb would not finish).
TIME_BOUND = 10.0


@dataclass
class Outcome:
    """What a bounded call gave: its result or exception, and every warning it raised."""

    result: object = None
    error: BaseException | None = None
    warned: list[str] = field(default_factory=list)


def run_bounded(call: Callable[[], object], seconds: float = TIME_BOUND) -> Outcome:
    """Run `call` in a worker thread, recording warnings; fail the test if it outlives `seconds`."""
    outcome = Outcome()

    def work() -> None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                outcome.result = call()
            except BaseException as exc:  # noqa: BLE001 - handed to the test to judge
                outcome.error = exc
        outcome.warned = [f"{w.category.__name__}: {w.message}" for w in caught]

    worker = threading.Thread(target=work, name="bounded call", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        pytest.fail(f"still running after {seconds} s: a hang or an unbounded decode")
    return outcome
