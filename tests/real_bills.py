"""Real Gemini bills beside the library's estimates: the README's "estimate vs real bill" table.

Reads a file of recorded bills (`real_usage_sample.json`: the image tokens Gemini reported
for real requests in public projects' test cassettes, each with its repository, path and
commit) and prints a Markdown table of each case's billed and estimated image tokens.

    python tests/real_bills.py                       # ../shared/reference/real_usage_sample.json
    python tests/real_bills.py path/to/bills.json

The tests use `load_cases` to check every case, and that the README's table is this one.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from openai_gemini_vision.token_rules import (
    GEMINI_3_BUDGETS,
    MediaResolutionRule,
    TileRule,
    TokenRule,
    price_request,
    resolve_model,
)

__all__ = [
    "DEFAULT_PATH",
    "Case",
    "documented_estimate",
    "load_cases",
    "main",
    "markdown_table",
]

#: Where the project's reference notes keep the sample, beside the repository.
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "shared/reference/real_usage_sample.json"


@dataclass(frozen=True)
class Case:
    """One recorded request: its model, backend, image sizes and what Gemini billed."""

    model: str
    backend: str
    sizes: tuple[tuple[int, int], ...]
    billed: int
    repo: str
    path: str
    commit: str

    @property
    def link(self) -> str:
        """The recording's address on GitHub, at the commit it was read from."""
        return f"https://github.com/{self.repo}/blob/{self.commit}/{quote(self.path)}"

    @property
    def label(self) -> str:
        """A short id for test reports: model, backend and sizes."""
        sizes = "+".join(f"{w}x{h}" for w, h in self.sizes)
        return f"{self.model}-{self.backend}-{sizes}"


def load_cases(path: Path = DEFAULT_PATH) -> list[Case]:
    """Every case of a bills file, in file order."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return [
        Case(
            model=case["model"],
            backend=case["backend"],
            sizes=tuple((image["width"], image["height"]) for image in case["images"]),
            billed=case["image_tokens_billed"],
            repo=case["source"]["repo"],
            path=case["source"]["path"],
            commit=case["source"]["commit"],
        )
        for case in data["cases"]
    ]


# What Google's token page documents, for comparison: 768 px tiles for Gemini 2.0 and
# later (https://ai.google.dev/gemini-api/docs/tokens#media-token), a flat 1,120 on Gemini 3
# (https://ai.google.dev/gemini-api/docs/media-resolution); 1.0 and 1.5 as the table has them.
_DOCUMENTED: dict[str, TokenRule] = {
    "Gemini 2.0": TileRule("documented 2.0", tile_side=768),
    "Gemini 2.5": TileRule("documented 2.5", tile_side=768),
    "Gemini 3": MediaResolutionRule("documented 3", levels=GEMINI_3_BUDGETS),
}


def documented_estimate(case: Case) -> int:
    """What the documented per-image rules say the case costs."""
    family = resolve_model(case.model, case.backend).family
    rule = _DOCUMENTED.get(family.split(" (")[0].removesuffix(" image generation"))
    if rule is None:
        return price_request(list(case.sizes), case.model, backend=case.backend).total
    return sum(rule.cost(w, h)[1] for w, h in case.sizes)


def markdown_table(cases: list[Case]) -> str:
    """The table: model, backend, images, billed, estimated, difference, documented, source."""
    lines = [
        "| model | backend | images (px) | billed | estimate | difference "
        "| documented rule | recording |",
        "|---|---|---|--:|--:|--:|--:|---|",
    ]
    for case in cases:
        estimate = price_request(list(case.sizes), case.model, backend=case.backend).total
        diff = estimate - case.billed
        difference = "exact" if diff == 0 else f"{diff:+,} ({diff / case.billed:+.1%})"
        sizes = " + ".join(f"{w}x{h}" for w, h in case.sizes)
        lines.append(
            f"| `{case.model}` | {case.backend} | {sizes} | {case.billed:,} | {estimate:,} "
            f"| {difference} | {documented_estimate(case):,} | [{case.repo}]({case.link}) |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the table for the file named (or the default); 1 if it is missing."""
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else DEFAULT_PATH
    if not path.is_file():
        print(f"real_bills.py: no bills file at {path}; name one as the first argument.")
        return 1
    print(markdown_table(load_cases(path)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
