"""What `ogv tokens` prices: each image alone or all as one request, a failure per row.

The figures come from the estimator (`estimate_tokens_by_model`), the same plan as
sending; this module only groups the images into requests and keeps going when one
image cannot be sent, so that a folder with a broken file still gets its table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import GeminiVisionError
from ..images.probe import fit_within
from ..images.source import Source
from ..policy import LOW_DETAIL_MAX_SIDE, Detail
from ..request.estimate import ImageEstimate, TokenEstimate, estimate_tokens_by_model
from ..token_rules import Backend, MediaResolution, detail_effect, price_request
from ._common import cli_words
from ._explain import reason

__all__ = ["Priced", "price_each", "price_together", "report"]


@dataclass
class _Row:
    """One IMAGE argument (or file found in a folder): how each model prices it, or why
    it could not be priced."""

    label: str
    images: dict[str, ImageEstimate] = field(default_factory=dict)
    error: str | None = None


@dataclass
class Priced:
    """Every row, and the estimates made, whose notes the report gathers."""

    rows: list[_Row]
    estimates: list[TokenEstimate]
    each: bool


def _message(sources: list[Source]) -> dict[str, Any]:
    return {"role": "user", "content": list(sources)}


def price_each(sources: list[Source], models: list[str], **options: Any) -> Priced:
    """Each image as its own request, as ogv caption sends them; a failure is its row's."""
    rows: list[_Row] = []
    estimates: list[TokenEstimate] = []
    for source in sources:
        try:
            by_model = estimate_tokens_by_model([_message([source])], models, **options)
        except (GeminiVisionError, OSError) as exc:
            rows.append(_Row(source.label, error=reason(exc)))
            continue
        estimates += by_model.values()
        rows.append(_Row(source.label, {m: est.images[0] for m, est in by_model.items()}))
    return Priced(rows, estimates, each=True)


def price_together(sources: list[Source], models: list[str], **options: Any) -> Priced:
    """The images as one request, as ogv ask sends them. An image that cannot be sent is
    its row's failure, and the request is priced again without it."""
    errors: dict[int, str] = {}
    while True:
        kept = [i for i in range(len(sources)) if i not in errors]
        if not kept:
            return Priced(
                [_Row(s.label, error=errors[i]) for i, s in enumerate(sources)], [], False
            )
        try:
            by_model = estimate_tokens_by_model(
                [_message([sources[i] for i in kept])], models, **options
            )
        except GeminiVisionError as exc:
            # An image's own error names its part; the request's (too large) names none.
            part = re.fullmatch(r"messages\[0\]\.content\[(\d+)\]", exc.where or "")
            if part is None or int(part[1]) >= len(kept):
                raise
            errors[kept[int(part[1])]] = reason(exc)
            continue
        at = {index: position for position, index in enumerate(kept)}
        rows = [
            _Row(source.label, error=errors[i])
            if i in errors
            else _Row(source.label, {m: est.images[at[i]] for m, est in by_model.items()})
            for i, source in enumerate(sources)
        ]
        return Priced(rows, list(by_model.values()), each=False)


def _detail_low(priced: Priced, model: str, billed_at: Backend, resolution: Any) -> int:
    """Image tokens --detail low would bill for the same images: their sizes fitted to
    384 px, priced by the same rules, per request as priced (pixels need no decoding to
    be counted)."""
    sizes = [
        fit_within(*image.size, LOW_DETAIL_MAX_SIDE) if image.size else None
        for row in priced.rows
        if model in row.images
        for image in [row.images[model]]
    ]
    requests = [[size] for size in sizes] if priced.each else [sizes]
    return sum(
        price_request(request, model, backend=billed_at, media_resolution=resolution).total
        for request in requests
        if request
    )


def report(
    priced: Priced,
    models: list[str],
    detail: Detail,
    billed_at: Backend,
    resolution: MediaResolution | None,
    passed_over: list[str],
) -> dict[str, Any]:
    """Everything both output forms show, as JSON-ready data."""
    rows: list[dict[str, Any]] = []
    for row in priced.rows:
        image = next(iter(row.images.values()), None)
        rows.append(
            {
                "file": row.label,
                "format": image.format if image else None,
                "mime_type": image.mime_type if image else None,
                "original_size": list(image.original_size or ()) if image else [],
                "mime_type_as_sent": image.mime_type_as_sent if image else None,
                "size_as_sent": list(image.size or ()) if image else [],
                "bytes_as_sent": image.bytes_as_sent if image else None,
                "changes": list(image.changes) if image else [],
                "tokens": {
                    model: {"tiles": est.tiles, "tokens": est.tokens}
                    for model, est in row.images.items()
                },
                "error": row.error,
            }
        )
    notes: list[str] = []
    for est in priced.estimates:
        notes += [cli_words(note) for note in est.notes if cli_words(note) not in notes]
    meta = []
    for model in models:
        rule = price_request([], model, backend=billed_at, media_resolution=resolution)
        low = None
        if detail != "low":
            low = {
                "image_tokens": _detail_low(priced, model, billed_at, resolution),
                "effect": cli_words(detail_effect(model, billed_at)),
            }
        meta.append(
            {
                "model": model,
                "backend": rule.backend,
                "family": rule.family,
                "assumed_family": rule.assumed,
                "media_resolution": rule.media_resolution,
                "detail_low": low,
            }
        )
    priced_rows = [row for row in rows if row["error"] is None]
    return {
        "models": meta,
        "detail": detail,
        "requests": "each" if priced.each else "one",
        "images": rows,
        "total": {
            "images": len(priced_rows),
            "not_priced": len(rows) - len(priced_rows),
            "bytes_as_sent": sum(row["bytes_as_sent"] or 0 for row in priced_rows),
            "tokens": {
                model: {
                    "tiles": sum(row["tokens"][model]["tiles"] for row in priced_rows),
                    "tokens": sum(row["tokens"][model]["tokens"] for row in priced_rows),
                }
                for model in models
            },
        },
        "passed_over": passed_over,
        "notes": notes,
    }
