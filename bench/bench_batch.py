"""How fast, and in how much memory, does `ogv caption --batch` build its JSONL?

Workload 8: 10,000 JPEG photos sent as they are (passthrough). Ours is the batch run's
build (`BatchRun.start`: read, sha256, prepare exactly as online, write the shards and
their manifests); the anchor merely reads each file and base64-encodes it with pybase64
into one file. Targets: ours >= 80% of the anchor's throughput, and a peak memory that
does not grow with the number of images (measured at two sizes).

Each figure comes from a fresh child process (its Linux VmHWM, see bench_memory.py), the
files warm in the page cache for both, runs alternating between the two recipes.

    python bench/bench_batch.py                     # writes bench/out/batch/ on first run
    python bench/bench_batch.py --count 10000 --runs 3
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image, ImageChops
from report import Row, mb, ratio, show

__all__ = ["batch_rows", "main", "make_photos"]

OUT = Path(__file__).resolve().parent / "out" / "batch"
SIZE = (1024, 768)
TARGET = 0.8  # of the anchor's throughput


def make_photos(count: int) -> Path:
    """`count` distinct JPEG photos (1024x768, about 150 kB) in bench/out/batch/photos/."""
    folder = OUT / "photos"
    folder.mkdir(parents=True, exist_ok=True)
    gradient = Image.linear_gradient("L").resize(SIZE).convert("RGB")
    noise = [Image.effect_noise(SIZE, 24 + n).convert("RGB") for n in range(8)]
    for index in range(count):
        path = folder / f"photo_{index:05d}.jpg"
        if not path.exists():
            ImageChops.add(gradient, noise[index % 8], scale=2.0, offset=index % 97).save(
                path, "JPEG", quality=80 + index % 15
            )
    return folder


def _peak_rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status: this benchmark needs Linux")


def _child(recipe: str, count: int) -> None:
    """One recipe over the first `count` photos; prints seconds, bytes written, peak RSS."""
    files = sorted(str(p) for p in (OUT / "photos").glob("photo_*.jpg"))[:count]
    work = OUT / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    if recipe == "anchor":
        import pybase64

        before = _peak_rss()
        start = time.perf_counter()
        with (work / "naive.b64").open("wb") as handle:
            for name in files:
                with open(name, "rb") as image:
                    handle.write(pybase64.b64encode(image.read()))
                handle.write(b"\n")
        seconds = time.perf_counter() - start
        written = (work / "naive.b64").stat().st_size
    else:
        from openai_gemini_vision import OpenAI
        from openai_gemini_vision.batch import BatchRun

        client = OpenAI(api_key="bench-not-sent", base_url="http://127.0.0.1:9/v1beta/openai/")
        run = BatchRun(work / "results.jsonl", client=client)
        before = _peak_rss()
        start = time.perf_counter()
        state = run.start(
            files,
            prompt="One-line caption",
            model="gemini-2.5-flash",
            inputs=[],
            max_enqueued_tokens=10**12,
        )
        seconds = time.perf_counter() - start
        written = sum(shard.bytes for shard in state.shards)
    print(
        json.dumps({"seconds": seconds, "bytes": written, "peak": _peak_rss(), "imports": before})
    )


def _measure(recipe: str, count: int) -> dict[str, float]:
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, __file__, "--child", recipe, "--count", str(count)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{recipe} failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return result


def batch_rows(runs: int, count: int = 10_000, small: int = 2_000) -> list[Row]:
    """Throughput at `count` photos (median of `runs`), and peak memory at `small` and `count`."""
    make_photos(count)
    for path in sorted((OUT / "photos").glob("photo_*.jpg"))[:count]:
        path.read_bytes()  # warm the page cache for both recipes alike
    ours, anchor = [], []
    for number in range(runs):
        order = ("ours", "anchor") if number % 2 == 0 else ("anchor", "ours")
        for recipe in order:
            (ours if recipe == "ours" else anchor).append(_measure(recipe, count))
    ours_rate = statistics.median(count / r["seconds"] for r in ours)
    anchor_rate = statistics.median(count / r["seconds"] for r in anchor)
    small_peak = _measure("ours", small)["peak"]
    large_peak = statistics.median(r["peak"] for r in ours)
    share = ours_rate / anchor_rate
    return [
        Row(
            workload=f"8. batch JSONL build, {count:,} JPEG photos {SIZE[0]}x{SIZE[1]}",
            ours=f"{ours_rate:,.0f} photos/s, {statistics.median(r['bytes'] for r in ours) / 1e6:,.0f} MB",
            alternative=f"read + pybase64 into one file: {anchor_rate:,.0f} photos/s",
            ratio=ratio(ours_rate, anchor_rate),
            target=f">= {TARGET:.0%} of the anchor's throughput",
            met=share >= TARGET,
        ),
        Row(
            workload="8. batch JSONL build, peak memory",
            ours=f"{mb(int(small_peak))} at {small:,} photos, {mb(int(large_peak))} at {count:,}",
            alternative=f"after imports: {mb(int(ours[0]['imports']))}",
            ratio=ratio(large_peak, small_peak),
            target="flat (independent of the number of photos)",
            met=large_peak <= small_peak * 1.1,
        ),
    ]


def main() -> None:
    """Run the workload and print its rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=2_000)
    parser.add_argument("--child", choices=["ours", "anchor"])
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.count)
        return
    sys.exit(show(batch_rows(args.runs, args.count, args.small)))


if __name__ == "__main__":
    main()
