"""`ogv ask` against a loopback stand-in for Gemini: answers, token lines, dry runs, errors."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fakegemini import FakeGemini, images_in
from imaging import encode, image_bytes, photo
from PIL import Image

from openai_gemini_vision.cli import ogv
from openai_gemini_vision.cli._common import DEFAULT_MODEL
from openai_gemini_vision.errors import MissingAPIKeyError
from openai_gemini_vision.images.prepared import payload_placeholder
from openai_gemini_vision.images.probe import probe

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def fake() -> Iterator[FakeGemini]:
    """A fake Gemini on loopback that answers at once."""
    with FakeGemini() as server:
        yield server


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    """A key in GEMINI_API_KEY, as a user would set it."""
    monkeypatch.setenv("GEMINI_API_KEY", "test-key")
    return "test-key"


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
    result = CliRunner().invoke(
        ogv, ["ask", str(png), "--prompt", "What is it?", "--base-url", fake.base_url]
    )
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
    result = CliRunner().invoke(
        ogv, ["ask", str(png), "-p", "What?", "--json", "--base-url", fake.base_url]
    )
    assert result.exit_code == 0, result.output
    response = json.loads(result.stdout)
    assert response["object"] == "chat.completion"
    assert response["usage"]["prompt_tokens"] == 262
    assert response["choices"][0]["message"]["content"].startswith("I see 1 image(s)")


def test_stream_prints_the_answer_as_it_arrives(fake: FakeGemini, key: str, png: Path) -> None:
    """--stream asks for a stream and joins its chunks into the same answer."""
    result = CliRunner().invoke(
        ogv, ["ask", str(png), "-p", "What?", "--stream", "--base-url", fake.base_url]
    )
    assert result.exit_code == 0, result.output
    sent = payload_placeholder("image/png", png.read_bytes())
    assert result.stdout == f"I see 1 image(s): {sent}.\n"
    assert fake.requests[0]["stream"] is True
    assert "usage.prompt_tokens 262" in result.stderr


def test_not_a_terminal_means_one_whole_answer(fake: FakeGemini, key: str, png: Path) -> None:
    """Piped output is not streamed unless asked."""
    result = CliRunner().invoke(ogv, ["ask", str(png), "-p", "What?", "--base-url", fake.base_url])
    assert result.exit_code == 0, result.output
    assert "stream" not in fake.requests[0]


def test_dry_run_needs_no_key_and_sends_nothing(fake: FakeGemini, png: Path) -> None:
    """--dry-run prints the request with the image in short and the estimate, offline."""
    result = CliRunner().invoke(
        ogv,
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
    result = CliRunner().invoke(
        ogv, ["ask", str(gif), str(big), "-p", "Compare", "--detail", "low", "--dry-run"]
    )
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
    result = CliRunner().invoke(ogv, [arg.strip('"') for arg in args])
    assert result.exit_code == 0, result.output
    assert "bytes sha256:" in result.stdout


def test_image_bytes_from_stdin(fake: FakeGemini, key: str, png: Path) -> None:
    """`-` reads the image from stdin and sends those bytes."""
    data = png.read_bytes()
    result = CliRunner().invoke(
        ogv, ["ask", "-", "-p", "What?", "--base-url", fake.base_url], input=data
    )
    assert result.exit_code == 0, result.output
    assert images_in(fake.requests[0]) == [("image/png", data)]


def test_an_image_url_is_fetched_and_sent_inline(fake: FakeGemini, key: str, png: Path) -> None:
    """An http URL typed by the user, loopback included, is fetched and inlined."""
    url = fake.serve("/cat.png", png.read_bytes())
    result = CliRunner().invoke(ogv, ["ask", url, "-p", "What?", "--base-url", fake.base_url])
    assert result.exit_code == 0, result.output
    assert images_in(fake.requests[-1]) == [("image/png", png.read_bytes())]


def test_environment_sets_endpoint_and_model(
    fake: FakeGemini, key: str, png: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GEMINI_BASE_URL and GEMINI_MODEL apply when no option is given; --model wins."""
    monkeypatch.setenv("GEMINI_BASE_URL", fake.base_url)
    monkeypatch.setenv("GEMINI_MODEL", "gemini-from-env")
    runner = CliRunner()
    assert runner.invoke(ogv, ["ask", str(png), "-p", "x"]).exit_code == 0
    assert runner.invoke(ogv, ["ask", str(png), "-p", "x", "-m", "gemini-opt"]).exit_code == 0
    assert [body["model"] for body in fake.requests] == ["gemini-from-env", "gemini-opt"]


def test_a_missing_key_is_one_line_naming_the_fix(png: Path) -> None:
    """Without a key: exit 2 and one line naming GEMINI_API_KEY, no traceback."""
    result = CliRunner().invoke(ogv, ["ask", str(png), "-p", "x"])
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith("ogv: error:")
    assert "GEMINI_API_KEY" in line


def test_debug_shows_the_traceback(png: Path) -> None:
    """--debug lets the exception through instead of the one-line message."""
    result = CliRunner().invoke(ogv, ["ask", str(png), "-p", "x", "--debug"])
    assert isinstance(result.exception, MissingAPIKeyError)
    assert "ogv: error" not in result.stderr


def test_a_rejected_key_names_the_variable(fake: FakeGemini, png: Path) -> None:
    """Gemini's 400 API_KEY_INVALID becomes one line pointing at GEMINI_API_KEY."""
    fake.api_key = "the-right-key"
    result = CliRunner().invoke(
        ogv,
        ["ask", str(png), "-p", "x", "--base-url", fake.base_url],
        env={"GEMINI_API_KEY": "a-wrong-key"},
    )
    assert result.exit_code == 1, result.output
    (line,) = result.stderr.splitlines()
    assert "API key not valid" in line
    assert "GEMINI_API_KEY" in line
    assert "a-wrong-key" not in line


def test_an_unreachable_endpoint_names_the_option(png: Path, key: str) -> None:
    """A connection failure says which option or variable sets the endpoint."""
    with FakeGemini() as gone:
        url = gone.base_url
    result = CliRunner().invoke(ogv, ["ask", str(png), "-p", "x", "--base-url", url])
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
    result = CliRunner().invoke(ogv, args)
    assert result.exit_code == 2, result.output
    assert needle in result.stderr


@pytest.mark.parametrize("command", [[], ["ask"], ["caption"]])
def test_help_shows_an_example(command: list[str]) -> None:
    """`ogv --help` and each command's help carry a runnable example."""
    result = CliRunner().invoke(ogv, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert re.search(r"^\s+ogv \w+ .*--prompt", result.stdout, re.MULTILINE)


def test_probe_agrees_with_what_the_fake_received(
    fake: FakeGemini, key: str, tmp_path: Path
) -> None:
    """--detail low reaches the wire: the image Gemini receives has both sides <= 384 px."""
    big = tmp_path / "big.jpg"
    big.write_bytes(image_bytes("JPEG", 1200, 900))
    result = CliRunner().invoke(
        ogv, ["ask", str(big), "-p", "x", "--detail", "low", "--base-url", fake.base_url]
    )
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
    result = CliRunner().invoke(
        ogv, ["ask", str(gif), "--prompt", "What is it?", "--base-url", fake.base_url]
    )
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
        tokens = CliRunner().invoke(
            ogv, ["tokens", *files, "--json", "--detail", detail, "-m", "gemini-2.0-flash"]
        )
        assert tokens.exit_code == 0, tokens.output
        asked = CliRunner().invoke(
            ogv,
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
