"""PDFs and videos in a request become the images Gemini reads, before anything else is planned.

A PDF or a video may stand where an image stands (a path, bytes or a `Source` in a content
list, a `data:` or file URL in `image_url.url`), and a PDF may come as OpenAI's
`{"type": "file", "file": {"file_data": ...}}` part. Each is replaced, in the copied
messages, by its pages or frames: a short text part naming each ("Page 3 of 12",
"00:01:05"), then the page or frame as an image part holding a data URL this library
made. From there on they are images like any other: counted, fitted to the budget,
priced. What is a document is read from the bytes' first kilobyte, never from a name.

Sending and estimating both expand here, so a PDF is priced by the pages it will send.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..documents import is_pdf, is_video, pdf_from_file_part, render_pages, sample_frames
from ..errors import GeminiVisionError
from ..images.prepared import PreparedImage
from ..images.source import RAW_IMAGE_TYPES, Source
from ..policy import ImagePolicy

__all__ = ["expand_documents"]

# Bytes looked at to tell a PDF or a video from an image: both announce themselves early.
_SNIFF = 1024
# Sources whose first bytes can be read without consuming or fetching anything.
_SNIFFED_KINDS = frozenset({"path", "file", "data", "bytes"})


def _source(part: Any) -> Source | None:
    """The source an image part or raw item names, if it may hold a document."""
    if isinstance(part, RAW_IMAGE_TYPES):
        value: Any = part
    elif isinstance(part, dict) and part.get("type") == "image_url":
        image_url = part.get("image_url")
        value = image_url.get("url") if isinstance(image_url, dict) else image_url
        if not isinstance(value, str):
            return None  # the loader refuses it, naming the part
    else:
        return None
    try:
        source = Source.of(value, from_messages=isinstance(value, str))
    except (GeminiVisionError, TypeError):
        return None
    return source if source.kind in _SNIFFED_KINDS else None


def _head(source: Source, policy: ImagePolicy) -> bytes:
    """The first bytes of `source`; b"" when it cannot be read (the loader says why)."""
    try:
        blob = source.blob(policy, lazy=True)
    except GeminiVisionError:
        return b""
    try:
        return blob.head(_SNIFF)
    except GeminiVisionError:
        return b""
    finally:
        blob.close()


def _parts(labelled: Iterable[tuple[str, PreparedImage]], keep: list[PreparedImage]) -> list[Any]:
    parts: list[Any] = []
    for label, image in labelled:
        keep.append(image)  # keeps its data URL recognisable as prepared
        parts.append({"type": "text", "text": label})
        parts.append({"type": "image_url", "image_url": {"url": image.data_url}})
    return parts


def _expanded(
    part: Any,
    policy: ImagePolicy,
    model: str | None,
    backend: str | None,
    keep: list[PreparedImage],
) -> list[Any] | None:
    """The parts a document or video stands for, or None when `part` is something else.

    An error names the document (its path or file name), as an image's error does."""
    if isinstance(part, dict) and part.get("type") == "file":
        if policy.send_pdf_as_file:
            return None
        data, label = pdf_from_file_part(part)
        try:
            pages = render_pages(data, model=model, backend=backend, policy=policy, source=label)
            return _parts(((page.label, page.prepared()) for page in pages), keep)
        except GeminiVisionError as exc:
            raise exc.from_source(label) from None
    source = _source(part)
    if source is None:
        return None
    try:
        return _document(source, policy, model, backend, keep)
    except GeminiVisionError as exc:
        raise exc.from_source(source.error_label) from None


def _document(
    source: Source,
    policy: ImagePolicy,
    model: str | None,
    backend: str | None,
    keep: list[PreparedImage],
) -> list[Any] | None:
    """The pages or frames `source` holds when it is a PDF or a video, else None."""
    head = _head(source, policy)
    if is_pdf(head):
        data = source.blob(policy).all()
        pages = render_pages(data, model=model, backend=backend, policy=policy, source=source.label)
        return _parts(((page.label, page.prepared()) for page in pages), keep)
    if is_video(head):
        video: Any = (
            source.local_path(policy)
            if source.kind in {"path", "file"}
            else source.blob(policy).all()
        )
        frames = sample_frames(
            video, model=model, backend=backend, policy=policy, source=source.label
        )
        return _parts(((frame.label, frame.prepared()) for frame in frames), keep)
    return None


def expand_documents(
    messages: list[dict[str, Any]],
    policy: ImagePolicy,
    *,
    model: str | None = None,
    backend: str | None = None,
) -> list[PreparedImage]:
    """Replace every PDF and video in copied `messages` by its labelled pages or frames.

    Pages and frames are sized for `model`'s family on `backend`. Returns the page and
    frame images, which the caller keeps alive while the messages are in use. An error
    names the part that held the document.
    """
    keep: list[PreparedImage] = []
    for position, message in enumerate(messages):
        content = message.get("content")
        if not isinstance(content, list):
            continue
        rebuilt: list[Any] = []
        changed = False
        for index, part in enumerate(content):
            try:
                parts = _expanded(part, policy, model, backend, keep)
            except GeminiVisionError as exc:
                raise exc.located(f"messages[{position}].content[{index}]") from None
            if parts is None:
                rebuilt.append(part)
            else:
                rebuilt.extend(parts)
                changed = True
        if changed:
            content[:] = rebuilt
    return keep
