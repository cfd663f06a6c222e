"""A batch run from start to end: build, confirm, upload, submit, wait, merge, clean up.

Every step that reaches Gemini is written to the state file before the next begins, so a
run stopped anywhere (Ctrl-C, SIGKILL, a power cut) and run again neither submits a job
twice nor loses or repeats a results line:

- stopped while building: nothing was sent; the build starts over, skipping the lines it
  already wrote (lines carry their run's id);
- while uploading: the shard's unique display name finds a finished upload again;
- between `batches.create` and saving its id: the shard was marked `submitting` first, so
  the rerun lists the project's batches and adopts the one started on the shard's file;
- while merging: the lines already written for that job are skipped;
- while cleaning up: deletes are repeated (a 404 is fine).

Jobs are submitted as the budget allows: their estimated input tokens together stay under
`--max-enqueued-tokens` (Gemini caps a model's enqueued tokens per project), at most 100
jobs run at once, and their input files stay under the project's 20 GB of storage. Files
are uploaded just before their job is submitted, since they expire after 48 hours.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import openai

from ..caption.ledger import Record
from ..errors import BatchStateError, FilesAPIError
from ..policy import ImagePolicy
from .build import BuildCounts, ShardWriter, build_shards
from .files import FilesAPI
from .jobs import ACTIVE, Jobs, JobView
from .limits import MAX_CONCURRENT_JOBS, MAX_FILE_BYTES, MAX_STORED_BYTES, default_enqueued_tokens
from .merge import merge_shard
from .repair import rebuild_shard, shard_intact
from .results import LineAppender, scan_results
from .state import (
    RunState,
    ShardState,
    cancel_marker,
    load_state,
    pause_point,
    run_lock,
    save_state,
    work_dir,
)

__all__ = ["BatchProgress", "BatchRun"]

# Shard states that hold an uploaded input file, and those whose job holds enqueued tokens.
_STORED = frozenset({"uploaded", "submitting", "submitted", "finished", "merging"})
_PENDING = frozenset({"built", "uploading", "uploaded"})
_OVER = frozenset({"done", "dropped"})


@dataclass
class BatchProgress:
    """Where a run stands, for a progress display."""

    jobs: int = 0
    jobs_done: int = 0
    requests: int = 0
    requests_done: int = 0
    waiting_to_submit: int = 0
    """Shards not yet submitted (waiting for room under the caps)."""
    failed: dict[str, str] = field(default_factory=dict)
    """Path -> error of every error line this process wrote."""
    answered: int = 0
    finished: bool = False


class BatchRun:
    """One batch run over one results file; the library API behind `ogv caption --batch`."""

    def __init__(
        self,
        out: Path,
        *,
        client: openai.OpenAI,
        files: FilesAPI | None = None,
        policy: ImagePolicy | None = None,
        max_jobs: int = MAX_CONCURRENT_JOBS,
        max_stored_bytes: int = MAX_STORED_BYTES,
        on_event: Callable[[str], None] | None = None,
        own_client: bool = False,
    ) -> None:
        """Args:
        client: an OpenAI client pointed at Gemini (its base URL also locates the Files API);
            closed by `close()` when `own_client` is true.
        files: the Files API client; by default one on the client's host, with its key.
        on_event: called with one line for people at each step (upload, submit, finish).
        """
        self.out = out
        self.client = client
        self.jobs = Jobs(client)
        self._files = files
        self._own_files = files is None
        self._own_client = own_client
        self.policy = policy
        self.max_jobs = max_jobs
        self.max_stored_bytes = max_stored_bytes
        self.on_event = on_event or (lambda _line: None)
        self.state = load_state(out)
        self.progress = BatchProgress()

    @property
    def files(self) -> FilesAPI:
        """The Files API client (made on first use)."""
        if self._files is None:
            self._files = FilesAPI.for_client(self.client)
        return self._files

    def close(self) -> None:
        """Close the clients this run made or was given to own."""
        if self._files is not None and self._own_files:
            self._files.close()
        if self._own_client:
            self.client.close()

    @property
    def folder(self) -> Path:
        """Where shards, manifests and downloaded outputs are kept while the run lasts."""
        return work_dir(self.out)

    @contextlib.contextmanager
    def locked(self) -> Iterator[BatchRun]:
        """Hold the run's lock (one process per run), and re-read the state under it."""
        with run_lock(self.out):
            self.state = load_state(self.out)
            yield self

    def _save(self) -> None:
        assert self.state is not None
        save_state(self.out, self.state)

    @property
    def in_progress(self) -> bool:
        """Whether a run is recorded and not finished."""
        return self.state is not None and self.state.phase != "done"

    # -- building -------------------------------------------------------------------------

    def start(
        self,
        files: list[str],
        *,
        prompt: str,
        model: str,
        inputs: list[str],
        detail: str = "auto",
        max_enqueued_tokens: int | None = None,
        max_file_bytes: int = MAX_FILE_BYTES,
        retry_failed: bool = False,
        on_image: Callable[[], None] | None = None,
    ) -> RunState:
        """Build a new run over `files`, or keep the unfinished one for the same prompt and model."""
        state = self.state
        if state is not None and state.phase != "done":
            if (state.prompt, state.model) != (prompt, model):
                raise BatchStateError(
                    f"{self.out} has a batch run under way for another prompt or model "
                    f"({state.model}, {state.prompt[:60]!r}). Finish it with `ogv caption "
                    f"--batch --resume --out {self.out}`, or stop it with `ogv batch cancel "
                    f"{self.out}`, before starting another."
                )
            if state.phase != "building":
                return state  # built or running: carry on with it
        budget = max_enqueued_tokens or default_enqueued_tokens(model)
        if budget < 1 or max_file_bytes < 1:
            raise BatchStateError("--max-enqueued-tokens and the file size limit must be positive.")
        run_id = state.run_id if state is not None and state.phase == "building" else None
        self.state = RunState(
            run_id=run_id or time.strftime("%Y%m%d%H%M%S") + "-" + uuid.uuid4().hex[:8],
            prompt=prompt,
            model=model,
            detail=detail,
            inputs=inputs,
            max_enqueued_tokens=budget,
            max_file_bytes=max_file_bytes,
            retry_failed=retry_failed,
        )
        return self._build(files, on_image)

    def rebuild(self, files: list[str], on_image: Callable[[], None] | None = None) -> RunState:
        """Build again a run that was stopped while building (nothing of it was sent)."""
        assert self.state is not None
        assert self.state.phase == "building"
        return self._build(files, on_image)

    def _build(self, files: list[str], on_image: Callable[[], None] | None) -> RunState:
        state = self.state
        assert state is not None
        self._save()  # phase "building": a rerun knows nothing was sent
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        known = scan_results(self.out, prompt=state.prompt, model=state.model, run_id=state.run_id)
        writer = ShardWriter(
            self.folder,
            run_id=state.run_id,
            max_bytes=state.max_file_bytes,
            max_tokens=state.max_enqueued_tokens,
        )

        def each_image() -> None:
            pause_point("build")
            if on_image is not None:
                on_image()

        def write_line(record: Record) -> None:  # written before any job exists
            appender.append({**record, "batch": {"run": state.run_id, "job": None}})
            if record.get("error") is not None:  # an unusable file: failed, as online
                self.progress.failed[record["path"]] = record["error"]

        with LineAppender(self.out) as appender:
            try:
                counts = build_shards(
                    files,
                    prompt=state.prompt,
                    model=state.model,
                    policy=self.policy,
                    known=known,
                    writer=writer,
                    write_line=write_line,
                    retry_failed=state.retry_failed,
                    already_written=known.written.get("", set()),
                    on_image=each_image,
                )
            finally:
                state.shards = writer.close()
        state.counts = counts.as_dict()
        state.phase = "built"
        self._save()
        return state

    @property
    def counts(self) -> BuildCounts:
        """What the build found."""
        assert self.state is not None
        return BuildCounts(**self.state.counts)

    def confirm(self) -> None:
        """The user agreed to the plan: jobs may be submitted from now on."""
        assert self.state is not None
        assert self.state.phase == "built"
        self.state.confirmed = True
        self.state.phase = "running" if self.state.shards else "done"
        self._save()
        if not self.state.shards:
            shutil.rmtree(self.folder, ignore_errors=True)

    # -- running --------------------------------------------------------------------------

    def advance(self) -> BatchProgress:
        """One round: follow every job, merge the finished ones, submit what fits."""
        state = self.state
        assert state is not None
        assert state.phase == "running"
        cancelling = cancel_marker(self.out).exists()
        for shard in state.shards:
            if cancelling and shard.status in _PENDING | {"submitting"}:
                self._drop(shard)
            if shard.status == "submitted":
                self._follow(shard)
            if shard.status in ("finished", "merging"):
                self._merge(shard)
            if shard.status == "merged":
                self._clean(shard)
        if not cancelling:
            self._submit_what_fits()
        if all(shard.status in _OVER for shard in state.shards):
            state.phase = "done"
            self._save()
            shutil.rmtree(self.folder, ignore_errors=True)
        return self._measure()

    def _measure(self) -> BatchProgress:
        state = self.state
        assert state is not None
        progress = self.progress
        live = [shard for shard in state.shards if shard.status != "dropped"]
        progress.jobs = len(live)
        progress.jobs_done = sum(shard.status == "done" for shard in live)
        progress.requests = sum(shard.requests for shard in live)
        progress.requests_done = sum(
            shard.requests
            if shard.status in ("finished", "merging", "merged", "done")
            else shard.completed + shard.failed
            for shard in live
        )
        progress.waiting_to_submit = sum(shard.status in _PENDING for shard in live)
        progress.finished = state.phase == "done"
        return progress

    def _submit_what_fits(self) -> None:
        state = self.state
        assert state is not None
        for shard in state.shards:
            if shard.status not in _PENDING | {"submitting"}:
                continue
            if shard.status != "submitting" and not self._room_for(shard):
                return  # in order: a later, smaller shard does not jump the queue
            if shard.status in ("built", "uploading"):
                self._upload(shard)
            if not self._submit(shard):
                return

    def _room_for(self, shard: ShardState) -> bool:
        state = self.state
        assert state is not None
        active = [s for s in state.shards if s.status in ("submitting", "submitted")]
        tokens = sum(s.tokens for s in active)
        stored = sum(s.bytes for s in state.shards if s.status in _STORED)
        if not active and not stored:  # alone, a shard always fits (the build saw to it)
            return True
        return (
            len(active) < self.max_jobs
            and tokens + shard.tokens <= state.max_enqueued_tokens
            and (shard.status == "uploaded" or stored + shard.bytes <= self.max_stored_bytes)
        )

    def _upload(self, shard: ShardState) -> None:
        if shard.status == "uploading":  # a killed run may have finished this upload
            found = self.files.find(shard.display_name)
            if found is not None and found.size in (None, shard.bytes):
                self._uploaded(shard, found.name)
                return
        assert self.state is not None
        if not shard_intact(self.folder, shard):  # torn by a system crash (see build.py)
            self.on_event(f"shard {shard.index} was torn by a crash: writing it again")
            rebuild_shard(self.folder, shard, run=self.state, policy=self.policy, results=self.out)
        shard.status = "uploading"
        self._save()
        remote = self.files.upload(self.folder / shard.jsonl, display_name=shard.display_name)
        pause_point("upload")
        self._uploaded(shard, remote.name)

    def _uploaded(self, shard: ShardState, name: str) -> None:
        shard.file = name
        shard.status = "uploaded"
        self._save()
        self.on_event(f"uploaded shard {shard.index} ({shard.requests:,} requests) as {name}")

    def _submit(self, shard: ShardState) -> bool:
        """Start the shard's job (or find the one a killed run started); False if refused now."""
        assert shard.file is not None
        job: JobView | None = None
        if shard.status == "submitting":
            job = self.jobs.find_by_input(shard.file)
        else:
            shard.status = "submitting"
            self._save()
        if job is None:
            try:
                job = self.jobs.create(shard.file)
            except openai.RateLimitError:
                self.on_event(
                    f"Gemini refused a new job for shard {shard.index} for now (429); "
                    "asking again at the next check"
                )
                return False
            pause_point("create")
        shard.job = job.id
        shard.job_status = job.status
        shard.status = "submitted"
        self._save()
        self.on_event(f"submitted shard {shard.index} as job {job.id}")
        return True

    def _follow(self, shard: ShardState) -> None:
        assert shard.job is not None
        job = self.jobs.retrieve(shard.job)
        changed = (job.status, job.completed, job.failed) != (
            shard.job_status,
            shard.completed,
            shard.failed,
        )
        shard.job_status, shard.completed, shard.failed = job.status, job.completed, job.failed
        if job.terminal:
            shard.reason = job.reason
            shard.output_files = [name for name in (job.output_file_id, job.error_file_id) if name]
            shard.status = "finished"
            self._save()
            said = f": {job.reason}" if job.reason else ""
            self.on_event(f"job {job.id} (shard {shard.index}) {job.status}{said}")
            return
        if changed:
            self._save()
        pause_point("wait")

    def _merge(self, shard: ShardState) -> None:
        state = self.state
        assert state is not None
        assert shard.job is not None
        outputs = []
        for number, name in enumerate(shard.output_files):
            local = self.folder / f"shard-{shard.index:04d}.output-{number}.jsonl"
            if not local.exists():
                self.files.download(name, local)
            outputs.append(local)
        resumed = shard.status == "merging"
        shard.status = "merging"
        self._save()
        skip: set[str] = set()
        if resumed:  # a merge was cut short: its lines are in the file already
            known = scan_results(
                self.out, prompt=state.prompt, model=state.model, run_id=state.run_id
            )
            skip = known.written.get(shard.job, set())
        reason = shard.reason or "its output file had no line for it"
        with LineAppender(self.out) as appender:

            def write(record: Record) -> None:
                appender.append(record)
                pause_point("merge")

            counts = merge_shard(
                folder=self.folder,
                manifest=shard.manifest,
                shard=shard.index,
                outputs=outputs,
                job=shard.job,
                tag={"run": state.run_id, "job": shard.job},
                prompt=state.prompt,
                model=state.model,
                write_line=write,
                skip_paths=skip,
                missing_reason=reason,
            )
        self.progress.answered += counts.answered
        self.progress.failed.update(counts.failed)
        shard.status = "merged"
        self._save()
        if counts.missing and shard.job_status == "completed":
            self.on_event(
                f"job {shard.job}'s output had no line for {counts.missing:,} request(s): "
                "recorded as errors (send them again with --retry-failed)"
            )

    def _clean(self, shard: ShardState) -> None:
        pause_point("cleanup")
        for name in [shard.file, *shard.output_files]:
            if name is None:
                continue
            try:
                self.files.delete(name)
            except FilesAPIError as exc:  # it expires within 48 hours anyway
                self.on_event(f"could not delete {name} ({exc}); it expires within 48 hours")
        for local in self.folder.glob(f"shard-{shard.index:04d}.*"):
            local.unlink(missing_ok=True)
        shard.status = "done"
        self._save()

    def _drop(self, shard: ShardState) -> None:
        """Cancelled before its job started: nothing of it is answered; a later run sends it."""
        if shard.status == "submitting" and shard.file is not None:
            job = self.jobs.find_by_input(shard.file)
            if job is not None:  # it did start: cancel it and merge what it finished
                shard.job, shard.job_status, shard.status = job.id, job.status, "submitted"
                self._save()
                if job.status in ACTIVE:
                    self.jobs.cancel(job.id)
                return
        if shard.status == "uploading":
            found = self.files.find(shard.display_name)
            shard.file = found.name if found else None
        if shard.file is not None:
            with contextlib.suppress(FilesAPIError):
                self.files.delete(shard.file)
        shard.status = "dropped"
        self._save()

    def wait(
        self,
        *,
        poll_interval: float = 5.0,
        max_poll_interval: float = 60.0,
        on_progress: Callable[[BatchProgress], None] | None = None,
        stop: threading.Event | None = None,
    ) -> BatchProgress:
        """Advance until every job is merged, checking less often while nothing changes."""
        interval = poll_interval
        stop = stop or threading.Event()
        while True:
            before = (self.progress.jobs_done, self.progress.requests_done)
            progress = self.advance()
            if on_progress is not None:
                on_progress(progress)
            if progress.finished or stop.is_set():
                return progress
            moved = (progress.jobs_done, progress.requests_done) != before
            interval = poll_interval if moved else min(max_poll_interval, interval * 1.5)
            if stop.wait(interval):
                return progress
