"""What does one 12 MP photo cost to make request-ready, beside the recipes users would pick?

Workload 1, passthrough (JPEG, PNG, HEIC of 4000x3000): `load_image(path).data_url`
against Google's naive `base64.b64encode(path.read_bytes())`, google-genai's
`Part.from_bytes` and PIL path, and LiteLLM's conversion for Gemini (see anchors.py).
Target: <= 1.15x naive, though ours builds the whole data URL and checks the image.

Workload 2, detail="low": ours against Pillow's full decode + thumbnail. Targets on
the JPEG: <= 35 ms, and a payload <= 2% of the naive one. Beside them, `thumbnail` on
an unloaded JPEG (a reduced decode) and libjpeg's bare 1/8 decode: decoding must still
read every Huffman code of the file, so that floor follows the file's size.

    python bench/bench_images.py            # writes bench/out/photos/ on first run
    python bench/bench_images.py --runs 31

Figures are medians of `--runs` (3 for recipes that take seconds), the recipes
interleaved; the page cache is warm after the first run.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from pathlib import Path

from anchors import (
    GENAI,
    LITELLM,
    NAIVE,
    PILLOW_FULL,
    PILLOW_REDUCED,
    Alternative,
    missing,
    naive,
)
from photos import photo_file
from PIL import Image
from report import Row, mb, ms, ratio, show
from timing import measure, medians

from openai_gemini_vision import load_image
from openai_gemini_vision.policy import Detail

__all__ = ["low_detail_rows", "main", "passthrough_rows", "photos_12mp"]

PASSTHROUGH_TARGET = 1.15  # x naive
LOW_MS_TARGET = 35.0
LOW_PAYLOAD_TARGET = 2.0  # % of naive
SLOW_RUNS = 3  # for recipes that decode and re-encode 12 MP: seconds a run


def photos_12mp() -> dict[str, Path]:
    """The 4000x3000 test photo as JPEG (quality 90), PNG and HEIC, written once."""
    return {"JPEG": photo_file("JPEG"), "PNG": photo_file("PNG"), "HEIC": photo_file("HEIF")}


def _ours(path: Path, detail: Detail | None = None) -> Callable[[], int]:
    return lambda: len(load_image(path, detail=detail).data_url)


def _draft_decode(path: Path) -> Callable[[], int]:
    """Pillow's decode of a JPEG at 1/8 scale and nothing else: the floor for detail="low"."""

    def decode() -> int:
        with Image.open(path) as im:
            im.draft("RGB", (im.width // 8, im.height // 8))
            im.load()
            return im.width

    return decode


def _passthrough(
    fmt: str, path: Path, runs: int, reasons: dict[Alternative, str | None]
) -> list[Row]:
    """Workload 1 on one file; `reasons` says why an alternative cannot run (None: it can)."""
    workload = f"1. passthrough, {fmt} 4000x3000 ({mb(path.stat().st_size)})"
    ready = [a for a, reason in reasons.items() if reason is None]
    recipes: dict[str, Callable[[], object]] = {"ours": _ours(path)}
    recipes.update({a.label: functools.partial(a.recipe, path) for a in ready if not a.slow})
    measured = measure(runs, recipes)
    timed = {name: result.ms for name, result in measured.items()}
    slow = {a.label: functools.partial(a.recipe, path) for a in ready if a.slow}
    timed.update(medians(min(runs, SLOW_RUNS), slow))
    # Both only move megabytes, so first touches of fresh memory (a page fault each) weigh
    # as much as the encoding; ours touches more, building the data URL around the base64.
    faults = {name: result.faults for name, result in measured.items()}
    ours, payload = ms(timed["ours"]), naive(path)
    rows = [
        Row(
            workload,
            f"{ours}, {faults['ours']:,.0f} page faults",
            f"{NAIVE.label}: {ms(timed[NAIVE.label])}, {faults[NAIVE.label]:,.0f} page faults",
            ratio(timed["ours"], timed[NAIVE.label]),
            f"<= {PASSTHROUGH_TARGET}x naive",
            timed["ours"] <= PASSTHROUGH_TARGET * timed[NAIVE.label],
        )
    ]
    for alternative, reason in reasons.items():
        label = alternative.label
        if reason:
            rows.append(Row(workload, ours, f"{label}: {reason}"))
        elif alternative is not NAIVE:
            sent = alternative.recipe(path)
            note = "" if mb(sent) == mb(payload) else f", sends {mb(sent)} (naive {mb(payload)})"
            theirs = f"{label}: {ms(timed[label])}{note}"
            rows.append(Row(workload, ours, theirs, ratio(timed["ours"], timed[label])))
    return rows


def passthrough_rows(runs: int) -> list[Row]:
    """Workload 1: each photo to request-ready base64, ours against every alternative."""
    reasons = {a: missing(a) for a in (NAIVE, *GENAI, LITELLM)}
    return [
        row for fmt, path in photos_12mp().items() for row in _passthrough(fmt, path, runs, reasons)
    ]


def low_detail_rows(runs: int) -> list[Row]:
    """Workload 2: detail="low" on the JPEG (targets) and the PNG, ours against Pillow's way."""
    photos = photos_12mp()
    jpeg, png = photos["JPEG"], photos["PNG"]
    timed = medians(
        runs,
        {
            "ours": _ours(jpeg, "low"),
            "full": functools.partial(PILLOW_FULL.recipe, jpeg),
            "reduced": functools.partial(PILLOW_REDUCED.recipe, jpeg),
            "floor": _draft_decode(jpeg),
        },
    )
    ours_chars = _ours(jpeg, "low")()
    naive_chars = naive(jpeg)
    share = 100 * ours_chars / naive_chars
    workload = f'2. detail="low", JPEG 4000x3000 ({mb(jpeg.stat().st_size)})'
    ours = f"{ms(timed['ours'])}, {mb(ours_chars)}"
    rows = [
        Row(
            workload,
            ours,
            f"{PILLOW_FULL.label}: {ms(timed['full'])}, {mb(PILLOW_FULL.recipe(jpeg))}",
            ratio(timed["ours"], timed["full"]),
            f"<= {LOW_MS_TARGET:.0f} ms",
            timed["ours"] <= LOW_MS_TARGET,
        ),
        Row(
            workload,
            f"payload {share:.2f}% of naive",
            f"naive base64: {mb(naive_chars)}",
            ratio(ours_chars, naive_chars),
            f"<= {LOW_PAYLOAD_TARGET:.0f}% of naive",
            share <= LOW_PAYLOAD_TARGET,
        ),
        Row(
            workload,
            ours,
            f"{PILLOW_REDUCED.label}: {ms(timed['reduced'])}",
            ratio(timed["ours"], timed["reduced"]),
        ),
        Row(
            workload,
            ours,
            f"libjpeg 1/8 decode alone, no resize or encode (the floor): {ms(timed['floor'])}",
            ratio(timed["ours"], timed["floor"]),
        ),
    ]
    full = functools.partial(PILLOW_FULL.recipe, png)
    slow = medians(max(3, runs // 3), {"ours": _ours(png, "low"), "full": full})
    rows.append(
        Row(
            f'2. detail="low", PNG 4000x3000 ({mb(png.stat().st_size)})',
            f"{ms(slow['ours'])}, {mb(_ours(png, 'low')())}",
            f"{PILLOW_FULL.label}: {ms(slow['full'])}, {mb(full())}",
            ratio(slow["ours"], slow["full"]),
        )
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    """Print workloads 1 and 2 as a table; 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args(argv)
    return show(passthrough_rows(args.runs) + low_detail_rows(args.runs))


if __name__ == "__main__":
    raise SystemExit(main())
