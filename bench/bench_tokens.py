"""How fast are offline token estimates? 100 photos of 12 MP, header reads only.

Target (issue "token estimates"): estimating 100 images of 4000x3000 in under 100 ms in
total. For comparison, the same images decoded fully, which is what an estimator that
opened the pixels would pay.

    python bench/bench_tokens.py            # writes bench/out/tokens/*.jpg on first run
    python bench/bench_tokens.py --runs 7

Figures are the best of `--runs` (the page cache is warm after the first run, as it is
for a caller who has just written or read the files).
"""

from __future__ import annotations

import argparse
import base64
import time
from collections.abc import Callable
from pathlib import Path

from photos import SIZE, photo
from PIL import Image

from openai_gemini_vision import estimate_tokens

__all__ = ["main"]

OUT = Path(__file__).parent / "out" / "tokens"
COUNT = 100
MODEL = "gemini-2.0-flash"


def make_photos() -> list[Path]:
    """COUNT JPEGs of SIZE in bench/out/tokens/, written once and then reused."""
    OUT.mkdir(parents=True, exist_ok=True)
    paths = [OUT / f"photo_{i:03d}.jpg" for i in range(COUNT)]
    missing = [p for p in paths if not p.exists()]
    if missing:
        print(f"writing {len(missing)} photos of {SIZE[0]}x{SIZE[1]} to {OUT} ...")
        bases = [photo(SIZE, seed) for seed in range(4)]
        for path in missing:
            index = int(path.stem.rsplit("_", 1)[1])
            bases[index % 4].save(path, "JPEG", quality=80 + index % 15)
    return paths


def _best(runs: int, work: Callable[[], object]) -> float:
    """Fastest of `runs` timings of `work`, in milliseconds."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def main() -> None:
    """Time estimates from paths and from data URLs beside a full decode of each image."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    paths = make_photos()
    total_mb = sum(p.stat().st_size for p in paths) / 1e6
    from_paths = [{"role": "user", "content": ["Describe each photo.", *paths]}]
    # One data URL referenced 100 times: the cost per image does not depend on which one.
    url = "data:image/jpeg;base64," + base64.b64encode(paths[0].read_bytes()).decode()
    from_urls = [
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}] * COUNT}
    ]

    estimate = estimate_tokens(from_paths, MODEL)
    assert estimate.per_image == [24 * 258] * COUNT, estimate.per_image

    def decode_all() -> None:
        for path in paths:
            with Image.open(path) as im:
                im.load()

    rows = [
        (
            "estimate_tokens, 100 Path parts",
            _best(args.runs, lambda: estimate_tokens(from_paths, MODEL)),
        ),
        (
            "estimate_tokens, 100 data URLs",
            _best(args.runs, lambda: estimate_tokens(from_urls, MODEL)),
        ),
        ("full decode of each image (comparison)", _best(max(1, args.runs // 2), decode_all)),
    ]
    print(
        f"{COUNT} JPEGs of {SIZE[0]}x{SIZE[1]} ({total_mb:.0f} MB on disk), model {MODEL}, best of {args.runs}"
    )
    for name, ms in rows:
        print(f"  {name:<40} {ms:9.1f} ms total  {ms / COUNT:7.3f} ms/image")
    verdict = "meets" if rows[0][1] < 100 and rows[1][1] < 100 else "MISSES"
    print(f"  target: estimates under 100 ms in total -> {verdict}")


if __name__ == "__main__":
    main()
