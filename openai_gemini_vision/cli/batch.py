"""`ogv caption --batch` (the run behind the flag) and `ogv batch status|cancel FILE.jsonl`."""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from ..batch import BATCH_DISCOUNT, BatchProgress, BatchRun, cancel_run, run_status, state_path
from ..caption.captioner import find_images
from ..policy import Detail
from ._common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    base_url_option,
    cli_policy,
    debug_option,
    failed_lines,
    make_client,
)

__all__ = ["batch", "caption_batch"]

_MB = 1_000_000


def _plan_lines(run: BatchRun) -> list[str]:
    """What will be sent, for the confirmation: images, shards, tokens at batch vs online price."""
    state = run.state
    assert state is not None
    counts = run.counts
    shards = len(state.shards)
    lines = [
        f"Batch plan for {run.out} ({state.model}): {counts.images:,} images; "
        f"{counts.requests:,} requests to send in {shards:,} shard(s) "
        f"({counts.bytes / _MB:,.1f} MB).",
    ]
    besides = [
        f"{counts.already:,} already answered" if counts.already else "",
        f"{counts.copies:,} identical to one being sent" if counts.copies else "",
        f"{counts.reused:,} identical to one answered (written now)" if counts.reused else "",
        f"{counts.unusable:,} unusable (error lines written now)" if counts.unusable else "",
        f"{counts.failed_earlier:,} failed earlier (add --retry-failed to send them)"
        if counts.failed_earlier
        else "",
    ]
    if any(besides):
        lines.append("Not sent: " + ", ".join(part for part in besides if part) + ".")
    if counts.requests:
        billed = int(counts.tokens * BATCH_DISCOUNT)
        lines.append(
            f"Estimated input: {counts.tokens:,} tokens. At the batch price "
            f"({BATCH_DISCOUNT:.0%} of online) they cost what {billed:,} tokens cost online; "
            "output tokens are billed on top, also at half price."
        )
        at_once = state.max_enqueued_tokens
        lines.append(
            f"Jobs run while their estimated tokens together stay under {at_once:,} "
            "(--max-enqueued-tokens); Google finishes each within 24 hours."
        )
    return lines


def _interactive() -> bool:
    """Whether someone is at a terminal to answer the confirmation."""
    return sys.stdin.isatty()


def _confirm(run: BatchRun, yes: bool) -> None:
    for line in _plan_lines(run):
        click.echo(line, err=True)
    state = run.state
    assert state is not None
    if state.shards and not yes:
        if not _interactive():
            raise click.UsageError(
                "Not sent: confirm the plan above by running the same command with --yes "
                "(stdin is not a terminal to ask on). Nothing was uploaded."
            )
        if not click.confirm(
            f"Send {run.counts.requests:,} requests to Gemini's Batch API?", err=True
        ):
            raise click.exceptions.Exit(EXIT_OK)
    run.confirm()


def _summary(run: BatchRun, progress: BatchProgress, seconds: float) -> list[str]:
    state = run.state
    assert state is not None
    counts = run.counts
    lines = [
        f"Batch run finished for {run.out}: {counts.images:,} images, "
        f"{progress.jobs:,} job(s), waited {seconds:.1f} s: {progress.answered:,} answered "
        f"now, {len(progress.failed):,} failed, {counts.already:,} already in {run.out}, "
        f"{counts.reused + counts.copies:,} identical to another."
    ]
    heading = "Failed (send them again with --retry-failed, or online without --batch):"
    return lines + failed_lines(heading, progress.failed, run.out)


class _Display:
    """A progress bar on a terminal (jobs, requests, time waited); plain lines otherwise."""

    def __init__(self) -> None:
        self.console = Console(stderr=True)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("requests, jobs {task.fields[jobs]}"),
            TimeElapsedColumn(),
            console=self.console,
            disable=not self.console.is_terminal,
        )
        self.task: TaskID | None = None

    def event(self, line: str) -> None:
        self.console.print(f"ogv: {line}", markup=False, highlight=False, soft_wrap=True)

    def update(self, progress: BatchProgress) -> None:
        jobs = f"{progress.jobs_done}/{progress.jobs}"
        if self.task is None:
            self.task = self.progress.add_task("batch", total=progress.requests, jobs=jobs)
        self.progress.update(
            self.task, completed=progress.requests_done, total=progress.requests, jobs=jobs
        )


def caption_batch(
    ctx: click.Context,
    *,
    paths: tuple[str, ...],
    prompt: str | None,
    out: Path,
    model: str,
    base_url: str | None,
    detail: Detail,
    max_pixels: int | None,
    max_retries: int,
    resume: bool,
    wait: bool,
    retry_failed: bool,
    yes: bool,
    max_enqueued_tokens: int | None,
    max_file_bytes: int,
    poll_interval: float,
) -> None:
    """`ogv caption --batch`: build, confirm, submit, wait and merge (or pick a run up again)."""
    display = _Display()
    policy = cli_policy(detail, max_pixels)
    client = make_client(base_url, policy=policy, max_retries=max_retries)
    run = BatchRun(out, client=client, policy=policy, on_event=display.event)
    with client, contextlib.closing(run), run.locked():
        state = run.state
        if resume and (state is None or state.phase == "done"):
            raise click.UsageError(
                f"No batch run to resume for {out} (no unfinished {state_path(out).name}). "
                "Start one with: ogv caption PATH... --prompt TEXT --out "
                f"{out} --batch"
            )
        if state is not None and state.phase not in ("done", "building"):
            if not resume:
                display.event(f"carrying on with the batch run recorded in {state_path(out)}")
            run.start(
                [],
                prompt=prompt or state.prompt,
                model=state.model if resume else model,
                inputs=list(paths),
            )
        else:
            inputs = list(paths) if not resume else (state.inputs if state else [])
            files = _find(inputs)
            if resume and state is not None:
                run.rebuild(files)
            else:
                assert prompt is not None
                run.start(
                    files,
                    prompt=prompt,
                    model=model,
                    inputs=inputs,
                    detail=detail,
                    max_enqueued_tokens=max_enqueued_tokens,
                    max_file_bytes=max_file_bytes,
                    retry_failed=retry_failed,
                )
        state = run.state
        assert state is not None
        if state.phase == "built":
            _confirm(run, yes)
        if state.phase == "done":
            click.echo(f"Nothing to send: every image is accounted for in {out}.", err=True)
            ctx.exit(EXIT_OK)
        started = time.monotonic()
        if not wait:
            progress = run.advance()
            click.echo(
                f"Submitted; {progress.jobs - progress.waiting_to_submit:,} of {progress.jobs:,} "
                f"job(s) under way. Check with `ogv batch status {out}`; collect the answers "
                f"with `ogv caption --batch --resume --out {out}`.",
                err=True,
            )
            ctx.exit(EXIT_OK)
        try:
            with display.progress:
                progress = run.wait(
                    poll_interval=poll_interval,
                    max_poll_interval=max(poll_interval, 60.0),
                    on_progress=display.update,
                )
        except KeyboardInterrupt:
            click.echo(
                "Stopped waiting (Ctrl-C); the jobs go on at Google. Pick them up with "
                f"`ogv caption --batch --resume --out {out}`, see them with `ogv batch status "
                f"{out}`, stop them with `ogv batch cancel {out}`.",
                err=True,
            )
            ctx.exit(EXIT_INTERRUPTED)
    for line in _summary(run, progress, time.monotonic() - started):
        click.echo(line, err=True)
    ctx.exit(EXIT_FAILED if progress.failed else EXIT_OK)


def _find(inputs: list[str]) -> list[str]:
    try:
        found = find_images(inputs)
    except FileNotFoundError as exc:
        raise click.BadParameter(str(exc), param_hint="PATH") from None
    for path in found.not_images:
        if path in inputs:
            click.echo(f"ogv: skipping {path}: not an image file.", err=True)
    if not found.files:
        raise click.UsageError(
            f"No image files in {', '.join(inputs)}; pass image files or folders holding them."
        )
    return found.files


@click.group()
def batch() -> None:
    """Show or stop the Batch API jobs of an `ogv caption --batch` run."""


def _open(out: Path, base_url: str | None) -> BatchRun:
    run = BatchRun(out, client=make_client(base_url), own_client=True)
    if run.state is None:
        run.close()
        raise click.BadParameter(
            f"No batch run is recorded for {out} (no {state_path(out).name} beside it); "
            "start one with `ogv caption ... --batch`.",
            param_hint="FILE",
        )
    return run


_results_file = click.argument(
    "out", metavar="FILE.jsonl", type=click.Path(dir_okay=False, path_type=Path)
)


@batch.command()
@_results_file
@base_url_option
@debug_option
def status(out: Path, base_url: str | None) -> None:
    """Show each job of the batch run writing FILE.jsonl: state, requests done, reason."""
    with contextlib.closing(_open(out, base_url)) as run:
        _status(run, out)


def _status(run: BatchRun, out: Path) -> None:
    state = run.state
    assert state is not None
    click.echo(
        f"Batch run {state.run_id} for {out}: {state.model}, phase {state.phase}, "
        f"{len(state.shards):,} shard(s)."
    )
    for shard, job in run_status(run):
        counts: Any = job or shard
        done = counts.completed + counts.failed
        where = job.status if job else (shard.job_status or "-")
        reason = f"  {shard.reason or (job.reason if job else '') or ''}".rstrip()
        click.echo(
            f"  shard {shard.index}: {shard.status:<10} job {shard.job or '-'} ({where}), "
            f"{done:,}/{shard.requests:,} requests, ~{shard.tokens:,} tokens{reason}"
        )


@batch.command()
@_results_file
@base_url_option
@debug_option
def cancel(out: Path, base_url: str | None) -> None:
    """Stop the batch run writing FILE.jsonl: cancel its jobs and submit nothing more."""
    with contextlib.closing(_open(out, base_url)) as run:
        stopped = cancel_run(run)
    for job in stopped:
        click.echo(f"Cancelled {job}.")
    state = run.state
    if state is not None and state.phase == "done":
        click.echo(f"The batch run for {out} is cancelled; nothing had been sent.")
        return
    click.echo(
        f"Nothing more will be submitted. Collect what the jobs finished (the rest is recorded "
        f"as cancelled) with `ogv caption --batch --resume --out {out}`."
    )
