"""`ogv segment`: ask Gemini for object masks, draw them as overlays, print or save them."""

from __future__ import annotations

import json
import re
import sys
import warnings
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from ..detection import DetectionWarning, Segmentation, draw_segmentations
from ..detection import segment as segment_objects
from ..images.probe import open_image
from ..policy import Detail
from ._common import (
    api_options,
    cli_policy,
    detail_option,
    image_argument,
    make_client,
    table_console,
)
from .detect import _COMMON_OUTPUTS, _output_format, _read_once, _save

__all__ = ["segment"]

_UNSAFE = re.compile(r"[^\w.-]+")


def _masks_dir(masks: Path | None) -> Path | None:
    """--masks made ready before the paid call: an existing or new directory."""
    if masks is None:
        return None
    try:
        masks.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.BadParameter(
            f"Cannot create {masks}: {exc.strerror or exc}.", param_hint="--masks"
        ) from None
    return masks


def _mask_name(number: int, label: str) -> str:
    """`03-red-car.png`: numbered in reply order, so two objects of one label never collide."""
    slug = _UNSAFE.sub("-", label.strip().lower()).strip("-.")[:60] or "object"
    return f"{number:02d}-{slug}.png"


def _as_json(
    source: str,
    size: tuple[int, int],
    out: Path,
    found: list[Segmentation],
    files: list[str | None],
) -> str:
    items = []
    for item, file in zip(found, files, strict=True):
        entry: dict[str, Any] = {**item.model_dump(mode="json"), "mask_pixels": item.area}
        if file is not None:
            entry["mask_file"] = file
        items.append(entry)
    report = {
        "image": source,
        "width": size[0],
        "height": size[1],
        "out": str(out),
        "segmentations": items,
    }
    return json.dumps(report, indent=2, ensure_ascii=False)


def _table(found: list[Segmentation]) -> Table:
    table = Table()
    table.add_column("Label", overflow="fold")
    for name in ("Left", "Top", "Right", "Bottom", "Mask px"):
        table.add_column(name, justify="right")
    for item in found:
        # Text, not str: a label like "[red] cup" must not be read as rich markup.
        table.add_row(Text(item.label), *(str(v) for v in item.box_px), f"{item.area:,}")
    return table


@click.command(
    epilog="""\b
Examples:
  ogv segment photo.jpg --out overlay.png
  ogv segment street.jpg --prompt "the cars" --out cars.png --json
  ogv segment shelf.jpg --prompt "every bottle" --out overlay.webp --masks masks/"""
)
@click.argument("image", metavar="IMAGE")
@click.option(
    "--prompt",
    "-p",
    metavar="TEXT",
    default=None,
    help="What to segment, e.g. 'the cats' [default: Google's segmentation prompt, every "
    "prominent item].",
)
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Where to write the picture with the masks drawn ({_COMMON_OUTPUTS}, ...).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the segmentations as JSON.")
@click.option(
    "--masks",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="A directory to save one PNG mask per object in (white on the object, black "
    "elsewhere, the size of IMAGE upright).",
)
@detail_option
@api_options
def segment(
    image: str,
    prompt: str | None,
    out: Path,
    as_json: bool,
    masks: Path | None,
    detail: Detail,
    model: str,
    base_url: str | None,
) -> None:
    """Segment objects in IMAGE (a path, an http(s) or data: URL, or - for stdin) and draw their masks.

    Each object is drawn on IMAGE, upright (EXIF orientation applied), as a translucent
    overlay of its label's colour with its outline and label; its box is printed in pixels
    of IMAGE upright, (left, top, right, bottom) with right and bottom exclusive, beside
    the number of pixels its mask covers.
    """
    fmt = _output_format(out)
    if not out.parent.is_dir():  # before the paid call, not after it
        raise click.BadParameter(
            f"Cannot write {out}: the folder {out.parent} does not exist. Create it, or "
            "choose another --out.",
            param_hint="--out",
        )
    folder = _masks_dir(masks)
    policy = cli_policy(detail)
    image_source = _read_once(image_argument(image, sys.stdin.buffer.read), policy)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DetectionWarning)
        with make_client(base_url, policy=policy) as client:
            found = segment_objects(client, image_source, prompt=prompt, model=model, policy=policy)
    for warning in caught:
        click.echo(f"ogv: warning: {' '.join(str(warning.message).split())}", err=True)
    source = image_source.label

    with open_image(image_source.value, policy) as original:
        picture = draw_segmentations(original, found)
    _save(picture, out, fmt)
    files: list[str | None] = [None] * len(found)
    if folder is not None:
        for number, item in enumerate(found, 1):
            path = folder / _mask_name(number, item.label)
            item.mask.save(path, "PNG")
            files[number - 1] = str(path)

    if as_json:
        click.echo(_as_json(source, picture.size, out, found, files))
    elif found:
        table = _table(found)
        table_console(table).print(table)
    noun = "object" if len(found) == 1 else "objects"
    saved = f"; masks saved in {folder}" if folder is not None and found else ""
    click.echo(
        f"{len(found)} {noun} segmented in {source} ({picture.width}x{picture.height} upright); "
        f"masks drawn on {out}{saved}.",
        err=True,
    )
