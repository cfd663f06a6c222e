"""Looking at and stopping a batch run from outside it: `ogv batch status` and `ogv batch cancel`.

Neither needs the run's lock while jobs are running: status only reads, and cancel asks
Gemini to stop the jobs and leaves a marker file that the run (this process's or the next
one's) obeys by submitting nothing more.
"""

from __future__ import annotations

import shutil

import openai

from ..errors import BatchStateError
from .jobs import JobView
from .runner import BatchRun
from .state import ShardState, cancel_marker, save_state, state_path

__all__ = ["cancel_run", "run_status"]


def run_status(run: BatchRun) -> list[tuple[ShardState, JobView | None]]:
    """Every shard with its job's state now (retrieved for jobs not yet finished)."""
    if run.state is None:
        raise BatchStateError(
            f"No batch run is recorded for {run.out} (no {state_path(run.out).name})."
        )
    rows: list[tuple[ShardState, JobView | None]] = []
    for shard in run.state.shards:
        job = None
        if shard.job is not None and shard.status == "submitted":
            job = run.jobs.retrieve(shard.job)
        rows.append((shard, job))
    return rows


def cancel_run(run: BatchRun) -> list[str]:
    """Submit nothing more, and cancel the jobs running; returns the jobs asked to stop.

    Unsubmitted shards are dropped by the next run (`--resume`), which also merges
    what the cancelled jobs finished and records the rest as cancelled.
    """
    state = run.state
    if state is None or state.phase == "done":
        raise BatchStateError(f"No batch run is under way for {run.out}: nothing to cancel.")
    if state.phase in ("building", "built"):  # nothing was sent: forget the run
        with run.locked():
            assert run.state is not None
            run.state.phase = "done"
            run.state.counts["cancelled"] = 1
            save_state(run.out, run.state)
            shutil.rmtree(run.folder, ignore_errors=True)
        return []
    run.folder.mkdir(parents=True, exist_ok=True)
    cancel_marker(run.out).touch()
    stopped = []
    for shard in state.shards:
        job_id = shard.job
        if job_id is None and shard.status == "submitting" and shard.file is not None:
            found = run.jobs.find_by_input(shard.file)
            job_id = found.id if found else None
        if job_id is None or shard.status not in ("submitting", "submitted"):
            continue
        try:
            stopped.append(run.jobs.cancel(job_id).id)
        except openai.APIStatusError as exc:  # it finished meanwhile: nothing to stop
            run.on_event(f"job {job_id} was not cancelled: {exc.message}")
    return stopped
