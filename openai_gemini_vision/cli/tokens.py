"""`ogv tokens`: what Gemini will bill for image files, offline (no key, no network)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from ..caption.drift import DRIFT_THRESHOLD, drift
from ..errors import GeminiVisionError
from ..policy import Detail
from ..request.estimate import (
    DEFAULT_MODEL,
)
from ..token_rules import (
    MediaResolution,
    media_resolution_of,
    resolve_model,
)
from ._common import (
    EXIT_FAILED,
    backend_option,
    check_base_url,
    cli_backend,
    cli_policy,
    debug_option,
    default_model,
    detail_option,
    document_options,
    image_arguments,
    max_pixels_option,
    passed_over_lines,
    table_console,
)
from ._pricing import price_each, price_together, report

__all__ = ["tokens"]


def _size(size: list[int]) -> str:
    return f"{size[0]}x{size[1]}" if size else "?"


def _table(report: dict[str, Any]) -> Table:
    models = [m["model"] for m in report["models"]]
    single = len(models) == 1
    failed = report["total"]["not_priced"] > 0
    table = Table(show_footer=True, footer_style="bold")
    table.add_column("File", f"Total ({report['total']['images']:,} images)", overflow="fold")
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
    if failed:
        table.add_column(
            "Not priced because", f"{report['total']['not_priced']:,} not priced", max_width=60
        )
    for row in report["images"]:
        if row["error"] is not None:
            cells = ["-"] * (len(table.columns) - 2)
            table.add_row(Text(row["file"]), *cells, Text(row["error"]))
            continue
        costs = row["tokens"]
        if single:
            cells = [f"{costs[models[0]]['tiles']:,}", f"{costs[models[0]]['tokens']:,}"]
        else:
            cells = [f"{costs[model]['tokens']:,}" for model in models]
        sent_as = row["mime_type_as_sent"].removeprefix("image/").upper()
        converted = sent_as != row["mime_type"].removeprefix("image/").upper()
        table.add_row(
            Text(row["file"]),
            f"{row['format']} -> {sent_as}" if converted else row["format"],
            _size(row["original_size"]),
            _size(row["size_as_sent"]),
            *cells,
            "?" if row["bytes_as_sent"] is None else f"{row['bytes_as_sent']:,}",
            *([""] if failed else []),
        )
    return table


def _print_report(report: dict[str, Any]) -> None:
    """The table, then per model its rule and what --detail low would bill, then how the
    images were grouped into requests, the files passed over, and the notes."""
    table = _table(report)
    console = table_console(table)
    console.print(table)

    def say(text: str, **style: Any) -> None:
        # Whole lines: a terminal wraps them itself, and a log or pipe keeps them intact.
        console.print(text, markup=False, highlight=False, soft_wrap=True, **style)

    for model in report["models"]:
        assumed = " (assumed: name not recognised)" if model["assumed_family"] else ""
        say(f"{model['model']}: priced with the {model['family']} rule{assumed}.")
        low = model["detail_low"]
        if low is not None:
            now = report["total"]["tokens"][model["model"]]["tokens"]
            change = (
                f"the same {now:,} image tokens"
                if low["image_tokens"] == now
                else f"{low['image_tokens']:,} image tokens instead of {now:,}"
            )
            say(f"  --detail low would bill {change}. {low['effect']}")
    count = report["total"]["images"]
    if count > 1 and report["requests"] == "each":
        say(
            f"Priced as {count:,} requests of one image each, as ogv caption sends them "
            "(--together: as one request, as ogv ask sends them)."
        )
    elif count > 1:
        say(
            f"Priced as one request of {count:,} images, as ogv ask sends them (--each: one "
            "request per image, as ogv caption sends them)."
        )
    for line in passed_over_lines(report["passed_over"]):
        say(line)
    for note in report["notes"]:
        say(f"Note: {note}", style="dim")


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
@click.option(
    "--each/--together",
    default=None,
    help="Price each image as its own request, as ogv caption sends them, or all as one "
    "request, as ogv ask does (Gemini 2.0 bills several images in a request 258 tokens "
    "each). [default: --each when IMAGE names a folder or glob, else --together]",
)
@max_pixels_option
@document_options
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
    callback=check_base_url,
    help="Names the backend like every ogv command's (Vertex AI's endpoint bills "
    "differently); estimates never call it.",
)
@debug_option
@click.pass_context
def tokens(
    ctx: click.Context,
    images: tuple[str, ...],
    models: tuple[str, ...],
    detail: Detail,
    media_resolution: str | None,
    each: bool | None,
    max_pixels: int | None,
    pages: str | None,
    fps: float | None,
    max_frames: int | None,
    backend: str | None,
    compare: Path | None,
    as_json: bool,
    base_url: str | None,
) -> None:
    """Estimate the tokens Gemini bills for images, offline: no key, no network.

    IMAGE is what ogv ask takes (a file, an http(s) or data: URL, or - for stdin), or a
    folder (searched recursively, as ogv caption searches it) or a glob. The images are
    planned exactly as they would be sent (conversion, orientation, --detail, the 20 MB
    fit), reading only headers when an image goes as it is; an http(s) URL is not
    fetched, so its size and tokens show as unknown. A file that cannot be sent gets a
    row saying why, left out of the totals.

    \b
    Examples:
      ogv tokens photo.jpg
      ogv tokens photos/ --model gemini-2.5-flash
      ogv tokens a.jpg b.png --model gemini-2.0-flash --model gemini-3-pro-preview
      ogv tokens scan.png --detail low --json
      ogv tokens --compare captions.jsonl
    \b
    Exit status: 0 every image priced, 1 some could not be, 2 usage error.
    """
    if compare is not None:
        if images:
            raise click.UsageError("Give IMAGE arguments or --compare FILE.jsonl, not both.")
        _compare(compare, as_json)
        return
    if not images:
        raise click.UsageError(
            "Name IMAGE files, folders or globs (or URLs, or -), or --compare FILE.jsonl."
        )
    if images.count("-") > 1:
        raise click.BadParameter("stdin ('-') can hold only one image.", param_hint="IMAGE")
    # An http(s) URL is listed unsized: estimates never touch the network.
    found = image_arguments(images, sys.stdin.buffer.read)
    if not found.sources:
        raise click.UsageError(
            f"No image files in {', '.join(images)}; name image files or folders holding them."
        )
    resolution: MediaResolution | None = media_resolution_of(media_resolution)
    names = list(dict.fromkeys(models or (default_model(),)))
    for model in names:
        try:  # a resolution the family has no figure for (ultra_high before Gemini 3)
            resolve_model(model).rule.cost(1, 1, resolution)
        except GeminiVisionError as exc:
            raise click.BadParameter(exc.message, param_hint="--media-resolution") from None
    billed_at = cli_backend(backend, base_url)
    price = price_each if (found.expanded if each is None else each) else price_together
    priced = price(
        found.sources,
        names,
        policy=cli_policy(detail, max_pixels, pages=pages, fps=fps, max_frames=max_frames),
        media_resolution=resolution,
        backend=billed_at,
    )
    figures = report(priced, names, detail, billed_at, resolution, found.passed_over)
    if as_json:
        click.echo(json.dumps(figures, indent=2))
    else:
        _print_report(figures)
    missing = figures["total"]["not_priced"]
    if missing:
        click.echo(
            f"ogv: {missing:,} of {len(figures['images']):,} images could not be priced (the "
            "table says why); the totals leave them out.",
            err=True,
        )
        ctx.exit(EXIT_FAILED)
