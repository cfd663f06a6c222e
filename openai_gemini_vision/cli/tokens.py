"""`ogv tokens`: what Gemini will bill for image files, offline (no key, no network)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from ..caption.drift import DRIFT_THRESHOLD, drift
from ..errors import GeminiVisionError
from ..images.probe import fit_within
from ..policy import LOW_DETAIL_MAX_SIDE, Detail
from ..request.estimate import DEFAULT_MODEL, TokenEstimate, estimate_tokens_by_model
from ..token_rules import (
    MediaResolution,
    detail_effect,
    media_resolution_of,
    price_request,
    resolve_model,
)
from ._common import (
    backend_option,
    cli_backend,
    cli_policy,
    debug_option,
    default_model,
    detail_option,
    image_argument,
    table_console,
)

__all__ = ["tokens"]


def _size(size: list[int]) -> str:
    return f"{size[0]}x{size[1]}" if size else "?"


def _detail_low(estimate: TokenEstimate) -> dict[str, Any]:
    """What --detail low would bill for the same images: their sizes fitted to 384 px,
    priced by the same rules (pixels need no decoding to be counted)."""
    sizes = [
        fit_within(*image.size, LOW_DETAIL_MAX_SIDE) if image.size else None
        for image in estimate.images
    ]
    low = price_request(
        sizes,
        estimate.model,
        backend=estimate.backend,
        media_resolution=estimate.media_resolution,
    )
    return {
        "image_tokens": low.total,
        "effect": detail_effect(estimate.model, estimate.backend),
    }


def _report(labels: list[str], estimates: list[TokenEstimate], detail: Detail) -> dict[str, Any]:
    """Everything both output forms show, as JSON-ready data."""
    first = estimates[0]
    rows = []
    for index, (label, image) in enumerate(zip(labels, first.images, strict=True)):
        rows.append(
            {
                "file": label,
                "format": image.format,
                "mime_type": image.mime_type,
                "original_size": list(image.original_size or ()),
                "mime_type_as_sent": image.mime_type_as_sent,
                "size_as_sent": list(image.size or ()),
                "bytes_as_sent": image.bytes_as_sent,
                "changes": list(image.changes),
                "tokens": {
                    est.model: {
                        "tiles": est.images[index].tiles,
                        "tokens": est.images[index].tokens,
                    }
                    for est in estimates
                },
            }
        )
    notes: list[str] = []
    for est in estimates:
        notes += [note for note in est.notes if note not in notes]
    return {
        "models": [
            {
                "model": est.model,
                "backend": est.backend,
                "family": est.family,
                "assumed_family": est.assumed_family,
                "media_resolution": est.media_resolution,
                "detail_low": None if detail == "low" else _detail_low(est),
            }
            for est in estimates
        ],
        "detail": detail,
        "images": rows,
        "total": {
            "bytes_as_sent": sum(row["bytes_as_sent"] or 0 for row in rows),
            "tokens": {
                est.model: {"tiles": sum(i.tiles for i in est.images), "tokens": est.image_tokens}
                for est in estimates
            },
        },
        "notes": notes,
    }


def _table(report: dict[str, Any]) -> Table:
    models = [m["model"] for m in report["models"]]
    single = len(models) == 1
    table = Table(show_footer=True, footer_style="bold")
    table.add_column("File", "Total", overflow="fold")
    table.add_column("Format")
    table.add_column("Original", justify="right")
    table.add_column("As sent", justify="right")
    totals = report["total"]["tokens"]
    if single:
        table.add_column("Tiles", f"{totals[models[0]]['tiles']:,}", justify="right")
        table.add_column("Tokens", f"{totals[models[0]]['tokens']:,}", justify="right")
    else:
        for model in models:
            table.add_column(
                f"{model}\ntokens", f"{totals[model]['tokens']:,}", justify="right", overflow="fold"
            )
    table.add_column("Bytes as sent", f"{report['total']['bytes_as_sent']:,}", justify="right")
    for row in report["images"]:
        costs = row["tokens"]
        if single:
            cells = [f"{costs[models[0]]['tiles']:,}", f"{costs[models[0]]['tokens']:,}"]
        else:
            cells = [f"{costs[model]['tokens']:,}" for model in models]
        sent_as = row["mime_type_as_sent"].removeprefix("image/").upper()
        converted = sent_as != row["mime_type"].removeprefix("image/").upper()
        table.add_row(
            row["file"],
            f"{row['format']} -> {sent_as}" if converted else row["format"],
            _size(row["original_size"]),
            _size(row["size_as_sent"]),
            *cells,
            "?" if row["bytes_as_sent"] is None else f"{row['bytes_as_sent']:,}",
        )
    return table


def _compare(path: Path, as_json: bool) -> None:
    """The drift report of `ogv tokens --compare FILE.jsonl`."""
    groups = drift(path)
    if as_json:
        rows = [
            {
                "model": group.model,
                "backend": group.backend,
                "images": group.images,
                "estimated": group.estimated,
                "reported": group.reported,
                "ratio": round(group.ratio, 4),
                "drifting": group.drifting,
            }
            for group in groups
        ]
        click.echo(json.dumps({"file": str(path), "groups": rows}, indent=2))
        return
    if not groups:
        click.echo(f"{path} holds no answered lines with an estimate and usage to compare.")
        return
    table = Table()
    for name in ("Model", "Backend"):
        table.add_column(name, overflow="fold")
    for name in ("Images", "Estimated", "Reported", "Reported / estimated"):
        table.add_column(name, justify="right")
    for group in groups:
        flag = " drift" if group.drifting else ""
        table.add_row(
            group.model,
            group.backend,
            f"{group.images:,}",
            f"{group.estimated:,}",
            f"{group.reported:,}",
            f"{group.ratio:.3f}{flag}",
        )
    console = table_console(table)
    console.print(table)
    for group in groups:
        if group.drifting:
            console.print(
                f"{group.model} on {group.backend}: Gemini billed {group.ratio - 1:+.1%} "
                f"against the estimates, over {group.images:,} images (more than "
                f"{DRIFT_THRESHOLD:.0%}). If your prompts are mostly images, its rule is off: "
                "price it with openai_gemini_vision.tokens.register_rule(pattern, rule) "
                "(README: Override or add a rule), and tell us the sizes and figures.",
                markup=False,
                highlight=False,
            )


@click.command()
@click.argument("images", nargs=-1, metavar="IMAGE...")
@click.option(
    "--model",
    "-m",
    "models",
    multiple=True,
    metavar="MODEL",
    help=f"Gemini model to price for; repeat to compare side by side. "
    f"[default: GEMINI_MODEL or {DEFAULT_MODEL}]",
)
@detail_option
@click.option(
    "--media-resolution",
    type=click.Choice(["low", "medium", "high", "ultra_high"], case_sensitive=False),
    default=None,
    help="Gemini 3 per-image resolution (low/medium also fix earlier models' cost). "
    "[default: the model's own]",
)
@backend_option
@click.option(
    "--compare",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE.jsonl",
    help="Instead of images, compare an ogv caption results file's estimates with the "
    "usage Gemini reported, per model and backend; drift above 5% is flagged.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the same figures as JSON.")
@click.option(
    "--base-url",
    metavar="URL",
    default=None,
    help="Names the backend like every ogv command's (Vertex AI's endpoint bills "
    "differently); estimates never call it.",
)
@debug_option
def tokens(
    images: tuple[str, ...],
    models: tuple[str, ...],
    detail: Detail,
    media_resolution: str | None,
    backend: str | None,
    compare: Path | None,
    as_json: bool,
    base_url: str | None,
) -> None:
    """Estimate the tokens Gemini bills for IMAGE files, offline: no key, no network.

    IMAGE is what ogv ask takes: a file, an http(s) or data: URL, or - (stdin). The
    images are planned exactly as ogv ask would send them (conversion, orientation,
    --detail, the 20 MB fit), reading only headers when an image goes as it is; an
    http(s) URL is not fetched, so its size and tokens show as unknown.

    \b
    Examples:
      ogv tokens photo.jpg
      ogv tokens a.jpg b.png --model gemini-2.0-flash --model gemini-3-pro-preview
      ogv tokens scan.png --detail low --json
      ogv tokens --compare captions.jsonl
    """
    if compare is not None:
        if images:
            raise click.UsageError("Give IMAGE arguments or --compare FILE.jsonl, not both.")
        _compare(compare, as_json)
        return
    if not images:
        raise click.UsageError("Name IMAGE files (or URLs, or -), or --compare FILE.jsonl.")
    policy = cli_policy(detail)
    # An http(s) URL is listed unsized: estimates never touch the network.
    sources = [image_argument(text, sys.stdin.buffer.read) for text in images]
    resolution: MediaResolution | None = media_resolution_of(media_resolution)
    names = list(dict.fromkeys(models or (default_model(),)))
    for model in names:
        try:  # a resolution the family has no figure for (ultra_high before Gemini 3)
            resolve_model(model).rule.cost(1, 1, resolution)
        except GeminiVisionError as exc:
            raise click.BadParameter(exc.message, param_hint="--media-resolution") from None
    message = {"role": "user", "content": sources}
    billed_at = cli_backend(backend, base_url)
    by_model = estimate_tokens_by_model(
        [message], names, policy=policy, media_resolution=resolution, backend=billed_at
    )
    report = _report([source.label for source in sources], list(by_model.values()), detail)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    table = _table(report)
    console = table_console(table)
    console.print(table)
    for model in report["models"]:
        assumed = " (assumed: name not recognised)" if model["assumed_family"] else ""
        console.print(f"{model['model']}: priced with the {model['family']} rule{assumed}.")
        low = model["detail_low"]
        if low is not None:
            now = report["total"]["tokens"][model["model"]]["tokens"]
            change = (
                f"the same {now:,} image tokens"
                if low["image_tokens"] == now
                else f"{low['image_tokens']:,} image tokens instead of {now:,}"
            )
            console.print(
                f"  --detail low would bill {change}. {low['effect']}",
                markup=False,
                highlight=False,
            )
    for note in report["notes"]:
        console.print(f"Note: {note}", style="dim", markup=False, highlight=False)
