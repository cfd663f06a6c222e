"""What Gemini's Batch API allows: file size, jobs at once, storage, enqueued tokens by tier.

Every figure comes from Google's Batch API and rate-limit pages as summarised in the
project's reference notes (GEMINI_FACTS.md, "Batch API through the OpenAI SDK"); none was
measured against the live service. They live here, in one place, so a changed limit is a
one-line edit.
"""

from __future__ import annotations

from ..errors import InvalidArgumentError

__all__ = [
    "BATCH_DISCOUNT",
    "ENQUEUED_TOKEN_CAPS",
    "MAX_CONCURRENT_JOBS",
    "MAX_FILE_BYTES",
    "MAX_STORED_BYTES",
    "default_enqueued_tokens",
    "enqueued_token_cap",
]

#: One input file must stay under 2 GB (Google's Batch API page). Counted in decimal
#: bytes, below the 2 GiB some summaries quote, so a file never lands in between.
MAX_FILE_BYTES = 2_000_000_000
#: Batch jobs one project may have running at once.
MAX_CONCURRENT_JOBS = 100
#: Files API storage per project (20 GB); input files stay stored while their job runs.
MAX_STORED_BYTES = 20_000_000_000
#: A batch request costs this share of the same request sent online.
BATCH_DISCOUNT = 0.5

#: Enqueued tokens per model (the input tokens of every batch job not yet finished), by
#: tier, for the models Google lists. Tier 1 also caps the models not listed here, as
#: the most cautious figure known.
ENQUEUED_TOKEN_CAPS: dict[str, dict[int, int]] = {
    "gemini-2.5-flash": {1: 3_000_000, 2: 400_000_000, 3: 1_000_000_000},
    "gemini-3-flash": {1: 3_000_000, 2: 400_000_000, 3: 500_000_000},
}
_CAUTIOUS = 3_000_000


def _family(model: str) -> str | None:
    name = model.removeprefix("models/").removeprefix("google/")
    # Longest names first, so "gemini-2.5-flash-lite" is not priced as "gemini-2.5-flash".
    for family in sorted(ENQUEUED_TOKEN_CAPS, key=len, reverse=True):
        if name == family or name.startswith(family + "-preview") or name == family + "-latest":
            return family
    return None


def enqueued_token_cap(model: str, tier: int = 1) -> int | None:
    """Google's enqueued-token cap for `model` at `tier`, or None when it is not published."""
    if tier not in (1, 2, 3):
        raise InvalidArgumentError(f"tier={tier!r} is not a Gemini API tier; use 1, 2 or 3.")
    family = _family(model)
    return ENQUEUED_TOKEN_CAPS[family][tier] if family else None


def default_enqueued_tokens(model: str) -> int:
    """`--max-enqueued-tokens`' default: the model's Tier 1 cap, else the lowest cap known."""
    return enqueued_token_cap(model, 1) or _CAUTIOUS
