"""Run every benchmark workload and write bench/RESULTS.md: the machine, the versions, one table.

    pip install '.[bench]'        # the anchors: google-genai and LiteLLM (optional)
    python bench/run.py           # a few minutes; the photos are written on the first run
    python bench/run.py --quick   # fewer runs, for trying a change

Each figure is a median of several runs, ours and the alternatives measured in the same
run on the same files (see each bench_*.py for the workload and its target). Nothing
leaves the machine: the servers are on loopback, and any other connection is refused
(offline.py). A workload that breaks is reported in the table, not fatal to the rest.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import bench_batch
import bench_caption
import bench_fetch
import bench_images
import bench_memory
import bench_request
import bench_tokens
from offline import blocked, forbid_network
from PIL import features
from report import Row, show, table

__all__ = ["main"]

HERE = Path(__file__).resolve().parent
PACKAGES = [
    "openai-gemini-vision",
    "pillow",
    "pillow-heif",
    "pybase64",
    "openai",
    "google-genai",
    "litellm",
]

# (name, rows of the workload given a number of runs, runs, runs with --quick). Fewer runs
# where one run takes seconds; the modules time their slowest recipes fewer times still.
WORKLOADS: list[tuple[str, Callable[[int], list[Row]], int, int]] = [
    ("1. passthrough", bench_images.passthrough_rows, 21, 3),
    ('2. detail="low"', bench_images.low_detail_rows, 21, 3),
    ("3. three 12 MP PNGs", bench_request.fitting_rows, 5, 1),
    ("4. token estimate", bench_tokens.estimate_rows, 9, 3),
    ("4b. token rules", bench_tokens.rules_rows, 25, 5),
    ("5. eight URL images", bench_fetch.url_rows, 9, 3),
    ("6. ogv caption", bench_caption.caption_rows, 3, 1),
    ("7. peak memory", bench_memory.memory_rows, 3, 1),
    ("8. batch JSONL build", bench_batch.batch_rows, 3, 1),
]


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass  # not Linux: platform's answer is the best there is
    return platform.processor() or platform.machine()


def _os() -> str:
    try:
        return platform.freedesktop_os_release()["PRETTY_NAME"] + f" ({platform.platform()})"
    except OSError:
        return platform.platform()


def _git(*args: str) -> str:
    command = ["git", *args]
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=HERE)  # noqa: S603
    return done.stdout.strip()


def _commit() -> str:
    try:
        head = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"{head} (with uncommitted changes)" if dirty else head


def machine() -> list[str]:
    """Markdown lines describing the machine, the software and the load it ran under."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    turbo = features.version("libjpeg_turbo") or "no"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"- CPU: {_cpu()}, {os.cpu_count()} logical cores",
        f"- RAM: {memory / 2**30:.1f} GiB",
        f"- OS: {_os()}",
        f"- Python: {platform.python_version()} ({platform.python_implementation()})",
        f"- libjpeg-turbo in Pillow: {turbo}",
        f"- load average before the run: {load}",
    ]


def versions() -> list[str]:
    """Markdown lines: the commit measured, then each package the figures depend on."""
    lines = [f"- code measured: commit {_commit()}"]
    for package in PACKAGES:
        try:
            lines.append(f"- {package} {version(package)}")
        except PackageNotFoundError:
            lines.append(f"- {package}: not installed (pip install '.[bench]')")
    return lines


def _run(name: str, rows_of: Callable[[int], list[Row]], runs: int) -> list[Row]:
    """The workload's rows, or one row saying how it broke: the rest of the suite goes on."""
    start = time.perf_counter()
    print(f"{name} ({runs} runs) ...", file=sys.stderr, flush=True)
    try:
        rows = rows_of(runs)
    except Exception as exc:  # noqa: BLE001 - reported in the table, and the run fails
        traceback.print_exc()
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        rows = [Row(name, f"did not run: {reason}", "—", met=False)]
    print(f"  {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    return rows


def results(rows: list[Row], command: str, seconds: float, before: list[str]) -> str:
    """The whole of RESULTS.md; `before` is `machine()` as it was before the run."""
    after = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    refused = ", ".join(blocked) if blocked else "none"
    return "\n".join(
        [
            "# Benchmark results",
            "",
            f"Written by `{command}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC in "
            f"{seconds / 60:.1f} minutes. Each figure is a median of several runs (see "
            "bench/run.py); ours and the alternatives ran in the same run on the same files.",
            "",
            "## Machine",
            "",
            *before,
            f"- load average after the run: {after}",
            "",
            "## Versions",
            "",
            *versions(),
            "",
            "## Results",
            "",
            table(rows),
            "",
            "Ratios are ours over the alternative (below 1: ours is faster or smaller); sizes "
            "are base64 as sent. Page faults (workload 1) are first touches of fresh memory, "
            "each a trap in which the kernel zeroes a 4 kB page: recipes that only move "
            "megabytes spend as long on them as on encoding, and how many there are depends "
            "on what ran before. The libjpeg 1/8 decode (workload 2) is the floor of "
            'detail="low" on a JPEG: every Huffman code of the file must be read, whatever '
            "the output size. Connections outside loopback refused during the run: "
            f"{refused}.",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Run the workloads, print the table and write RESULTS.md; 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs, for trying a change")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args(argv)
    forbid_network()
    before = machine()
    start = time.perf_counter()
    rows: list[Row] = []
    for name, rows_of, runs, quick_runs in WORKLOADS:
        rows += _run(name, rows_of, quick_runs if args.quick else runs)
    command = "python bench/run.py" + (" --quick" if args.quick else "")
    args.out.write_text(results(rows, command, time.perf_counter() - start, before))
    print(f"wrote {args.out}", file=sys.stderr)
    return show(rows)


if __name__ == "__main__":
    raise SystemExit(main())
