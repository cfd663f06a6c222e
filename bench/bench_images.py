"""How much does `load_image` cost beside the naive recipe, on a 12 MP photo?

Targets (issue "core"), measured in one run on the same files:
- passthrough JPEG and PNG: <= 1.15x `base64.b64encode(path.read_bytes())`, counting
  the data URL that ours builds (the naive recipe stops at base64 bytes);
- detail="low" on the JPEG: <= 35 ms, and a payload <= 2% of the naive one.

    python bench/bench_images.py            # writes bench/out/photos/ on first run
    python bench/bench_images.py --runs 31

Figures are medians of `--runs`, the recipes interleaved so that a slower moment of the
machine falls on all of them alike; the page cache is warm after the first run.

Besides the targets it prints, for the same picture saved at quality 85, the detail="low"
time and libjpeg's bare decode at 1/8 scale: decoding must still read every Huffman
code, so its time follows the file's size, and it is most of the detail="low" time.
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from photos import photo_file
from PIL import Image

from openai_gemini_vision import load_image

__all__ = ["main"]


def _naive(path: Path) -> Callable[[], int]:
    return lambda: len(base64.b64encode(path.read_bytes()))


def _ours(path: Path, detail: str | None = None) -> Callable[[], int]:
    return lambda: len(load_image(path, detail=detail).data_url)  # type: ignore[arg-type]


def _draft_decode(path: Path) -> Callable[[], int]:
    """Pillow's decode of a JPEG at 1/8 scale and nothing else: the floor for detail="low"."""

    def decode() -> int:
        with Image.open(path) as im:
            im.draft("RGB", (im.width // 8, im.height // 8))
            im.load()
            return im.width

    return decode


def _medians(runs: int, recipes: dict[str, Callable[[], int]]) -> dict[str, float]:
    """Median milliseconds of each recipe, run in turn `runs` times."""
    times: dict[str, list[float]] = {name: [] for name in recipes}
    for recipe in recipes.values():
        recipe()  # warm the page cache and Pillow's plugin registry
    for _ in range(runs):
        for name, recipe in recipes.items():
            start = time.perf_counter()
            recipe()
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures beside their targets; 1 if one is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args(argv)
    jpeg, png, jpeg85 = photo_file("JPEG"), photo_file("PNG"), photo_file("JPEG", quality=85)
    print(
        f"4000x3000: JPEG q90 {jpeg.stat().st_size:,} bytes, PNG {png.stat().st_size:,} bytes, "
        f"JPEG q85 {jpeg85.stat().st_size:,} bytes"
    )

    ms = _medians(
        args.runs,
        {
            "naive JPEG": _naive(jpeg),
            "ours JPEG": _ours(jpeg),
            "naive PNG": _naive(png),
            "ours PNG": _ours(png),
            "ours JPEG low": _ours(jpeg, "low"),
            "1/8 decode JPEG": _draft_decode(jpeg),
            "ours q85 low": _ours(jpeg85, "low"),
            "1/8 decode q85": _draft_decode(jpeg85),
        },
    )
    naive_payload = _naive(jpeg)()
    low_payload = _ours(jpeg, "low")()
    checks = [
        ("passthrough JPEG", ms["ours JPEG"] / ms["naive JPEG"], 1.15, "x naive"),
        ("passthrough PNG", ms["ours PNG"] / ms["naive PNG"], 1.15, "x naive"),
        ('detail="low" JPEG time', ms["ours JPEG low"], 35.0, "ms"),
        ('detail="low" JPEG payload', 100 * low_payload / naive_payload, 2.0, "% of naive"),
    ]
    for name, value in ms.items():
        print(f"{name:>16}: {value:8.2f} ms (median of {args.runs})")
    print(f"payload: naive {naive_payload:,} chars, low {low_payload:,} chars")
    missed = 0
    for name, value, target, unit in checks:
        ok = value <= target
        missed += not ok
        print(f"{name:>26}: {value:6.2f} {unit} (target <= {target}) {'ok' if ok else 'MISSED'}")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
