"""Three 12 MP PNGs in one request: ours fits them under Gemini's 20 MB, the alternatives do not.

Workload 3: `prepare_messages` on one message holding three distinct 4000x3000 PNGs (about
20 MB each). Target: the request fitted under 20 MB in <= 2 s. The alternatives turn the
same three files into request-ready base64 as they are, which is fast and about 78 MB:
Gemini refuses any request over 20 MB, so theirs would fail at the API, after the upload.
(google-genai's PIL path is left out: it spends seconds re-encoding each PNG as a PNG.)

    python bench/bench_request.py           # writes bench/out/photos/ on first run
    python bench/bench_request.py --runs 5
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from pathlib import Path

from anchors import GENAI, LITELLM, NAIVE, Alternative, missing
from photos import photo_file
from report import Row, mb, ms, ratio, show
from timing import medians

from openai_gemini_vision import PreparedImage, prepare_messages

__all__ = ["fitting_rows", "main"]

SECONDS_TARGET = 2.0
GEMINI_MAX_REQUEST = 20_000_000  # bytes, https://ai.google.dev/gemini-api/docs/image-understanding


def _payload(alternative: Alternative, paths: list[Path]) -> int:
    """Base64 characters of all the images as `alternative` sends them."""
    return sum(alternative.recipe(path) for path in paths)


def _shapes(images: list[PreparedImage]) -> str:
    """How the images went out: "3 x 4000x3000 JPEG", or each one where they differ."""
    shown = [f"{i.width}x{i.height} {i.mime_type.removeprefix('image/').upper()}" for i in images]
    return f"{len(shown)} x {shown[0]}" if len(set(shown)) == 1 else " + ".join(shown)


def fitting_rows(runs: int) -> list[Row]:
    """Workload 3: time and bytes of ours against each alternative's unfitted payload."""
    paths: list[Path] = [photo_file("PNG", seed=seed) for seed in range(3)]
    messages = [{"role": "user", "content": ["Which photo is sharpest?", *paths]}]
    alternatives = [NAIVE, *(a for a in GENAI if not a.slow), LITELLM]
    ready = [a for a in alternatives if missing(a) is None]
    recipes: dict[str, Callable[[], object]] = {"ours": lambda: prepare_messages(messages)}
    recipes.update({a.label: functools.partial(_payload, a, paths) for a in ready})
    timed = medians(runs, recipes)
    prepared = prepare_messages(messages)
    sent = prepared.request_bytes
    ours = f"{ms(timed['ours'])}, {mb(sent)} ({_shapes(prepared.images)})"
    fitted = sent <= GEMINI_MAX_REQUEST
    workload = f"3. three 12 MP PNGs in one request ({mb(sum(p.stat().st_size for p in paths))})"
    rows = []
    for alternative in alternatives:
        reason = missing(alternative)
        if reason:
            rows.append(Row(workload, ours, f"{alternative.label}: {reason}"))
            continue
        theirs = _payload(alternative, paths)
        verdict = "over 20 MB: Gemini refuses it" if theirs > GEMINI_MAX_REQUEST else "fits"
        first = alternative is NAIVE  # the target is set once, on the first row
        rows.append(
            Row(
                workload,
                ours,
                f"{alternative.label}: {ms(timed[alternative.label])}, {mb(theirs)}, {verdict}",
                ratio(timed["ours"], timed[alternative.label]),
                f"fitted (<= 20 MB) in <= {SECONDS_TARGET:.0f} s" if first else "—",
                fitted and timed["ours"] <= SECONDS_TARGET * 1000 if first else None,
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    """Print workload 3 as a table; 1 if the target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    return show(fitting_rows(args.runs))


if __name__ == "__main__":
    raise SystemExit(main())
