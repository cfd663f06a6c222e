"""Captioning through Gemini's Batch API: Google runs the requests within 24 hours at half price.

`BatchRun` is the library API behind `ogv caption --batch`: it builds OpenAI-format batch
JSONL from image files (`build`), uploads each shard through Gemini's Files API
(`files`), submits and follows the jobs through the OpenAI client (`jobs`), records every
step in a state file beside the results file (`state`), and merges the answers into that
file as online captioning writes them (`merge`, `results`).
"""

from __future__ import annotations

from .build import BuildCounts, custom_id
from .control import cancel_run, run_status
from .files import FilesAPI, FilesEndpoint, RemoteFile, files_endpoint
from .jobs import Jobs, JobView
from .limits import (
    BATCH_DISCOUNT,
    ENQUEUED_TOKEN_CAPS,
    MAX_CONCURRENT_JOBS,
    MAX_FILE_BYTES,
    MAX_STORED_BYTES,
    default_enqueued_tokens,
    enqueued_token_cap,
)
from .runner import BatchProgress, BatchRun
from .state import RunState, ShardState, load_state, state_path, work_dir

__all__ = [
    "BATCH_DISCOUNT",
    "ENQUEUED_TOKEN_CAPS",
    "MAX_CONCURRENT_JOBS",
    "MAX_FILE_BYTES",
    "MAX_STORED_BYTES",
    "BatchProgress",
    "BatchRun",
    "BuildCounts",
    "FilesAPI",
    "FilesEndpoint",
    "JobView",
    "Jobs",
    "RemoteFile",
    "RunState",
    "ShardState",
    "cancel_run",
    "custom_id",
    "default_enqueued_tokens",
    "enqueued_token_cap",
    "files_endpoint",
    "load_state",
    "run_status",
    "state_path",
    "work_dir",
]
