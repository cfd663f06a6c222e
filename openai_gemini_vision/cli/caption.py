"""`ogv caption`: one prompt over many image files, one JSON line per image, resumable."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
)

from ..batch.limits import MAX_FILE_BYTES
from ..caption.captioner import Captioner, CaptionSummary, find_images, run_sync
from ..policy import Detail
from ._common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    api_options,
    backend_option,
    check_output,
    cli_backend,
    cli_policy,
    detail_option,
    failed_lines,
    make_async_client,
    max_pixels_option,
    passed_over_lines,
)
from ._progress import Meter, PlainProgress, RateColumn, TimeLeftColumn
from .batch import caption_batch

__all__ = ["caption"]

# How many failed images the summary lists by name before it says "and N more".


def _summary_lines(summary: CaptionSummary, out: Path, passed_over: list[str]) -> list[str]:
    lines = [
        f"{summary.done:,} of {summary.total:,} images in {summary.seconds:.1f} s: "
        f"{summary.answered:,} answered, {summary.skipped:,} already in {out}, "
        f"{summary.reused:,} identical to another, {len(summary.failed):,} failed."
    ]
    if summary.answered:
        lines.append(
            f"Prompt tokens of the {summary.answered:,} calls: {summary.estimated_tokens:,} "
            f"estimated before them, {summary.reported_tokens:,} reported by Gemini "
            f"(usage.prompt_tokens); ogv tokens --compare {out} shows them per model."
        )
    lines += passed_over_lines(passed_over)
    if summary.cut_bytes:
        lines.append(
            f"Removed an unfinished last line ({summary.cut_bytes:,} bytes) left by an interrupted run."
        )
    if summary.throttled:
        lines.append(
            f"Rate limit: {summary.throttled:,} answers were 429 and retried; "
            f"concurrency went down to {summary.lowest_concurrency}."
        )
    lines += failed_lines("Failed (rerun the same command to retry them):", summary.failed, out)
    if summary.interrupted:
        lines.append("Stopped by Ctrl-C; rerun the same command to finish the rest.")
    return lines


@click.command(
    epilog="""\b
Examples:
  ogv caption photos/ --prompt "One-line caption" --out captions.jsonl
  ogv caption 'shots/**/*.png' --prompt "Alt text, under 120 characters" \\
      --out alt.jsonl --concurrency 16 --detail low
\b
Rerun the same command to resume: images already answered for the same
bytes, prompt and model are skipped; failed ones are tried again.
\b
Through the Batch API (half price, within 24 hours):
  ogv caption photos/ --prompt "One-line caption" --out captions.jsonl --batch
  ogv caption --batch --resume --out captions.jsonl    # after Ctrl-C or --no-wait
  ogv batch status captions.jsonl
Exit status: 0 all answered, 1 some failed, 2 usage or configuration error
(a missing or refused key included), 130 Ctrl-C."""
)
@click.argument("paths", nargs=-1, metavar="PATH...")
@click.option("--prompt", "-p", help="What to ask about every image.  [required]")
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON Lines file to append results to (and resume from).",
)
@click.option(
    "--concurrency",
    "-c",
    type=click.IntRange(1, 256),
    default=8,
    show_default=True,
    help="Requests in flight at once (lowered by itself on repeated 429s).",
)
@click.option(
    "--max-retries",
    type=click.IntRange(0, 20),
    default=4,
    show_default=True,
    help="Retries per request on 429, 5xx and connection errors.",
)
@click.option(
    "--batch",
    "use_batch",
    is_flag=True,
    help="Send through Gemini's Batch API: done within 24 hours at half price (resumable).",
)
@click.option(
    "--resume",
    is_flag=True,
    help="With --batch: pick up the run recorded beside --out (PATH and --prompt not needed).",
)
@click.option(
    "--no-wait",
    is_flag=True,
    help="With --batch: submit the jobs and exit; --resume collects the answers later.",
)
@click.option(
    "--retry-failed",
    is_flag=True,
    help="With --batch: also send images whose lines are errors (online reruns always do).",
)
@click.option("--yes", "-y", is_flag=True, help="With --batch: send without asking to confirm.")
@click.option(
    "--max-enqueued-tokens",
    type=click.IntRange(1),
    default=None,
    help="With --batch: estimated input tokens of the jobs running at once "
    "[default: the model's Tier 1 cap, e.g. 3,000,000 for gemini-2.5-flash].",
)
# Test and tuning knobs, kept out of --help: the 2 GB file limit made small, faster polling.
@click.option("--max-file-bytes", type=click.IntRange(1), default=MAX_FILE_BYTES, hidden=True)
@click.option("--poll-interval", type=click.FloatRange(0), default=10.0, hidden=True)
@detail_option
@max_pixels_option
@backend_option
@api_options
@click.pass_context
def caption(
    ctx: click.Context,
    paths: tuple[str, ...],
    prompt: str,
    out: Path,
    concurrency: int,
    max_retries: int,
    detail: Detail,
    max_pixels: int | None,
    model: str,
    base_url: str | None,
    backend: str | None,
    use_batch: bool,
    resume: bool,
    no_wait: bool,
    retry_failed: bool,
    yes: bool,
    max_enqueued_tokens: int | None,
    max_file_bytes: int,
    poll_interval: float,
) -> None:
    """Caption image files, folders (recursively) and globs; one JSON line per image.

    Each line holds path, sha256, model, prompt, text, usage, estimate, changes
    and error. Folders are searched for image files by their content, whatever
    their names.

    With --batch, the same lines (each also naming its batch job) come from Gemini's
    Batch API: see `ogv batch --help` to check on or stop a run.
    """
    check_output(out)  # before the folders are searched and any request is made
    use_batch = use_batch or resume
    if not use_batch:
        for flag, given in (
            ("--no-wait", no_wait),
            ("--retry-failed", retry_failed),
            ("--max-enqueued-tokens", max_enqueued_tokens is not None),
        ):
            if given:
                raise click.UsageError(f"{flag} only applies with --batch.")
    if not resume:
        if not paths:
            raise click.UsageError("Missing argument 'PATH...': name image files or folders.")
        if not prompt:
            raise click.UsageError("Missing option '--prompt' / '-p': what to ask about them.")
    if use_batch:
        if cli_backend(backend, base_url) != "gemini-api":
            raise click.UsageError(
                "--batch sends jobs through the Gemini API's Batch and Files APIs; Vertex AI "
                "has its own batch prediction, which ogv does not drive. Drop --batch, or "
                "use a Gemini API endpoint and key."
            )
        caption_batch(
            ctx,
            paths=paths,
            prompt=prompt,
            out=out,
            model=model,
            base_url=base_url,
            detail=detail,
            max_pixels=max_pixels,
            max_retries=max_retries,
            resume=resume,
            wait=not no_wait,
            retry_failed=retry_failed,
            yes=yes,
            max_enqueued_tokens=max_enqueued_tokens,
            max_file_bytes=max_file_bytes,
            poll_interval=poll_interval,
        )
        return
    assert prompt is not None
    try:
        found = find_images(paths)
    except FileNotFoundError as exc:
        raise click.BadParameter(str(exc), param_hint="PATH") from None
    named = set(paths)
    passed_over = [path for path in found.not_images if path in named]
    for path in passed_over:
        click.echo(f"ogv: skipping {path}: not an image file.", err=True)
    if not found.files:
        raise click.UsageError(
            f"No image files in {', '.join(paths)}; pass image files or folders holding them."
        )

    console = Console(stderr=True)
    progress = Progress(
        TextColumn("captioning"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeLeftColumn(),
        console=console,
        disable=not console.is_terminal,
    )
    task = progress.add_task("caption", total=len(found.files))
    plain = PlainProgress(Meter(len(found.files)), "captioning", enabled=not console.is_terminal)

    def advance(outcome: Any) -> None:
        plain.add(outcome)
        progress.update(task, advance=1, worked=plain.meter.worked)

    captioner = Captioner(
        client_factory=partial(
            make_async_client,
            base_url,
            policy=cli_policy(detail, max_pixels),
            max_retries=max_retries,
        ),
        prompt=prompt,
        model=model,
        out=out,
        policy=cli_policy(detail, max_pixels),
        backend=cli_backend(backend, base_url),
        concurrency=concurrency,
        on_progress=advance,
    )
    with progress:
        summary = run_sync(captioner, found.files)
    for line in _summary_lines(summary, out, found.not_images):
        click.echo(line, err=True)
    if summary.interrupted:
        ctx.exit(EXIT_INTERRUPTED)
    ctx.exit(EXIT_FAILED if summary.failed else EXIT_OK)
