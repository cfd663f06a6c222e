"""How fast does `ogv caption` go? 500 images, a loopback server answering after 100 ms, 16 at once.

Target: within 1.3x of the ideal 500 / 16 x 0.1 s = 3.1 s.

    python bench/bench_caption.py          # writes bench/out/caption/*.jpg on first run
    python bench/bench_caption.py --runs 3 --concurrency 16 --latency 0.1

The fake server (tests/fakegemini.py, started by loopback.py) runs in a process of its
own, as the real one would, and `ogv caption` runs as a user runs it: `python -m
openai_gemini_vision`. Two figures, medians of `--runs`: the captioning time the command
reports in its summary (from the first file read to the last line on disk), and the
whole process's wall time, which adds interpreter start-up and imports.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from loopback import serve
from PIL import Image, ImageChops
from report import Row, ratio, show

__all__ = ["caption_rows", "main", "make_images"]

OUT = Path(__file__).resolve().parent / "out" / "caption"
SIZE = (320, 240)
TARGET = 1.3  # x ideal


def make_images(count: int) -> Path:
    """`count` distinct small JPEGs in bench/out/caption/images/, written once and reused."""
    folder = OUT / "images"
    folder.mkdir(parents=True, exist_ok=True)
    gradient = Image.linear_gradient("L").resize(SIZE).convert("RGB")
    for index in range(count):
        path = folder / f"img_{index:04d}.jpg"
        if not path.exists():
            noise = Image.effect_noise(SIZE, 16 + index % 32).convert("RGB")
            ImageChops.add(gradient, noise, scale=2.0, offset=index % 97).save(
                path, "JPEG", quality=70 + index % 25
            )
    for extra in sorted(folder.glob("img_*.jpg"))[count:]:
        extra.unlink()
    return folder


def run_once(folder: Path, base_url: str, concurrency: int, count: int) -> tuple[float, float]:
    """One full `ogv caption` over the folder; returns (wall seconds, reported seconds)."""
    results = OUT / "results.jsonl"
    results.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "openai_gemini_vision",
        "caption",
        str(folder),
        "--prompt",
        "One-line caption",
        "--out",
        str(results),
        "--concurrency",
        str(concurrency),
        "--base-url",
        base_url,
    ]
    env = {**os.environ, "GEMINI_API_KEY": "bench-key"}
    start = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        command, capture_output=True, text=True, env=env, check=False
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"ogv caption failed ({done.returncode}):\n{done.stderr}")
    lines = results.read_text().splitlines()
    assert len(lines) == count, f"{len(lines)} result lines for {count} images"
    reported = re.search(r"images in ([0-9.]+) s", done.stderr)
    assert reported, done.stderr
    return wall, float(reported.group(1))


def caption_rows(
    runs: int, images: int = 500, latency: float = 0.1, concurrency: int = 16
) -> list[Row]:
    """Workload 6: median `ogv caption` times over `runs` runs, beside the ideal."""
    folder = make_images(images)
    ideal = images / concurrency * latency
    with serve("gemini", latency=latency) as base_url:
        timings = [run_once(folder, base_url, concurrency, images) for _ in range(runs)]
    wall = statistics.median(w for w, _ in timings)
    reported = statistics.median(r for _, r in timings)
    workload = (
        f"6. ogv caption, {images} JPEGs {SIZE[0]}x{SIZE[1]}, server {latency * 1000:.0f} ms "
        f"away, concurrency {concurrency}"
    )
    alternative = f"ideal {images} / {concurrency} x {latency} s: {ideal:.2f} s"
    return [
        Row(
            workload,
            f"{reported:.2f} s captioning (as the command reports it)",
            alternative,
            ratio(reported, ideal),
            f"<= {TARGET}x ideal",
            reported <= TARGET * ideal,
        ),
        Row(
            workload,
            f"{wall:.2f} s whole process (adds start-up and imports)",
            alternative,
            ratio(wall, ideal),
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    """Print workload 6 as a table; 1 if the target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    return show(caption_rows(args.runs, args.images, args.latency, args.concurrency))


if __name__ == "__main__":
    raise SystemExit(main())
