"""Estimates against bills: how far a results file's estimates stray from what Gemini billed.

Every answered line of `ogv caption` holds the estimate made before the call and the
`usage` Gemini reported. `drift` groups them by model and backend: if the rules price a
model wrongly, it shows here first, with the figures to correct them (`register_rule`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidArgumentError
from ..token_rules import DEFAULT_BACKEND

__all__ = ["DRIFT_THRESHOLD", "Drift", "drift"]

#: Drift above this share is flagged: more than text's rough count explains.
DRIFT_THRESHOLD = 0.05


@dataclass
class Drift:
    """One model on one backend: images answered, tokens estimated and billed."""

    model: str
    backend: str
    images: int = 0
    estimated: int = 0
    """Prompt tokens estimated before the calls (images and text)."""
    reported: int = 0
    """`usage.prompt_tokens` Gemini reported for the same calls."""

    @property
    def ratio(self) -> float:
        """Reported over estimated (1.0: the estimate was exact)."""
        return self.reported / self.estimated if self.estimated else float("inf")

    @property
    def drifting(self) -> bool:
        """Whether the bills stray from the estimates by more than `DRIFT_THRESHOLD`."""
        return abs(self.ratio - 1.0) > DRIFT_THRESHOLD


def _estimated(line: dict[str, Any]) -> int | None:
    estimate = line.get("estimate")
    total = estimate.get("total_tokens") if isinstance(estimate, dict) else None
    return total if isinstance(total, int) else None


def _reported(line: dict[str, Any]) -> int | None:
    usage = line.get("usage")
    prompt = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    return prompt if isinstance(prompt, int) else None


def _backend(line: dict[str, Any]) -> str:
    for holder in (line, line.get("estimate")):
        if isinstance(holder, dict) and isinstance(holder.get("backend"), str):
            return str(holder["backend"])
    return DEFAULT_BACKEND  # written before backends were recorded: priced as the default


def drift(path: Path) -> list[Drift]:
    """Per model and backend, tokens estimated vs billed over a caption results file.

    Counts the lines Gemini billed: answered, with an estimate and `usage`; lines that
    reuse another line's answer (`same_as`) were not billed and are left out.
    """
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InvalidArgumentError(
            f"Cannot read the results file {path}: {exc.strerror or exc}. Pass the JSON Lines "
            "file that ogv caption --out wrote.",
            source=str(path),
        ) from None
    groups: dict[tuple[str, str], Drift] = {}
    with handle:
        for raw in handle:
            try:
                line = json.loads(raw)
            except ValueError:
                continue  # a torn or hand-edited line: the ledger's readers skip it too
            if not isinstance(line, dict) or line.get("same_as") or line.get("error"):
                continue
            estimated, reported = _estimated(line), _reported(line)
            if estimated is None or reported is None:
                continue
            model = str(line.get("model", ""))
            key = (model, _backend(line))
            group = groups.setdefault(key, Drift(*key))
            group.images += 1
            group.estimated += estimated
            group.reported += reported
    return sorted(groups.values(), key=lambda group: (group.model, group.backend))
