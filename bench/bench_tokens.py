"""How fast are offline token estimates? 100 photos of 12 MP, header reads only.

Target: estimating 100 images of 4000x3000, each as its own request, in under 100 ms in
total. For comparison, the same images decoded fully, which is what an estimator that
opened the pixels would pay. Beside it, the pure rules alone: pricing a request of 100
image sizes on each family and backend (`token_rules.price_request`), which must stay far
below a millisecond an image.

    python bench/bench_tokens.py            # writes bench/out/tokens/*.jpg on first run
    python bench/bench_tokens.py --runs 7

Figures are medians of `--runs` (a third as many for the full decodes, which take
seconds), after one untimed run: the page cache is warm, as it is for a caller who has
just written or read the files.
"""

from __future__ import annotations

import argparse
import base64
from pathlib import Path

from photos import SIZE, photo
from PIL import Image
from report import Row, mb, ms, ratio, show
from timing import medians

from openai_gemini_vision import estimate_tokens, prepare_messages
from openai_gemini_vision.token_rules import price_request

__all__ = ["estimate_rows", "main", "make_photos", "rules_rows"]

OUT = Path(__file__).parent / "out" / "tokens"
COUNT = 100
# The clients' default model. On Gemini 2.5 (Gemini API) a request's price of an image
# does not depend on the other images, so the check below holds for any estimator.
MODEL = "gemini-2.5-flash"
TARGET_MS = 100.0
# Every family's rule shape, and both backends, for the pure-rules row.
RULE_MODELS = (
    ("gemini-1.5-pro", "gemini-api"),
    ("gemini-2.0-flash", "gemini-api"),
    ("gemini-2.5-flash", "gemini-api"),
    ("gemini-2.5-flash", "vertex-ai"),
    ("gemini-3-flash-preview", "gemini-api"),
)
RULES_TARGET_MS = 1.0  # for 100 images: a hundredth of a millisecond each


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


def estimate_rows(runs: int) -> list[Row]:
    """Workload 4: 100 photos priced as ogv caption and `ogv tokens folder/` price them, each
    its own request, from paths and from data URLs, beside a full decode of each image.

    Each estimate runs the plan sending runs, reading only what the checks need (a JPEG's
    head and tail). All 100 in one request is another matter: 422 MB is over the 20 MB
    budget, so the estimate shrinks them as sending would (a decode each); that row is
    timed beside preparing the same request, which is the work it stands for.
    """
    paths = make_photos()
    total = sum(p.stat().st_size for p in paths)
    # One data URL priced 100 times: the cost per image does not depend on which one.
    url = "data:image/jpeg;base64," + base64.b64encode(paths[0].read_bytes()).decode()
    one_url = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]

    def each_path() -> None:
        for path in paths:
            estimate_tokens([{"role": "user", "content": ["Describe it.", path]}], MODEL)

    def each_url() -> None:
        for _ in paths:
            estimate_tokens(one_url, MODEL)

    estimate = estimate_tokens([{"role": "user", "content": [paths[0]]}], MODEL)
    assert estimate.per_image == price_request([SIZE], MODEL).per_image, estimate.per_image

    def decode_all() -> None:
        for path in paths:
            with Image.open(path) as im:
                im.load()

    together = [{"role": "user", "content": ["Describe each photo.", *paths]}]
    timed = medians(runs, {"paths": each_path, "urls": each_url})
    # Seconds a pass: a third as many runs.
    slow = max(1, runs // 3)
    timed.update(medians(slow, {"decode": decode_all}))
    timed.update(
        medians(
            slow,
            {
                "together": lambda: estimate_tokens(together, MODEL),
                "prepare": lambda: prepare_messages(together, model=MODEL),
            },
        )
    )
    workload = f"4. token estimate, {COUNT} JPEGs 4000x3000 ({mb(total)}), {MODEL}"
    alternative = f"Pillow full decode of each: {ms(timed['decode'])}"
    rows = [
        Row(
            workload,
            f"{ms(timed[key])} ({label})",
            alternative,
            ratio(timed[key], timed["decode"]),
            f"< {TARGET_MS:.0f} ms",
            timed[key] < TARGET_MS,
        )
        for key, label in (
            ("paths", "100 requests of one Path each"),
            ("urls", "100 requests of one data URL each"),
        )
    ]
    rows.append(
        Row(
            f"4. the same {COUNT} in one request (over the 20 MB budget: shrunk as sent)",
            f"{ms(timed['together'])} (estimate)",
            f"prepare_messages, the work it prices: {ms(timed['prepare'])}",
            ratio(timed["together"], timed["prepare"]),
            "<= preparing it",
            timed["together"] <= timed["prepare"] * 1.05,
        )
    )
    return rows


def rules_rows(runs: int) -> list[Row]:
    """The pure rules: 100 sizes priced as one request, per family and backend."""
    sizes = [(4000 - i, 3000 + i) for i in range(COUNT)]  # 100 distinct shapes
    timed = medians(
        max(runs, 25),
        {
            f"{model} ({backend})": lambda m=model, b=backend: price_request(sizes, m, backend=b)
            for model, backend in RULE_MODELS
        },
    )
    workload = f"4b. pure rules, {COUNT} sizes in one request (price_request)"
    return [
        Row(
            workload,
            f"{ms(elapsed)} ({label})",
            "—",
            "—",
            f"< {RULES_TARGET_MS:g} ms",
            elapsed < RULES_TARGET_MS,
        )
        for label, elapsed in timed.items()
    ]


def main(argv: list[str] | None = None) -> int:
    """Print workload 4 as a table; 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    return show(estimate_rows(args.runs) + rules_rows(args.runs))


if __name__ == "__main__":
    raise SystemExit(main())
