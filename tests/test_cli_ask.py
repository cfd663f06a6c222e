"""`ogv ask` against a loopback stand-in for Gemini: answers, token lines, dry runs, errors."""

from __future__ import annotations

import ast
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from openai_gemini_vision.cli import ogv
from openai_gemini_vision.cli._common import DEFAULT_MODEL, cli_policy, cli_words
from openai_gemini_vision.errors import MissingAPIKeyError
from openai_gemini_vision.images.prepared import payload_placeholder
from openai_gemini_vision.images.probe import probe

from .clirunner import run_ogv
from .fakegemini import FakeGemini, images_in
from .imaging import encode, image_bytes, photo
from .paths import ROOT


@pytest.fixture
def png(tmp_path: Path) -> Path:
    """A small PNG photo, which Gemini takes as it is."""
    path = tmp_path / "photo.png"
    path.write_bytes(image_bytes("PNG"))
    return path


def test_ask_prints_the_answer_and_the_tokens_beside_the_usage(
    fake: FakeGemini, key: str, png: Path
) -> None:
    """The answer goes to stdout; the estimate and usage.prompt_tokens to stderr."""
    result = run_ogv(["ask", str(png), "--prompt", "What is it?", "--base-url", fake.base_url])
    assert result.exit_code == 0, result.output
    sent = payload_placeholder("image/png", png.read_bytes())
    assert result.stdout == f"I see 1 image(s): {sent}.\n"
    assert re.search(r"tokens: [\d,]+ estimated before the call", result.stderr)
    assert "usage.prompt_tokens 262" in result.stderr
    assert f"({png}): 64x48 PNG -> 64x48 image/png" in result.stderr
    assert "sent as is" in result.stderr
    (body,) = fake.requests
    assert body["model"] == DEFAULT_MODEL
    content = body["messages"][0]["content"]
    assert [part["type"] for part in content] == ["image_url", "text"]
    assert content[1]["text"] == "What is it?"


def test_json_prints_the_whole_response(fake: FakeGemini, key: str, png: Path) -> None:
    """--json gives the response object as received, usage included."""
    result = run_ogv(["ask", str(png), "-p", "What?", "--json", "--base-url", fake.base_url])
    assert result.exit_code == 0, result.output
    response = json.loads(result.stdout)
    assert response["object"] == "chat.completion"
    assert response["usage"]["prompt_tokens"] == 262
    assert response["choices"][0]["message"]["content"].startswith("I see 1 image(s)")


def test_stream_prints_the_answer_as_it_arrives(fake: FakeGemini, key: str, png: Path) -> None:
    """--stream asks for a stream and joins its chunks into the same answer."""
    result = run_ogv(["ask", str(png), "-p", "What?", "--stream", "--base-url", fake.base_url])
    assert result.exit_code == 0, result.output
    sent = payload_placeholder("image/png", png.read_bytes())
    assert result.stdout == f"I see 1 image(s): {sent}.\n"
    assert fake.requests[0]["stream"] is True
    assert "usage.prompt_tokens 262" in result.stderr


def test_not_a_terminal_means_one_whole_answer(fake: FakeGemini, key: str, png: Path) -> None:
    """Piped output is not streamed unless asked."""
    result = run_ogv(["ask", str(png), "-p", "What?", "--base-url", fake.base_url])
    assert result.exit_code == 0, result.output
    assert "stream" not in fake.requests[0]


def test_dry_run_needs_no_key_and_sends_nothing(fake: FakeGemini, png: Path) -> None:
    """--dry-run prints the request with the image in short and the estimate, offline."""
    result = run_ogv(
        ["ask", str(png), "-p", "What?", "--system", "Be brief.", "--dry-run"],
        env={"GEMINI_BASE_URL": fake.base_url},
    )
    assert result.exit_code == 0, result.output
    assert fake.requests == []
    body = json.loads(result.stdout)
    assert body["model"] == DEFAULT_MODEL
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    image_part = body["messages"][1]["content"][0]
    assert image_part["image_url"]["url"] == payload_placeholder("image/png", png.read_bytes())
    assert f"POST {fake.base_url}chat/completions" in result.stderr
    assert re.search(r"tokens: [\d,]+ estimated before the call .*dry run", result.stderr)


def test_dry_run_shows_what_was_changed(png: Path, tmp_path: Path) -> None:
    """A GIF is converted and --detail low shrinks a large image: stderr says so per image."""
    gif = tmp_path / "anim.gif"
    gif.write_bytes(image_bytes("GIF"))
    big = tmp_path / "big.png"
    big.write_bytes(image_bytes("PNG", 1000, 500))
    result = run_ogv(["ask", str(gif), str(big), "-p", "Compare", "--detail", "low", "--dry-run"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("image ")]
    assert len(lines) == 2
    assert "64x48 GIF -> 64x48 image/png" in lines[0]
    assert "sent as is" not in lines[0]
    assert "1000x500 PNG -> 384x192" in lines[1]
    assert "sent as is" not in lines[1]


def test_the_readme_offline_command_works(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first command the README tells a newcomer to run succeeds from a fresh checkout."""
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"^ogv (ask .*--dry-run)$", readme, re.MULTILINE)
    assert command, "README lost its offline `ogv ask ... --dry-run` command"
    monkeypatch.chdir(ROOT)
    args = re.findall(r'"[^"]*"|\S+', command.group(1))
    result = run_ogv([arg.strip('"') for arg in args])
    assert result.exit_code == 0, result.output
    assert "bytes sha256:" in result.stdout


def test_image_bytes_from_stdin(fake: FakeGemini, key: str, png: Path) -> None:
    """`-` reads the image from stdin and sends those bytes."""
    data = png.read_bytes()
    result = run_ogv(["ask", "-", "-p", "What?", "--base-url", fake.base_url], input=data)
    assert result.exit_code == 0, result.output
    assert images_in(fake.requests[0]) == [("image/png", data)]


def test_an_image_url_is_fetched_and_sent_inline(fake: FakeGemini, key: str, png: Path) -> None:
    """An http URL typed by the user, loopback included, is fetched and inlined."""
    url = fake.serve("/cat.png", png.read_bytes())
    result = run_ogv(["ask", url, "-p", "What?", "--base-url", fake.base_url])
    assert result.exit_code == 0, result.output
    assert images_in(fake.requests[-1]) == [("image/png", png.read_bytes())]


def test_environment_sets_endpoint_and_model(
    fake: FakeGemini, key: str, png: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GEMINI_BASE_URL and GEMINI_MODEL apply when no option is given; --model wins."""
    monkeypatch.setenv("GEMINI_BASE_URL", fake.base_url)
    monkeypatch.setenv("GEMINI_MODEL", "gemini-from-env")
    assert run_ogv(["ask", str(png), "-p", "x"]).exit_code == 0
    assert run_ogv(["ask", str(png), "-p", "x", "-m", "gemini-opt"]).exit_code == 0
    assert [body["model"] for body in fake.requests] == ["gemini-from-env", "gemini-opt"]


def test_a_missing_key_is_one_line_naming_the_fix(png: Path) -> None:
    """Without a key: exit 2 and one line naming GEMINI_API_KEY, no traceback."""
    result = run_ogv(["ask", str(png), "-p", "x"])
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith("ogv: error:")
    assert "GEMINI_API_KEY" in line
    assert "api_key=" not in line


def test_debug_shows_the_traceback(png: Path) -> None:
    """--debug lets the exception through instead of the one-line message."""
    result = run_ogv(["ask", str(png), "-p", "x", "--debug"])
    assert isinstance(result.exception, MissingAPIKeyError)
    assert "ogv: error" not in result.stderr


def test_a_rejected_key_names_the_variable(fake: FakeGemini, png: Path) -> None:
    """Gemini's 400 API_KEY_INVALID is a setup problem like a missing key: exit 2, one line
    naming GEMINI_API_KEY and --base-url, never the Python argument api_key=."""
    fake.api_key = "the-right-key"
    result = run_ogv(
        ["ask", str(png), "-p", "x", "--base-url", fake.base_url],
        env={"GEMINI_API_KEY": "a-wrong-key"},
    )
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert "API key not valid" in line
    assert "GEMINI_API_KEY" in line
    assert "--base-url" in line
    assert "api_key=" not in line
    assert "a-wrong-key" not in line


def test_an_unreachable_endpoint_names_the_option(png: Path, key: str) -> None:
    """A connection failure says which option or variable sets the endpoint."""
    with FakeGemini() as gone:
        url = gone.base_url
    result = run_ogv(["ask", str(png), "-p", "x", "--base-url", url])
    assert result.exit_code == 1, result.output
    assert "--base-url" in result.stderr
    assert "GEMINI_BASE_URL" in result.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["ask", "no-such.png", "-p", "x"], "no-such.png"),
        (["ask", "https://example.com/a.png", "-p", "x", "--dry-run"], "--dry-run"),
        (["ask", "-", "-", "-p", "x"], "stdin"),
        (["ask", "PNG", "-p", "x", "--json", "--stream"], "--json"),
        (["ask", "PNG", "-p", "x", "--detail", "tiny"], "tiny"),
    ],
)
def test_usage_errors_exit_2_and_say_why(args: list[str], needle: str, png: Path) -> None:
    """Wrong arguments stop before any work with exit status 2 and the culprit named."""
    args = [str(png) if arg == "PNG" else arg for arg in args]
    result = run_ogv(args)
    assert result.exit_code == 2, result.output
    assert needle in result.stderr


@pytest.mark.parametrize("command", [[], ["ask"], ["caption"]])
def test_help_shows_an_example(command: list[str]) -> None:
    """`ogv --help` and each command's help carry a runnable example."""
    result = run_ogv([*command, "--help"])
    assert result.exit_code == 0, result.output
    assert re.search(r"^\s+ogv \w+ .*--prompt", result.stdout, re.MULTILINE)


def test_probe_agrees_with_what_the_fake_received(
    fake: FakeGemini, key: str, tmp_path: Path
) -> None:
    """--detail low reaches the wire: the image Gemini receives has both sides <= 384 px."""
    big = tmp_path / "big.jpg"
    big.write_bytes(image_bytes("JPEG", 1200, 900))
    result = run_ogv(["ask", str(big), "-p", "x", "--detail", "low", "--base-url", fake.base_url])
    assert result.exit_code == 0, result.output
    ((_, sent),) = images_in(fake.requests[0])
    info = probe(sent)
    assert (info.width, info.height) == (384, 288)


def _gif(path: Path) -> Path:
    """A GIF, which Gemini does not take: sending it means decoding and re-encoding it."""
    Image.new("RGB", (60, 40), (200, 30, 30)).save(path, "GIF")
    return path


def test_ask_decodes_each_image_once_and_the_client_prepares_nothing_again(
    fake: FakeGemini,
    key: str,
    tmp_path: Path,
    decodes: list[tuple[str, tuple[int, int]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A GIF is decoded once per `ogv ask`; the prepared body goes to Gemini as it is."""
    prepared_again: list[object] = []
    monkeypatch.setattr(
        "openai_gemini_vision.client.prepare_messages",
        lambda *args, **kwargs: prepared_again.append(args),
    )
    gif = _gif(tmp_path / "red.gif")
    result = run_ogv(["ask", str(gif), "--prompt", "What is it?", "--base-url", fake.base_url])
    assert result.exit_code == 0, result.output
    assert decodes == [("GIF", (60, 40))]
    assert prepared_again == []
    ((mime, _),) = images_in(fake.requests[0])
    assert mime == "image/png"


def test_tokens_and_a_dry_run_agree_image_by_image(tmp_path: Path) -> None:
    """`ogv tokens --json` shows the sizes, types, bytes and tokens `ogv ask --dry-run` sends."""
    turned = tmp_path / "turned.jpg"
    turned.write_bytes(encode(photo(90, 60), "JPEG", orientation=8))
    files = [str(_gif(tmp_path / "red.gif")), str(turned), str(tmp_path / "plain.png")]
    (tmp_path / "plain.png").write_bytes(image_bytes("PNG", 500, 300))
    for detail in ("auto", "low"):
        tokens = run_ogv(["tokens", *files, "--json", "--detail", detail, "-m", "gemini-2.0-flash"])
        assert tokens.exit_code == 0, tokens.output
        asked = run_ogv(
            ["ask", *files, "-p", "?", "--dry-run", "--detail", detail, "-m", "gemini-2.0-flash"],
        )
        assert asked.exit_code == 0, asked.output
        rows = json.loads(tokens.stdout)["images"]
        sent = [
            (
                row["mime_type_as_sent"],
                "x".join(map(str, row["size_as_sent"])),
                row["bytes_as_sent"],
            )
            for row in rows
        ]
        lines = re.findall(r"-> (\d+x\d+) (image/\w+), ([\d,]+) bytes", asked.stderr)
        assert sent == [(mime, size, int(count.replace(",", ""))) for size, mime, count in lines]
        total = sum(row["tokens"]["gemini-2.0-flash"]["tokens"] for row in rows)
        assert f"({total:,} image + " in asked.stderr


def test_a_429_names_max_retries_and_the_flag_sets_them(
    fake: FakeGemini, key: str, png: Path
) -> None:
    """Rate-limited past its retries, ask names --max-retries (not max_retries=...), and
    --max-retries N is how many times it retries."""
    fake.script(429, 429)
    args = ["ask", str(png), "-p", "x", "--base-url", fake.base_url]
    failed = run_ogv([*args, "--max-retries", "1"])
    assert failed.exit_code == 1, failed.output
    (line,) = failed.stderr.splitlines()
    assert "retried 1 time(s)" in line
    assert "--max-retries" in line
    assert "max_retries=" not in line
    assert "with_options" not in line
    assert fake.statuses == [429, 429]
    fake.script(429, 429, 429)
    answered = run_ogv([*args, "--max-retries", "3"])
    assert answered.exit_code == 0, answered.output
    assert fake.statuses[2:] == [429, 429, 429, 200]


def test_the_pixel_limit_names_max_pixels_which_sets_it(png: Path) -> None:
    """An image over the pixel limit is named with --max-pixels and the figure that lets it
    through (not ImagePolicy(max_pixels=...)); that figure does."""
    refused = run_ogv(["ask", str(png), "-p", "x", "--dry-run", "--max-pixels", "3000"])
    assert refused.exit_code == 1, refused.output
    (line,) = refused.stderr.splitlines()
    assert line.startswith(
        f"ogv: {png}: the image is 64x48 = 3,072 pixels, over the limit of 3,000"
    )
    assert "--max-pixels 3072 lets it through." in line
    assert "ImagePolicy" not in line
    allowed = run_ogv(["ask", str(png), "-p", "x", "--dry-run", "--max-pixels", "3072"])
    assert allowed.exit_code == 0, allowed.output


def test_a_request_over_the_budget_names_what_ogv_can_change(png: Path) -> None:
    """A request that cannot fit Gemini's 20 MB names --detail low and fewer IMAGE arguments,
    not ImagePolicy fields or max_request_bytes."""
    result = run_ogv(["ask", str(png), "-p", "x" * 20_100_000, "--dry-run"])
    assert result.exit_code == 1, result.output[:500]
    (line,) = result.stderr.splitlines()
    assert "over the 20,000,000-byte budget" in line
    assert "pass --detail low" in line
    assert "fewer IMAGE arguments" in line
    assert "ImagePolicy" not in line
    assert "max_request_bytes" not in line


# What the library tells Python callers to change, as opposed to ogv's flags.
_PYTHON_FIX = re.compile(
    r"ImagePolicy\(|api_key=|max_retries=|with_options|structured=False|MAX_IMAGE_PIXELS"
    r"|max_request_bytes=|detail=\"low\"|model= |prepare_messages\("
)
# Fixes of settings ogv always sets itself (cli_policy) or never passes (a blank api_key):
# their errors cannot reach an ogv user.
_OGV_SETS = re.compile(
    r"allow_local_files|allow_private_urls|allowed_hosts|convert_unsupported|given but is blank"
)


def _library_messages() -> list[tuple[str, str]]:
    """(where, text) of each string the library (not the CLI) builds that names a Python
    fix; an f-string's fields read as "1"; docstrings left out."""
    found = []
    package = ROOT / "openai_gemini_vision"
    for path in sorted(package.rglob("*.py")):
        if path.relative_to(package).parts[0] == "cli":
            continue
        tree = ast.parse(path.read_text())
        parts_or_docs = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                parts_or_docs |= {id(value) for value in node.values}
            elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                parts_or_docs.add(id(node.value))
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                text = "".join(v.value if isinstance(v, ast.Constant) else "1" for v in node.values)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                if id(node) in parts_or_docs:
                    continue
                text = node.value
            else:
                continue
            if _PYTHON_FIX.search(text):
                found.append((f"{path.relative_to(ROOT)}:{node.lineno}", text))
    return found


def test_no_python_instruction_reaches_an_ogv_user() -> None:
    """Each fix the library words for Python callers is reworded as ogv's flag or variable,
    save those for settings ogv fixes itself; and ogv does fix those."""
    messages = _library_messages()
    assert len(messages) > 15  # the scan finds the messages it is meant to
    left = [
        (where, cli_words(text))
        for where, text in messages
        if _PYTHON_FIX.search(cli_words(text)) and not _OGV_SETS.search(text)
    ]
    assert left == []
    policy = cli_policy()
    assert (policy.allow_local_files, policy.allow_private_urls) == (True, True)
    assert (policy.allowed_hosts, policy.convert_unsupported) == (None, True)


def test_media_resolution_is_estimated_and_sent_where_gemini_only_options_go(
    fake: FakeGemini, key: str, png: Path
) -> None:
    """--media-resolution low prices the image as `ogv tokens` does for it, and travels as
    extra_body.google.media_resolution, which --dry-run shows; without it nothing is added."""
    model = "gemini-3-pro-preview"

    def image_tokens(*extra: str) -> int:
        priced = run_ogv(["tokens", str(png), "-m", model, "--json", *extra])
        assert priced.exit_code == 0, priced.output
        return int(json.loads(priced.stdout)["total"]["tokens"][model]["tokens"])

    low = image_tokens("--media-resolution", "low")
    assert low < image_tokens()
    args = ["ask", str(png), "-p", "x", "-m", model, "--media-resolution", "low"]
    dry = run_ogv([*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    wire = {"google": {"media_resolution": "MEDIA_RESOLUTION_LOW"}}
    assert json.loads(dry.stdout)["extra_body"] == wire
    assert f"({low:,} image + " in dry.stderr
    sent = run_ogv([*args, "--base-url", fake.base_url])
    assert sent.exit_code == 0, sent.output
    assert fake.requests[0]["extra_body"] == wire
    assert f"({low:,} image + " in sent.stderr
    plain = run_ogv(["ask", str(png), "-p", "x", "--base-url", fake.base_url])
    assert plain.exit_code == 0, plain.output
    assert "extra_body" not in fake.requests[1]


def test_an_endpoint_refusing_media_resolution_says_to_drop_it(
    fake: FakeGemini, key: str, png: Path
) -> None:
    """If the endpoint refuses the unconfirmed field, the one line says to drop the option."""
    refusal = (
        'Invalid JSON payload received. Unknown name "media_resolution" at '
        "'extra_body.google': Cannot find field."
    )
    fake.reject = lambda body: refusal if "extra_body" in body else False
    result = run_ogv(
        ["ask", str(png), "-p", "x", "--media-resolution", "medium", "--base-url", fake.base_url],
    )
    assert result.exit_code == 1, result.output
    (line,) = result.stderr.splitlines()
    assert "Cannot find field" in line
    assert "The endpoint refused --media-resolution" in line
    assert "drop the option" in line


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["--base-url", "notaurl"], {}, "--base-url"),
        ([], {"GEMINI_BASE_URL": "localhost:8080/v1beta/openai/"}, "GEMINI_BASE_URL"),
    ],
)
def test_a_base_url_that_is_no_url_says_what_is_wrong(
    args: list[str], env: dict[str, str], named: str, key: str, png: Path
) -> None:
    """An endpoint without http(s):// or a host is a usage error naming where it came from
    and what it lacks, not "Could not connect to : ..."."""
    result = run_ogv(["ask", str(png), "-p", "x", *args], env=env)
    assert result.exit_code == 2, result.output
    text = " ".join(result.stderr.split())
    assert f"Invalid value for {named}" in text
    assert "is not an http(s) URL" in text
    assert "http:// or https:// and a host" in text
    assert "Could not connect" not in text


def test_the_command_list_shows_whole_descriptions() -> None:
    """`ogv --help` lists each command with its first sentence whole, never cut to "..."."""
    result = run_ogv(["--help"])
    assert result.exit_code == 0, result.output
    listing = " ".join(result.stdout.split("Commands:")[1].split())
    for name, command in ogv.commands.items():
        first = " ".join((command.help or "").split("\n\n")[0].split())
        assert f"{name} {first}" in listing
    assert "..." not in listing


@pytest.mark.parametrize(
    ("command", "target"),
    [
        (["ask", "PNG", "-p", "x"], "ask.prepare_messages"),
        (["detect", "PNG", "--out", "OUT"], "detect.detect_objects"),
        (["tokens", "PNG"], "tokens.price_together"),
    ],
)
def test_ctrl_c_is_one_line_and_exit_130(
    command: list[str],
    target: str,
    key: str,
    png: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C in the middle of any command: exit status 130 and one line, not click's
    "Aborted!" and 1."""

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    # By module: the package's `ask` is the command, which hides the module of that name.
    module, name = target.split(".")
    monkeypatch.setattr(sys.modules[f"openai_gemini_vision.cli.{module}"], name, interrupted)
    args = [{"PNG": str(png), "OUT": str(tmp_path / "o.png")}.get(arg, arg) for arg in command]
    result = run_ogv(args)
    assert result.exit_code == 130, result.output
    assert result.stderr == "ogv: stopped by Ctrl-C.\n"


def _wait_for(condition: Callable[[], bool], process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if condition():
            return
        time.sleep(0.01)
    process.kill()
    _, stderr = process.communicate()
    raise AssertionError(f"the process ended or stalled before it was ready:\n{stderr}")


def test_sigint_while_waiting_for_gemini_exits_130_with_one_line(key: str, png: Path) -> None:
    """A real Ctrl-C (SIGINT) while ogv ask waits for its answer: exit 130, one line."""
    with FakeGemini(latency=30) as slow:
        env = {**os.environ, "GEMINI_BASE_URL": slow.base_url}
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "openai_gemini_vision", "ask", str(png), "-p", "x"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        _wait_for(lambda: slow.in_flight == 1, process)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert stderr == "ogv: stopped by Ctrl-C.\n"


# Put on PYTHONPATH as sitecustomize.py: holds the first import of the package's client
# module (well inside the package's loading) until the process is interrupted.
_STALL = """
import sys
import time


class _Stall:
    def find_spec(self, name, path=None, target=None):
        if name == "openai_gemini_vision.client":
            open({ready!r}, "w").close()
            time.sleep(60)
        return None


sys.meta_path.insert(0, _Stall())
"""


def test_ctrl_c_while_ogv_is_still_loading_is_the_same_one_line(tmp_path: Path) -> None:
    """SIGINT while `ogv` (the installed script) is still importing the package: exit 130
    and the same one line, no traceback through the import machinery."""
    script = Path(sys.executable).with_name("ogv")
    assert script.exists(), "the ogv script is installed with the package"
    ready = tmp_path / "loading"
    (tmp_path / "sitecustomize.py").write_text(_STALL.format(ready=str(ready)))
    process = subprocess.Popen(  # noqa: S603 - the project's own script
        [str(script), "tokens", "photo.png"],
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for(ready.exists, process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert stderr == "ogv: stopped by Ctrl-C.\n"
