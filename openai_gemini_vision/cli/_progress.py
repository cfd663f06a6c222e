"""Progress for long runs: a rate that means something, and plain lines for logs.

A run that resumes skips its first images in a millisecond; a rate taken over those
(rich's own speed) reads thousands of images a second. Here the rate counts only the
images that took work (a request) over the time since the run began, and shows nothing
until a second has passed. When stderr is not a terminal (a log file, CI), a plain line
every few seconds replaces the bar, which would draw nothing there.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import click
from rich.progress import ProgressColumn, Task
from rich.text import Text

__all__ = [
    "PLAIN_PROGRESS_SECONDS",
    "Meter",
    "PlainProgress",
    "RateColumn",
    "TimeLeftColumn",
    "rate_text",
]

#: Seconds between two plain progress lines.
PLAIN_PROGRESS_SECONDS = 5.0
#: No rate is shown before this many seconds: one or two answers make no rate.
_SETTLE_SECONDS = 1.0
#: Outcomes that took a request; the others (already answered, identical) take none.
_WORK = frozenset({"answered", "failed"})


def _rate(worked: int, elapsed: float | None) -> float | None:
    if elapsed is None or elapsed < _SETTLE_SECONDS or worked <= 0:
        return None
    return worked / elapsed


def rate_text(worked: int, elapsed: float | None, unit: str = "img/s") -> str:
    """`worked` images over `elapsed` seconds, as "3.4 img/s"; "- img/s" while too early."""
    rate = _rate(worked, elapsed)
    return f"{rate:.1f} {unit}" if rate is not None else f"- {unit}"


def _clock_text(seconds: float | None) -> str:
    if seconds is None:
        return "-:--:--"
    whole = int(seconds + 0.5)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def _left(total: float | None, done: float, worked: int, elapsed: float | None) -> float | None:
    rate = _rate(worked, elapsed)
    if rate is None or total is None:
        return None
    return max(0.0, total - done) / rate


class RateColumn(ProgressColumn):
    """Images per second of work, from the task's `worked` field and its elapsed time."""

    def render(self, task: Task) -> Text:
        """The rate, or "- img/s" in the first second and before any work."""
        worked = int(task.fields.get("worked", 0))
        return Text(rate_text(worked, task.elapsed), style="progress.data.speed")


class TimeLeftColumn(ProgressColumn):
    """Time left at the rate of `RateColumn`; "-:--:--" until there is a rate."""

    def render(self, task: Task) -> Text:
        """The time left as h:mm:ss."""
        worked = int(task.fields.get("worked", 0))
        left = _left(task.total, task.completed, worked, task.elapsed)
        return Text(_clock_text(left), style="progress.remaining")


class Meter:
    """Counts a run's finished images, and those of them that took a request."""

    def __init__(self, total: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total
        self.done = 0
        self.worked = 0
        self.clock = clock
        self.started = clock()

    def add(self, outcome: str) -> None:
        """One image finished with `outcome` ("answered", "skipped", "reused", "failed")."""
        self.done += 1
        if outcome in _WORK:
            self.worked += 1

    def line(self, verb: str) -> str:
        """`captioning: 12/50 images, 3.4 img/s, 0:00:11 left`."""
        elapsed = self.clock() - self.started
        left = _left(self.total, self.done, self.worked, elapsed)
        return (
            f"{verb}: {self.done:,}/{self.total:,} images, {rate_text(self.worked, elapsed)}, "
            f"{_clock_text(left)} left"
        )


class PlainProgress:
    """A `Meter`'s line on stderr every `PLAIN_PROGRESS_SECONDS`, for a stderr that is no
    terminal (where a progress bar draws nothing)."""

    def __init__(self, meter: Meter, verb: str, *, enabled: bool | None = None) -> None:
        self.meter = meter
        self.verb = verb
        self.enabled = not sys.stderr.isatty() if enabled is None else enabled
        self._last = meter.started

    def add(self, outcome: str) -> None:
        """Count one finished image; print a line if the last one is old enough."""
        self.meter.add(outcome)
        now = self.meter.clock()
        if self.enabled and now - self._last >= PLAIN_PROGRESS_SECONDS:
            self._last = now
            click.echo(self.meter.line(self.verb), err=True)
