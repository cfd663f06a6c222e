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
    """One image sent (a file, or a page or frame of a PDF or video): how each model
    prices it; or an IMAGE argument that could not be priced, and why."""

    label: str
    images: dict[str, ImageEstimate] = field(default_factory=dict)
    error: str | None = None
    request: int = 0
    """Which request the image goes in (each file its own, or all in one)."""


@dataclass
class Priced:
    """Every row, and the estimates made, whose notes the report gathers."""

    rows: list[_Row]
    estimates: list[TokenEstimate]
    each: bool


def _message(sources: list[Source]) -> dict[str, Any]:
    return {"role": "user", "content": list(sources)}


def _rows(by_model: dict[str, TokenEstimate], request: int) -> list[_Row]:
    """A row per image the request sends: a file gives one, a PDF its pages, a video its
    frames, each labelled as sending labels it ("report.pdf page 3")."""
    first = next(iter(by_model.values()))
    return [
        _Row(image.source, {model: est.images[i] for model, est in by_model.items()}, None, request)
        for i, image in enumerate(first.images)
    ]


def price_each(sources: list[Source], models: list[str], **options: Any) -> Priced:
    """Each file as its own request, as ogv caption sends them; a failure is its row's."""
    rows: list[_Row] = []
    estimates: list[TokenEstimate] = []
    for request, source in enumerate(sources):
        try:
            by_model = estimate_tokens_by_model([_message([source])], models, **options)
        except (GeminiVisionError, OSError) as exc:
            rows.append(_Row(source.label, error=reason(exc), request=request))
            continue
        estimates += by_model.values()
        rows += _rows(by_model, request)
    return Priced(rows, estimates, each=True)


def _culprit(exc: GeminiVisionError, sources: list[Source], kept: list[int]) -> int | None:
    """Which of the kept sources an error is about: the part it names, if that part's
    source is the one the error names; else the source it names (a PDF's pages and
    frames shift the parts after them)."""
    part = re.fullmatch(r"messages\[0\]\.content\[(\d+)\]", exc.where or "")
    if part is not None and int(part[1]) < len(kept):
        index = kept[int(part[1])]
        if exc.source in (None, sources[index].label):
            return index
    for index in kept:
        label = sources[index].label
        if exc.source is not None and (exc.source == label or exc.source.startswith(label + " ")):
            return index
    return None


def price_together(sources: list[Source], models: list[str], **options: Any) -> Priced:
    """The files as one request, as ogv ask sends them. A file that cannot be sent is its
    row's failure, and the request is priced again without it."""
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
            # An image's own error names it; the request's (too large) names none.
            culprit = _culprit(exc, sources, kept)
            if culprit is None:
                raise
            errors[culprit] = reason(exc)
            continue
        failed = [_Row(sources[i].label, error=text) for i, text in sorted(errors.items())]
        return Priced(_rows(by_model, 0) + failed, list(by_model.values()), each=False)


def _detail_low(priced: Priced, model: str, billed_at: Backend, resolution: Any) -> int:
    """Image tokens --detail low would bill for the same images: their sizes fitted to
    384 px, priced by the same rules, per request as priced (pixels need no decoding to
    be counted)."""
    requests: dict[int, list[tuple[int, int] | None]] = {}
    for row in priced.rows:
        image = row.images.get(model)
        if image is not None:
            size = fit_within(*image.size, LOW_DETAIL_MAX_SIDE) if image.size else None
            requests.setdefault(row.request, []).append(size)
    return sum(
        price_request(sizes, model, backend=billed_at, media_resolution=resolution).total
        for sizes in requests.values()
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
