"""Peak memory of detail="low" on a 100-megapixel JPEG, each recipe in a fresh process.

Workload 7: `load_image(path, detail="low").data_url` on an 11547x8660 JPEG, against
Pillow's decode + thumbnail (every pixel in memory: 300 MB of RGB) and Pillow's
`thumbnail` on the unloaded image (a reduced decode). Target: ours <= 300 MB peak RSS.

Each figure is the peak resident memory of a fresh child process (Linux's VmHWM, see
`_peak_rss` for why not `ru_maxrss`), so nothing the benchmark did before can count; the
child also reports its peak after imports, so the share of the interpreter and
libraries shows.

    python bench/bench_memory.py            # writes the 100 MP photo on first run (~1 min)
    python bench/bench_memory.py --runs 5
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from anchors import PILLOW_FULL, PILLOW_REDUCED
from photos import photo_file
from report import Row, mb, ratio, show

__all__ = ["main", "memory_rows"]

SIZE = (11547, 8660)  # 100.0 MP at 4:3
TARGET_BYTES = 300_000_000
_PILLOW = {"full": PILLOW_FULL, "reduced": PILLOW_REDUCED}


def _peak_rss() -> int:
    """This program's peak resident memory so far, in bytes: Linux's VmHWM.

    Not `ru_maxrss`: Linux carries a parent's high-water mark across fork and exec into
    the child's `ru_maxrss`, and by now the benchmark's own process holds hundreds of MB
    (a 1 GB parent made a bare `python -c pass` report 1 GB). VmHWM belongs to the
    address space that exec created, so it counts this program alone.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # reported in kB
    raise RuntimeError("no VmHWM in /proc/self/status: this benchmark needs Linux")


def _child(recipe: str, path: Path) -> None:
    """Run one recipe once and print its figures as JSON: the parent's measuring probe."""
    work: Callable[[], int]
    if recipe == "ours":
        from openai_gemini_vision import load_image

        work = lambda: len(load_image(path, detail="low").data_url)  # noqa: E731
    else:
        work = functools.partial(_PILLOW[recipe].recipe, path)
    imports = _peak_rss()
    start = time.perf_counter()
    work()
    seconds = time.perf_counter() - start
    print(json.dumps({"imports": imports, "peak": _peak_rss(), "seconds": seconds}))


def _measure(recipe: str, path: Path, runs: int) -> dict[str, float]:
    """Median figures of `runs` fresh processes running `recipe`."""
    results = []
    for _ in range(runs):
        done = subprocess.run(  # noqa: S603 - our own interpreter and script
            [sys.executable, __file__, "--child", recipe, str(path)],
            capture_output=True,
            text=True,
            check=True,
        )
        results.append(json.loads(done.stdout.splitlines()[-1]))
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


def _cell(figures: dict[str, float]) -> str:
    return (
        f"{mb(int(figures['peak']))} peak ({mb(int(figures['imports']))} after imports), "
        f"{figures['seconds']:.2f} s"
    )


def memory_rows(runs: int) -> list[Row]:
    """Workload 7: peak RSS of ours and of Pillow's two ways, each a median of `runs`."""
    path = photo_file("JPEG", SIZE)
    ours = _measure("ours", path, runs)
    measured = {recipe: _measure(recipe, path, runs) for recipe in _PILLOW}
    workload = (
        f'7. peak RSS, detail="low" on a 100 MP JPEG ({SIZE[0]}x{SIZE[1]}, '
        f"{mb(path.stat().st_size)})"
    )
    return [
        Row(
            workload,
            _cell(ours),
            f"{_PILLOW[recipe].label}: {_cell(figures)}",
            ratio(ours["peak"], figures["peak"]),
            f"<= {mb(TARGET_BYTES)}" if recipe == "full" else "—",
            ours["peak"] <= TARGET_BYTES if recipe == "full" else None,
        )
        for recipe, figures in measured.items()
    ]


def main(argv: list[str] | None = None) -> int:
    """Print workload 7 as a table; 1 if the target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("RECIPE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child[0], Path(args.child[1]))
        return 0
    return show(memory_rows(args.runs))


if __name__ == "__main__":
    raise SystemExit(main())
