"""Errors as one line for people at a terminal, naming `ogv`'s flags and variables.

The library's messages name the fix for Python callers (`ImagePolicy(max_pixels=...)`,
`max_retries=...`, `api_key=...`). On the command line the same fix is a flag or an
environment variable, so each such phrase is rewritten here, in one table, and every
command prints errors, warnings and notes through it. `tests/test_cli_ask.py` checks
that no Python instruction the library can raise reaches a user of `ogv` unrewritten.
"""

from __future__ import annotations

import re

import openai

from ..client import key_refused
from ..errors import GeminiVisionError, ImageTooLargeError

__all__ = ["cli_words", "explain", "one_line", "reason"]

# (pattern, replacement), applied in order. Each rewrites one phrase the library writes
# (the module that writes it in the comment above its group) into what `ogv` takes.
_REWRITES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        # A key: errors.MissingAPIKeyError, client._error_message.
        (r"Pass api_key=\.\.\. or set the ", "Set the "),
        (r", or pass api_key=\.\.\., with ", " to "),
        # Retries: client._error_message (429).
        (r"\(max_retries=0\)", "(--max-retries 0)"),
        (r"max_retries=\.\.\. \(on the client or with_options\)", "--max-retries"),
        (
            r"send fewer requests at once",
            "send fewer requests at once (ogv caption: --concurrency)",
        ),
        # Pixels: images.probe, images.convert. --max-pixels raises Pillow's guard too.
        (r" \(and PIL\.Image\.MAX_IMAGE_PIXELS, Pillow's own guard\)", ""),
        (r"ImagePolicy\(max_pixels=\.\.\.\)", "--max-pixels"),
        # The 20 MB budget and the image count: request.plan, request.estimate. ogv always
        # shrinks to fit, and its budget and image limit are Gemini's own maximums.
        (r'leave ImagePolicy\(fit="shrink"\) to re-encode and downscale them(; )?', ""),
        (r"(; )?raise ImagePolicy\(max_request_bytes=\.\.\.\) up to [\d,]+", ""),
        (r"max_request_bytes=([\d,]+)", r"the \1-byte budget"),
        (
            r"ask for detail=\"low\" \(ImagePolicy\(detail=\"low\"\) or a part's image_url\.detail\)",
            "pass --detail low",
        ),
        (r"send fewer images per request", "send fewer images per request (fewer IMAGE arguments)"),
        (r", or raise ImagePolicy\(max_images=\.\.\.\) up to [\d,]+", ""),
        (r"ImagePolicy\(max_images=\d+\) allows", "a request may hold"),
        # Fetching an http(s) IMAGE: fetch.fetcher.
        (
            r"over ImagePolicy\(max_fetch_bytes=([\d,]+)\)\. Raise max_fetch_bytes, or",
            r"over the \1-byte limit for a fetched image. Download it and pass the file, or",
        ),
        (
            r"than ImagePolicy\(fetch_timeout=([\d.]+)\) seconds\. Raise fetch_timeout,",
            r"than \1 seconds. Download it and pass the file,",
        ),
        # An http(s) IMAGE in an estimate: request.estimate.
        (r"prepare_messages\(\) gives ", "ogv ask prints "),
        # PDFs and videos: documents.pdf, documents.video. The library names both forms.
        (r"--pages on the command line, ImagePolicy\(pdf_pages=\.\.\.\) in code", "--pages"),
        (
            r"--fps / --max-frames on the command line, "
            r"ImagePolicy\(video_fps=\.\.\., video_max_frames=\.\.\.\) in code",
            "--fps / --max-frames",
        ),
        # Detection: detection.detect; and what --detail low saves: token_rules.
        (r"Pass structured=False to", "Pass --no-schema to"),
        (r"--model / model= ", "--model "),
        (r'detail="low"', "--detail low"),
    )
)


def cli_words(text: str) -> str:
    """`text` with each fix the library words for Python callers worded as ogv's flag."""
    for pattern, replacement in _REWRITES:
        text = pattern.sub(replacement, text)
    return text


def one_line(exc: BaseException) -> str:
    """An exception as a single line, for people."""
    return " ".join(str(exc).split()) or type(exc).__name__


def _hint(exc: BaseException, text: str) -> str | None:
    """What to change on the command line, for errors whose text does not say it."""
    if isinstance(exc, openai.APITimeoutError):
        return "The request timed out: rerun, or check --base-url / GEMINI_BASE_URL."
    if isinstance(exc, openai.APIConnectionError):
        where = exc.request.url.host or str(exc.request.url)
        return f"Could not connect to {where}: check --base-url / GEMINI_BASE_URL and the network."
    if key_refused(exc):
        check = (
            ""
            if "GEMINI_API_KEY" in text
            else "Check GEMINI_API_KEY (or GOOGLE_API_KEY); keys come from "
            "https://aistudio.google.com/apikey. "
        )
        return f"{check}If the key is right, check that --base-url (or GEMINI_BASE_URL) is the endpoint it is for."
    if isinstance(exc, openai.BadRequestError) and re.search(
        r"media_?resolution", text, re.IGNORECASE
    ):
        return (
            "The endpoint refused --media-resolution (sent as extra_body.google."
            "media_resolution, a spelling Google does not document for it): drop the option."
        )
    if isinstance(exc, openai.NotFoundError):
        return "Check --model (or GEMINI_MODEL) and --base-url."
    if isinstance(exc, openai.RateLimitError) and "retr" not in text.lower():
        return "Gemini's rate limit was hit: wait a minute and rerun, or ask for a higher quota."
    if isinstance(exc, ImageTooLargeError) and exc.actual:
        return f"--max-pixels {int(exc.actual)} lets it through."
    return None


def _with_hint(exc: BaseException, message: str) -> str:
    hint = _hint(exc, message)
    return f"{message} {hint}" if hint else message


def reason(exc: BaseException) -> str:
    """What went wrong and the fix, in ogv's words, without the file's name: for a line
    or table row that names the file itself."""
    text = exc.message if isinstance(exc, GeminiVisionError) else one_line(exc)
    return _with_hint(exc, cli_words(" ".join(text.split())))


def explain(exc: BaseException) -> str:
    """One line for people: the file it is about, the error, then the fix when the error
    itself does not name it (`photo.jpg: the image is empty (0 bytes) ...`)."""
    if isinstance(exc, GeminiVisionError) and exc.source:
        message = reason(exc)
        if message[:1].isupper() and message[1:2].islower():  # "The image", not "PNG"
            message = message[0].lower() + message[1:]
        return f"{exc.source}: {message}"
    return "error: " + _with_hint(exc, cli_words(one_line(exc)))
