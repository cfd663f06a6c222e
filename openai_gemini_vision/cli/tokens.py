"""`ogv tokens`: what Gemini will bill for image files, offline (no key, no network)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from ..images.prepared import PreparedImage
from ..images.source import load_image
from ..policy import Detail, ImagePolicy
from ..token_rules import MediaResolution, media_resolution_of, resolve_model
from ..tokens import ImageEstimate, TokenEstimate, estimate_tokens
from ._common import DEFAULT_MODEL, cli_policy, debug_option, default_model, detail_option

__all__ = ["tokens"]


def _as_sent(
    path: Path, image: ImageEstimate, detail: Detail, policy: ImagePolicy
) -> tuple[str, int]:
    """Type and byte count as sent: the file itself when it passes through, else the real
    prepared bytes (only then is the image decoded)."""
    if not image.changes_expected:
        return image.mime_type, path.stat().st_size
    prepared: PreparedImage = load_image(path, detail=detail, policy=policy)
    return prepared.mime_type, prepared.byte_size


def _size(size: list[int]) -> str:
    return f"{size[0]}x{size[1]}" if size else "?"


def _report(
    paths: list[Path], estimates: list[TokenEstimate], detail: Detail, policy: ImagePolicy
) -> dict[str, Any]:
    """Everything both output forms show, as JSON-ready data."""
    first = estimates[0]
    rows = []
    for index, (path, image) in enumerate(zip(paths, first.images, strict=True)):
        mime_as_sent, bytes_as_sent = _as_sent(path, image, detail, policy)
        rows.append(
            {
                "file": str(path),
                "format": image.format,
                "mime_type": image.mime_type,
                "original_size": list(image.original_size or ()),
                "mime_type_as_sent": mime_as_sent,
                "size_as_sent": list(image.size or ()),
                "bytes_as_sent": bytes_as_sent,
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
                "family": est.family,
                "assumed_family": est.assumed_family,
                "media_resolution": est.media_resolution,
            }
            for est in estimates
        ],
        "detail": detail,
        "images": rows,
        "total": {
            "bytes_as_sent": sum(row["bytes_as_sent"] for row in rows),
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
            f"{row['bytes_as_sent']:,}",
        )
    return table


@click.command()
@click.argument(
    "images",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
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
@click.option("--json", "as_json", is_flag=True, help="Print the same figures as JSON.")
@click.option(
    "--base-url",
    metavar="URL",
    default=None,
    expose_value=False,
    help="Taken like every ogv command's, so scripts can pass it to all; estimates never "
    "call the endpoint.",
)
@debug_option
def tokens(
    images: tuple[Path, ...],
    models: tuple[str, ...],
    detail: Detail,
    media_resolution: str | None,
    as_json: bool,
) -> None:
    """Estimate the tokens Gemini bills for IMAGE files, offline: no key, no network.

    Reads only each image's header; sizes are those the images will be sent at.

    \b
    Examples:
      ogv tokens photo.jpg
      ogv tokens a.jpg b.png --model gemini-2.0-flash --model gemini-3-pro-preview
      ogv tokens scan.png --detail low --json
    """
    policy = cli_policy(detail)
    paths = list(images)
    message = {"role": "user", "content": paths}
    resolution: MediaResolution | None = media_resolution_of(media_resolution)
    estimates = []
    for model in dict.fromkeys(models or (default_model(),)):
        try:  # a resolution the family has no figure for (ultra_high before Gemini 3)
            resolve_model(model).rule.cost(1, 1, resolution)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--media-resolution") from None
        estimates.append(
            estimate_tokens([message], model, policy=policy, media_resolution=resolution)
        )
    report = _report(paths, estimates, detail, policy)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    table = _table(report)
    console = Console()
    if not console.is_terminal:  # a pipe or file: print the table whole, never cut a figure
        console = Console(width=max(80, Console(width=10_000).measure(table).maximum))
    console.print(table)
    for model in report["models"]:
        assumed = " (assumed: name not recognised)" if model["assumed_family"] else ""
        console.print(f"{model['model']}: priced with the {model['family']} rule{assumed}.")
    for note in report["notes"]:
        console.print(f"Note: {note}", style="dim", markup=False, highlight=False)
