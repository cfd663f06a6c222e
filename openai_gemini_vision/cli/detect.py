"""`ogv detect`: ask Gemini where the objects are, draw the boxes, print them."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Any

import click
from PIL import Image
from rich.table import Table
from rich.text import Text

from ..detection import Detection, DetectionWarning, draw_detections
from ..detection import detect as detect_objects
from ..images.probe import open_image
from ..images.source import Source
from ..policy import Detail, ImagePolicy
from ._common import (
    api_options,
    cli_policy,
    detail_option,
    image_argument,
    make_client,
    table_console,
)

__all__ = ["detect"]

# Formats an annotated picture is usually wanted in; any other Pillow can write works too.
_COMMON_OUTPUTS = ".png, .jpg, .webp"


def _output_format(out: Path) -> str:
    """Pillow's format name for `out`'s extension, or a usage error naming valid ones."""
    fmt = Image.registered_extensions().get(out.suffix.lower())
    if fmt is None or fmt not in Image.SAVE:
        raise click.BadParameter(
            f"Cannot tell which image format to write from {out.name!r}; end the name "
            f"with {_COMMON_OUTPUTS} or another extension Pillow writes.",
            param_hint="--out",
        )
    return fmt


def _read_once(source: Source, policy: ImagePolicy) -> Source:
    """The image's bytes, read (or fetched) once: sent, then drawn on, under its label."""
    if source.kind == "bytes":
        return source
    return Source("bytes", source.blob(policy).all(), source.label)


def _save(picture: Image.Image, out: Path, fmt: str) -> None:
    if fmt == "JPEG" and picture.mode != "RGB":
        picture = picture.convert("RGB")  # JPEG has no alpha channel
    picture.save(out, fmt)


def _as_json(source: str, size: tuple[int, int], out: Path, found: list[Detection]) -> str:
    report: dict[str, Any] = {
        "image": source,
        "width": size[0],
        "height": size[1],
        "out": str(out),
        "detections": [d.model_dump(mode="json") for d in found],
    }
    return json.dumps(report, indent=2, ensure_ascii=False)


def _table(found: list[Detection]) -> Table:
    table = Table()
    table.add_column("Label", overflow="fold")
    for name in ("Left", "Top", "Right", "Bottom"):
        table.add_column(name, justify="right")
    table.add_column(Text("box_2d [ymin, xmin, ymax, xmax]"), justify="right")
    for d in found:
        # Text, not str: a label like "[red] cup" must not be read as rich markup.
        table.add_row(Text(d.label), *(str(v) for v in d.box_px), json.dumps(list(d.box_2d)))
    return table


@click.command(
    epilog="""\b
Examples:
  ogv detect street.jpg --out boxes.png
  ogv detect street.jpg --prompt "find every car" --out cars.png --json
  ogv detect scan.heic --detail low --out boxes.webp"""
)
@click.argument("image", metavar="IMAGE")
@click.option(
    "--prompt",
    "-p",
    metavar="TEXT",
    default=None,
    help="What to look for, e.g. 'find every cat' [default: Google's detection prompt, "
    "every prominent item].",
)
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Where to write the picture with the boxes drawn ({_COMMON_OUTPUTS}, ...).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the detections as JSON.")
@detail_option
@click.option(
    "--schema/--no-schema",
    default=True,
    show_default=True,
    help="Ask for the boxes with a JSON schema (response_format); --no-schema sends the "
    "prompt alone.",
)
@api_options
def detect(
    image: str,
    prompt: str | None,
    out: Path,
    as_json: bool,
    detail: Detail,
    schema: bool,
    model: str,
    base_url: str | None,
) -> None:
    """Find objects in IMAGE (a path, an http(s) or data: URL, or - for stdin) and draw their boxes.

    Boxes are printed in pixels of IMAGE as seen upright (EXIF orientation applied), as
    (left, top, right, bottom) with right and bottom exclusive, beside Gemini's own
    box_2d on its 0-1000 grid. The picture written to --out is IMAGE upright with each
    box and its label drawn.
    """
    fmt = _output_format(out)
    if not out.parent.is_dir():  # before the paid call, not after it
        raise click.BadParameter(
            f"Cannot write {out}: the folder {out.parent} does not exist. Create it, or "
            "choose another --out.",
            param_hint="--out",
        )
    policy = cli_policy(detail)
    image_source = _read_once(image_argument(image, sys.stdin.buffer.read), policy)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DetectionWarning)
        with make_client(base_url, policy=policy) as client:
            found = detect_objects(
                client, image_source, prompt=prompt, model=model, policy=policy, structured=schema
            )
    for warning in caught:
        click.echo(f"ogv: warning: {' '.join(str(warning.message).split())}", err=True)

    with open_image(image_source.value, policy) as original:
        picture = draw_detections(original, found)
    _save(picture, out, fmt)
    source = image_source.label

    if as_json:
        click.echo(_as_json(source, picture.size, out, found))
    elif found:
        table = _table(found)
        table_console(table).print(table)
    noun = "object" if len(found) == 1 else "objects"
    click.echo(
        f"{len(found)} {noun} found in {source} ({picture.width}x{picture.height} upright); "
        f"boxes drawn on {out}.",
        err=True,
    )
