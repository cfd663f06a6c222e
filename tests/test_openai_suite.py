"""openai's own tests, run against our clients: the same outcomes and requests as plain openai.

openai ships its tests in its source distribution. `.ci/fetch-openai-tests` unpacks the
ones of the installed openai version into `.openai-suite/` (ignored by git); this module
runs the selected ones three times, each in a pytest subprocess with
`tests/openai_suite_plugin.py`: against plain openai (the control), with `openai.OpenAI` /
`openai.AsyncOpenAI` replaced by ours, and with plain openai clients passed through
`wrap()`. Every test must end as it does in the control, and send the same requests, byte
for byte, but for the INTENDED differences listed below, which are the point of pointing
a client at Gemini. A defect found this way is fixed in `client.py`, with a test of its
own in tests/test_client_config.py, rather than listed here.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import pytest

from openai_gemini_vision import GEMINI_BASE_URL

from .paths import ROOT

#: Where `.ci/fetch-openai-tests` unpacks openai's source distribution.
SUITE_HOME = Path(os.environ.get("OGV_OPENAI_SUITE", ROOT / ".openai-suite"))
SUITE = SUITE_HOME / f"openai-{openai.__version__}"
#: Set by `.ci/run`: there a missing suite is a broken CI step, not a reason to skip.
REQUIRED = os.environ.get("OGV_REQUIRE_OPENAI_SUITE") == "1"
#: The packages openai's selected tests import beyond ours (the `openai-suite` extra).
SUITE_IMPORTS = ("inline_snapshot", "aiohttp")
#: A bound on each run, so a hung test cannot hold CI: a run takes under a minute.
RUN_TIMEOUT_S = 600

#: openai's tests that the issue names: client, chat completions, streaming, parse.
SELECTED = (
    # The client: options, copy(), headers, retries, auth, data residency.
    "tests/test_client.py",
    "tests/test_auth.py",
    "tests/test_data_residency_contract.py",
    "tests/test_data_residency_regressions.py",
    # Every chat-completions route with every parameter (answered by tests/fakeopenai.py).
    "tests/api_resources/chat",
    # Streaming: SSE decoding, connection reuse, cancellation.
    "tests/test_streaming.py",
    # parse(), stream() and structured output, tools, content filters.
    "tests/lib/chat",
)
RUNS = ("ours", "wrap")


@dataclass(frozen=True)
class Difference:
    """One way a run differs from plain openai's, where, and why."""

    why: str
    runs: tuple[str, ...]
    #: Test ids (fnmatch patterns) whose outcome differs.
    tests: tuple[str, ...] = ()
    #: (as our run sends it, as openai sends it): text in request URLs and header values.
    wire: tuple[tuple[str, str], ...] = ()


_OPENAI_BASE_URL = "https://api.openai.com/v1/"

#: The differences that are the point of a Gemini client. Permanent.
INTENDED: tuple[Difference, ...] = (
    # README "The three-line change": OPENAI_* variables belong to an OpenAI account.
    Difference(
        why="OPENAI_BASE_URL is never read: it names an OpenAI endpoint; GEMINI_BASE_URL is",
        runs=("ours",),
        tests=(
            "tests/test_client.py::TestOpenAI::test_base_url_env",
            "tests/test_client.py::TestAsyncOpenAI::test_base_url_env",
        ),
    ),
    Difference(
        why=(
            "a client made without base_url talks to Gemini, not api.openai.com; with "
            "workload_identity (OpenAI's token exchange) it still does, so routes mocked "
            "at api.openai.com are not reached"
        ),
        runs=("ours",),
        tests=(
            "tests/test_auth.py::test_basic_auth",
            "tests/test_auth.py::test_workload_identity_exchange_payload_and_cache",
        ),
        wire=(
            (GEMINI_BASE_URL.removeprefix("https://"), _OPENAI_BASE_URL.removeprefix("https://")),
            ("generativelanguage.googleapis.com", "api.openai.com"),  # the Host header
        ),
    ),
    Difference(
        why=(
            "an OpenAI admin key (admin_api_key) is no Gemini key: without api_key or "
            "GEMINI_API_KEY our clients raise MissingAPIKeyError, where openai builds an "
            "admin-only client and says 'Missing credentials'"
        ),
        runs=("ours",),
        tests=(
            "tests/test_client.py::TestOpenAI::test_validate_headers",
            "tests/test_client.py::TestAsyncOpenAI::test_validate_headers",
        ),
    ),
    Difference(
        why=(
            "data_residency picks an OpenAI region (eu.api.openai.com, ...); our clients "
            "refuse it, in the constructor and in copy(), naming the fix"
        ),
        runs=("ours",),
        tests=(
            "tests/test_data_residency_contract.py::*",
            "tests/test_data_residency_regressions.py::*",
        ),
    ),
)

#: Why openai's own run skips what it skips; the README's testing section says the same.
EXPLAINED_SKIPS = {
    "inline-snapshot external file": "their recorded streams are not in the sdist",
    "legacy HTTPX compatibility lane": "they need the old httpx package and a flag",
    "memory leak that started from 3.12": "openai skips them on every Python >= 3.10",
}

# What differs between any two runs, whatever the client: ports of loopback servers.
_LOOPBACK_PORT = re.compile(r"(127\.0\.0\.1|localhost):\d+")


def _missing() -> str | None:
    """Why the suite cannot run here, or None."""
    fetch = "run `.ci/fetch-openai-tests` (README: openai's own tests against our clients)"
    if not (SUITE / "tests").is_dir():
        return f"openai {openai.__version__}'s tests are not unpacked in {SUITE}: {fetch}"
    absent = [name for name in SUITE_IMPORTS if importlib.util.find_spec(name) is None]
    if absent:
        return f"openai's tests need {', '.join(absent)}: pip install -e '.[test,openai-suite]'"
    return None


def _run_env(mode: str, report: Path) -> dict[str, str]:
    """The environment of one run: no key or endpoint of the developer's, our plugin."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("OPENAI_", "GEMINI_", "GOOGLE_", "PYTEST_", "TEST_API_"))
    }
    env["PYTHONPATH"] = os.pathsep.join(
        path for path in (str(ROOT / "tests"), env.get("PYTHONPATH")) if path
    )
    env.update(OGV_SUITE_MODE=mode, OGV_SUITE_REPORT=str(report), PYTHONDONTWRITEBYTECODE="1")
    return env


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Each run's report (outcomes, requests), the three run side by side."""
    reason = _missing()
    if reason is not None:
        if REQUIRED:
            pytest.fail(f"OGV_REQUIRE_OPENAI_SUITE is set, but {reason}")
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("openai-suite")
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "openai_suite_plugin",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:recording",  # our vcrpy plugin: openai's tests do not use it
        "-o",
        "addopts=",  # openai's own: -n auto (pytest-xdist) and --durations
        "-q",
        "--tb=short",
        *SELECTED,
    ]
    started = time.monotonic()
    processes = {}
    for mode in ("control", *RUNS):
        log = (out / f"{mode}.log").open("w")
        processes[mode] = (
            subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                command,
                cwd=SUITE,
                env=_run_env(mode, out / f"{mode}.json"),
                stdout=log,
                stderr=subprocess.STDOUT,
            ),
            log,
        )
    reports: dict[str, dict[str, Any]] = {}
    try:
        for mode, (process, log) in processes.items():
            remaining = RUN_TIMEOUT_S - (time.monotonic() - started)
            process.wait(timeout=max(remaining, 1))
            log.close()
            path = out / f"{mode}.json"
            if not path.exists():
                tail = (out / f"{mode}.log").read_text()[-3000:]
                pytest.fail(f"the {mode} run wrote no report (exit {process.returncode}):\n{tail}")
            reports[mode] = json.loads(path.read_text())
            reports[mode]["log"] = str(out / f"{mode}.log")
    finally:
        for process, log in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
            log.close()
    return reports


def _listed(entries: tuple[Difference, ...], mode: str, test: str) -> Difference | None:
    """The entry of `entries` that explains `test` differing in `mode`, if any."""
    for entry in entries:
        if mode in entry.runs and any(fnmatch.fnmatchcase(test, p) for p in entry.tests):
            return entry
    return None


def _outcome_differences(control: dict[str, Any], run: dict[str, Any]) -> dict[str, str]:
    """Test id -> 'control outcome -> run outcome: message', for every test that differs."""
    found = {}
    for test in sorted(control["outcomes"].keys() | run["outcomes"].keys()):
        before = control["outcomes"].get(test, {"outcome": "absent", "message": ""})
        after = run["outcomes"].get(test, {"outcome": "absent", "message": ""})
        if before["outcome"] != after["outcome"]:
            message = after["message"] or before["message"]
            found[test] = f"{before['outcome']} -> {after['outcome']}: {message[:300]}"
    return found


def _normalized(request: dict[str, Any], wire: list[tuple[str, str]], used: Counter[str]) -> str:
    """The request as comparable text: loopback ports masked, listed differences undone."""

    def undo(text: str) -> str:
        text = _LOOPBACK_PORT.sub(r"\1:<port>", text)
        for seen, sent in wire:
            if seen in text:
                used[seen] += 1
                text = text.replace(seen, sent)
        return text

    headers = [f"{name}: {undo(value)}" for name, value in request["headers"]]
    body = request["body"] if request["body"] is not None else "<streamed body>"
    return "\n".join([f"{request['method']} {undo(request['url'])}", *headers, "", body])


def _is_chat(request: dict[str, Any]) -> bool:
    return request["method"] == "POST" and request["url"].split("?")[0].rstrip("/").endswith(
        "/chat/completions"
    )


def test_openai_passes_its_own_tests(runs: dict[str, dict[str, Any]]) -> None:
    """The control is sound: plain openai passes every selected test, skipping only as explained."""
    control = runs["control"]["outcomes"]
    broken = {t: o["message"] for t, o in control.items() if o["outcome"] in ("failed", "error")}
    assert not broken, f"plain openai fails its own tests here (log: {runs['control']['log']})"
    for path in SELECTED:
        passed = [t for t, o in control.items() if t.startswith(path) and o["outcome"] == "passed"]
        assert passed, f"no test of {path} ran: the selection or the unpacked suite is wrong"
    skips = {o["message"] for o in control.values() if o["outcome"] == "skipped"}
    unexplained = {s for s in skips if not any(known in s for known in EXPLAINED_SKIPS)}
    assert not unexplained, "new skips: explain them in EXPLAINED_SKIPS and the README"


@pytest.mark.parametrize("mode", RUNS)
def test_every_test_ends_as_with_plain_openai(runs: dict[str, dict[str, Any]], mode: str) -> None:
    """Each openai test passes, fails or skips with our clients as with openai's, but as listed."""
    differences = _outcome_differences(runs["control"], runs[mode])
    unlisted = {
        test: text for test, text in differences.items() if _listed(INTENDED, mode, test) is None
    }
    assert not unlisted, (
        f"openai's tests end differently in the {mode!r} run (log: {runs[mode]['log']}); "
        "fix the cause, or list it in INTENDED with the reason:\n"
        + "\n".join(f"{test}: {text}" for test, text in unlisted.items())
    )


@pytest.mark.parametrize("mode", RUNS)
def test_every_request_is_sent_as_plain_openai_sends_it(
    runs: dict[str, dict[str, Any]], mode: str
) -> None:
    """Every request of every test that ends alike is byte-identical to openai's, but as listed."""
    control, run = runs["control"], runs[mode]
    wire = [pair for entry in INTENDED if mode in entry.runs for pair in entry.wire]
    used: Counter[str] = Counter()
    mismatched: dict[str, str] = {}
    chat = 0
    for test, sent in control["requests"].items():
        if control["outcomes"][test]["outcome"] != run["outcomes"].get(test, {}).get("outcome"):
            continue  # told apart by the outcome test
        expected = [_normalized(request, [], Counter()) for request in sent]
        actual = [_normalized(request, wire, used) for request in run["requests"].get(test, [])]
        if expected != actual:
            diff = difflib.unified_diff(
                "\n\n".join(expected).splitlines(),
                "\n\n".join(actual).splitlines(),
                "plain openai",
                mode,
                lineterm="",
            )
            mismatched[test] = "\n".join(list(diff)[:40])
        chat += sum(1 for request in sent if _is_chat(request))
    # The selection sends some 400; a floor far below that, so a recorder that stopped
    # seeing requests fails here instead of comparing nothing.
    assert chat >= 100, f"only {chat} chat-completion requests were compared"
    first = next(iter(mismatched), None)
    assert first is None, (
        f"{len(mismatched)} test(s) send other requests in the {mode!r} run than with plain "
        f"openai; fix the cause, or list it with the reason. The first, {first}:\n"
        f"{mismatched[first]}"
    )


def test_intended_differences_name_tests_that_exist(runs: dict[str, dict[str, Any]]) -> None:
    """Every test an INTENDED entry names is still in openai's suite, so no entry is dead."""
    collected = runs["control"]["outcomes"].keys()
    for entry in INTENDED:
        for pattern in entry.tests:
            assert any(fnmatch.fnmatchcase(t, pattern) for t in collected), (
                f"openai {openai.__version__} has no test {pattern}: update INTENDED"
            )
