"""How fast, and in how much memory, does `ogv caption --batch` build its JSONL?

Workload 8: 10,000 JPEG photos sent as they are (passthrough). Ours is the batch run's
build (`BatchRun.start`: read, sha256, prepare exactly as online, write the shards and
their manifests); the anchor merely reads each file and base64-encodes it with pybase64
into one file. Targets: ours >= 80% of the anchor's throughput, and a peak memory that
does not grow with the number of images (measured at two sizes).

A third recipe, the floor, is the anchor plus the one thing every line needs that the
anchor skips: the image's sha256 (the line's `custom_id` and the resume key). It shows
how much of the gap no preparation code can close.

Each figure comes from a fresh child process (its Linux VmHWM, see bench_memory.py; its
CPU time from getrusage), the photos warm in the page cache for all, runs alternating
between the recipes. Before each child, `os.sync()` writes out what earlier runs left
dirty: without it, a run's speed depended on how much of the previous run's 3.9 GB the
kernel still had to write (the anchor measured 5.8 s and 33.5 s in two runs). Two
throughputs are given: until the last byte is in the page cache (what the target names),
and until it is on the disk (the child's `os.sync()` included), which is what a build
too large for memory, a million images, runs at.

    python bench/bench_batch.py                     # writes bench/out/batch/ on first run
    python bench/bench_batch.py --count 10000 --runs 3
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
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


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _encode_into(path: Path, files: list[str], *, hashed: bool) -> None:
    """The anchor (read, pybase64, one file) or, `hashed`, the floor (and sha256 each)."""
    import pybase64

    with path.open("wb") as handle:
        for name in files:
            with open(name, "rb") as image:
                data = image.read()
            if hashed:
                hashlib.sha256(data).hexdigest()
            handle.write(pybase64.b64encode(data))
            handle.write(b"\n")


def _child(recipe: str, count: int) -> None:
    """One recipe over the first `count` photos; prints its times, bytes and peak RSS."""
    files = sorted(str(p) for p in (OUT / "photos").glob("photo_*.jpg"))[:count]
    work = OUT / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    if recipe in ("anchor", "floor"):
        import pybase64  # noqa: F401 - imported before the clock starts, as ours is

        before = _peak_rss()
        cpu, start = _cpu_seconds(), time.perf_counter()
        _encode_into(work / "naive.b64", files, hashed=recipe == "floor")
        seconds = time.perf_counter() - start
        written = (work / "naive.b64").stat().st_size
    else:
        from openai_gemini_vision import OpenAI
        from openai_gemini_vision.batch import BatchRun

        client = OpenAI(api_key="bench-not-sent", base_url="http://127.0.0.1:9/v1beta/openai/")
        run = BatchRun(work / "results.jsonl", client=client)
        before = _peak_rss()
        cpu, start = _cpu_seconds(), time.perf_counter()
        state = run.start(
            files,
            prompt="One-line caption",
            model="gemini-2.5-flash",
            inputs=[],
            max_enqueued_tokens=10**12,
        )
        seconds = time.perf_counter() - start
        written = sum(shard.bytes for shard in state.shards)
    cpu = _cpu_seconds() - cpu
    os.sync()
    on_disk = time.perf_counter() - start
    result = {
        "seconds": seconds,
        "on_disk": on_disk,
        "cpu": cpu,
        "bytes": written,
        "peak": _peak_rss(),
        "imports": before,
    }
    print(json.dumps(result))


def _measure(recipe: str, count: int) -> dict[str, float]:
    os.sync()  # every recipe starts with nothing left for the kernel to write
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
        path.read_bytes()  # warm the page cache for every recipe alike
    recipes = ("ours", "anchor", "floor")
    results: dict[str, list[dict[str, float]]] = {recipe: [] for recipe in recipes}
    for number in range(runs):
        for recipe in recipes[number % 3 :] + recipes[: number % 3]:
            results[recipe].append(_measure(recipe, count))

    def rate(recipe: str, key: str) -> float:
        return statistics.median(count / r[key] for r in results[recipe])

    def cpu_ms(recipe: str) -> float:
        return statistics.median(r["cpu"] for r in results[recipe]) / count * 1000

    ours, anchor, floor = (rate(recipe, "seconds") for recipe in recipes)
    ours_disk, anchor_disk, floor_disk = (rate(recipe, "on_disk") for recipe in recipes)
    small_peak = _measure("ours", small)["peak"]
    large_peak = statistics.median(r["peak"] for r in results["ours"])
    name = f"8. batch JSONL build, {count:,} JPEG photos {SIZE[0]}x{SIZE[1]}"
    megabytes = statistics.median(r["bytes"] for r in results["ours"]) / 1e6
    return [
        Row(
            workload=name,
            ours=f"{ours:,.0f} photos/s, {megabytes:,.0f} MB",
            alternative=f"read + pybase64 into one file: {anchor:,.0f} photos/s",
            ratio=ratio(ours, anchor),
            target=f">= {TARGET:.0%} of the anchor's throughput",
            met=ours / anchor >= TARGET,
        ),
        Row(
            workload=name,
            ours=f"{ours:,.0f} photos/s",
            alternative=f"floor, the anchor + sha256 each: {floor:,.0f} photos/s",
            ratio=ratio(ours, floor),
        ),
        Row(
            workload=name,
            ours=f"{ours_disk:,.0f} photos/s on disk (sync included)",
            alternative=f"anchor: {anchor_disk:,.0f}/s, floor: {floor_disk:,.0f}/s on disk",
            ratio=ratio(ours_disk, anchor_disk),
        ),
        Row(
            workload=name,
            ours=f"CPU {cpu_ms('ours'):.2f} ms a photo",
            alternative=f"anchor: {cpu_ms('anchor'):.2f} ms, floor: {cpu_ms('floor'):.2f} ms",
            ratio=ratio(cpu_ms("ours"), cpu_ms("anchor")),
        ),
        Row(
            workload="8. batch JSONL build, peak memory",
            ours=f"{mb(int(small_peak))} at {small:,} photos, {mb(int(large_peak))} at {count:,}",
            alternative=f"after imports: {mb(int(results['ours'][0]['imports']))}",
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
    parser.add_argument("--child", choices=["ours", "anchor", "floor"])
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.count)
        return
    sys.exit(show(batch_rows(args.runs, args.count, args.small)))


if __name__ == "__main__":
    main()
