"""Eight image URLs in one request, from a host 200 ms away: fetched together, or one by one?

Workload 5: `prepare_messages` on one message holding eight http:// URLs (distinct
1600x1200 JPEGs) served by a loopback server that answers each request after 200 ms,
with `ImagePolicy(allow_private_urls=True)` (loopback is refused by default). Target:
<= 1.3x the time of one fetch. Beside it, the recipe without us: `urllib` GETs one after
the other, each body base64-encoded.

    python bench/bench_fetch.py             # writes bench/out/photos/ on first run
    python bench/bench_fetch.py --runs 9 --latency 0.2
"""

from __future__ import annotations

import argparse
import base64
import urllib.request

from loopback import serve
from photos import OUT, photo_file
from report import Row, ms, ratio, show
from timing import medians

from openai_gemini_vision import prepare_messages
from openai_gemini_vision.policy import ImagePolicy

__all__ = ["main", "url_rows"]

COUNT = 8
SIZE = (1600, 1200)
TARGET = 1.3  # x one fetch


def _get(url: str) -> int:
    """The recipe without us: GET the URL, base64 the body."""
    with urllib.request.urlopen(url, timeout=10) as response:
        return len(base64.b64encode(response.read()))


def url_rows(runs: int, latency: float = 0.2) -> list[Row]:
    """Workload 5: ours fetching eight URLs against one fetch and against serial fetches."""
    names = [photo_file("JPEG", SIZE, seed=seed).name for seed in range(COUNT)]
    policy = ImagePolicy(allow_private_urls=True)
    with serve("files", str(OUT), latency=latency) as base_url:
        urls = [base_url + name for name in names]
        messages = [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What do these photos have in common?"},
                    *({"type": "image_url", "image_url": {"url": url}} for url in urls),
                ],
            }
        ]
        timed = medians(
            runs,
            {
                "ours": lambda: prepare_messages(messages, policy=policy),
                "one": lambda: _get(urls[0]),
                "serial": lambda: [_get(url) for url in urls],
            },
        )
    workload = f"5. {COUNT} URL images ({SIZE[0]}x{SIZE[1]} JPEG), loopback server {latency * 1000:.0f} ms away"
    ours = ms(timed["ours"])
    return [
        Row(
            workload,
            ours,
            f"one fetch (urllib + base64): {ms(timed['one'])}",
            ratio(timed["ours"], timed["one"]),
            f"<= {TARGET}x one fetch",
            timed["ours"] <= TARGET * timed["one"],
        ),
        Row(
            workload,
            ours,
            f"{COUNT} fetches one after the other (urllib + base64): {ms(timed['serial'])}",
            ratio(timed["ours"], timed["serial"]),
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    """Print workload 5 as a table; 1 if the target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--latency", type=float, default=0.2)
    args = parser.parse_args(argv)
    return show(url_rows(args.runs, args.latency))


if __name__ == "__main__":
    raise SystemExit(main())
