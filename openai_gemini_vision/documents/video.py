"""Video as frames Gemini reads: sampled at Gemini's own rate, upright, each after its timestamp.

OpenAI's chat format has no video part, and the common recipe sends sampled frames as
images (GEMINI_FACTS.md, "Documents and video"); Gemini itself samples video at one frame
a second. Frames are decoded with PyAV (FFmpeg's libraries, codecs included in its wheel).

Memory stays bounded: only the sampled frames are kept, scaled down and JPEG-encoded, and
the decoder seeks to the keyframe before a sample whenever one lies between the frame last
decoded and that sample, so frames between samples are neither decoded nor held.
"""

from __future__ import annotations

import bisect
import io
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from PIL import Image

from ..errors import (
    CorruptDocumentError,
    DocumentError,
    EmptyDocumentError,
    RequestTooLargeError,
    UnsupportedDocumentError,
)
from ..policy import DEFAULT_POLICY, ImagePolicy
from ._extra import require
from .rendered import Rendered
from .sizing import family_cost, frame_side

__all__ = ["Frame", "FramePlan", "frame_plan", "sample_frames", "timestamp"]

# Frames are photographs already compressed once: quality 85 keeps them clean at ~60 kB
# for 768 px (bench/bench_documents.py).
_JPEG_QUALITY = 85
_FRAMES_FIX = "--fps / --max-frames on the command line, ImagePolicy(video_fps=..., video_max_frames=...) in code"
_CONVERT = "convert it to H.264 MP4 first (ffmpeg -i in.mkv -c:v libx264 out.mp4) and send that"

_TRANSPOSE = {
    90: Image.Transpose.ROTATE_90,  # the display matrix turns the picture counter-clockwise
    -90: Image.Transpose.ROTATE_270,
    270: Image.Transpose.ROTATE_270,
    180: Image.Transpose.ROTATE_180,
    -180: Image.Transpose.ROTATE_180,
}


def timestamp(seconds: float) -> str:
    """`"00:01:05"` for 65 s; milliseconds are added when the time is not a whole second."""
    millis = max(0, round(seconds * 1000))
    whole, ms = divmod(millis, 1000)
    hours, rest = divmod(whole, 3600)
    text = f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{text}.{ms:03d}" if ms else text


@dataclass(frozen=True)
class Frame(Rendered):
    """One sampled frame: when it shows, and the JPEG bytes as sent."""

    time: float
    """Seconds from the start of the video."""
    width: int
    height: int
    data: bytes = field(repr=False)
    note: str
    """How it was sampled and scaled, in words."""
    source: str = "video"
    mime_type: str = "image/jpeg"

    @property
    def label(self) -> str:
        """The text part sent before the frame: its timestamp, "00:01:05"."""
        return timestamp(self.time)

    def _origin(self) -> tuple[str, tuple[str, ...], str]:
        return "video", (self.note,), f"{self.source} at {self.label}"


@dataclass(frozen=True)
class _Plan:
    times: list[float]
    """Seconds from the start at which to take a frame."""
    note: str
    duration: float | None = None
    """How long the file says the video lasts."""


def _plan(duration: float | None, fps: float, max_frames: int) -> _Plan:
    rate = f"{fps:g} a second"
    if duration is None:
        times = [i / fps for i in range(max_frames)]
        return _Plan(times, f"sampled at {rate} (the length is not recorded; at most {max_frames})")
    wanted = max(1, math.ceil(duration * fps - 1e-9))
    if wanted <= max_frames:
        return _Plan([i / fps for i in range(wanted)], f"sampled at {rate}", duration)
    step = duration / max_frames
    return _Plan(
        [i * step for i in range(max_frames)],
        f"sampled {max_frames} frames evenly, one every {step:.2f} s over {timestamp(duration)} "
        f"(at {rate} there would be {wanted}; raise {_FRAMES_FIX} for more)",
        duration,
    )


def _open(av: Any, video: bytes | str | os.PathLike[str], source: str) -> Any:
    target = io.BytesIO(video) if isinstance(video, bytes | bytearray) else os.fspath(video)
    try:
        return av.open(target, mode="r")
    except av.error.FFmpegError as exc:
        if isinstance(exc, OSError) and not isinstance(exc, av.error.InvalidDataError):
            raise DocumentError(
                f"Cannot read the file: {exc.strerror or exc}.", source=source
            ) from None
        raise CorruptDocumentError(
            f"The file is damaged or not a video FFmpeg can read ({exc.strerror or exc}); "
            f"{_CONVERT}.",
            source=source,
        ) from None
    except OSError as exc:
        raise DocumentError(
            f"Cannot read the file: {exc.strerror or exc}.", source=source
        ) from None


def _duration(container: Any, stream: Any) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / 1_000_000  # AV_TIME_BASE
    return None


def _display_size(stream: Any, frame: Any) -> tuple[int, int]:
    """(width, height) as shown: square pixels, before any rotation."""
    width, height = frame.width, frame.height
    aspect = stream.sample_aspect_ratio
    if aspect and Fraction(aspect) != 1:
        width = max(1, round(width * Fraction(aspect)))
    return width, height


def _picture(stream: Any, frame: Any, side: int) -> tuple[Image.Image, str]:
    """The frame scaled so its longer side is at most `side`, turned upright."""
    width, height = _display_size(stream, frame)
    scale = min(1.0, side / max(width, height))
    out_w, out_h = max(1, round(width * scale)), max(1, round(height * scale))
    # swscale resizes and converts to RGB in one pass, straight from the decoder's planes.
    rgb = frame.reformat(width=out_w, height=out_h, format="rgb24", interpolation="AREA")
    image = rgb.to_image()
    rotation = round(getattr(frame, "rotation", 0) or 0)
    turned = ""
    if rotation in _TRANSPOSE:
        image = image.transpose(_TRANSPOSE[rotation])
        turned = f", turned upright ({abs(rotation)}° {'counter-clockwise' if rotation > 0 else 'clockwise'} by its display matrix)"
    scaled = "" if scale == 1.0 else f", scaled {width}x{height} -> {out_w}x{out_h}"
    return image, f"{scaled}{turned}"


def _keyframes(stream: Any) -> list[int]:
    try:
        entries = stream.index_entries
    except AttributeError:  # PyAV before 15: no index; decode in order
        return []
    return sorted(entry.timestamp for entry in entries if entry.is_keyframe)


def _decoded(container: Any, stream: Any, source: str) -> Iterator[Any]:
    av = require("av", "Video frames")
    try:
        yield from container.decode(stream)
    except av.error.DecoderNotFoundError:
        raise UnsupportedDocumentError(
            f"This video's codec cannot be decoded by the FFmpeg PyAV ships; {_CONVERT}.",
            source=source,
        ) from None
    except av.error.FFmpegError as exc:
        raise CorruptDocumentError(
            f"The video is damaged ({exc.strerror or exc}); {_CONVERT}.", source=source
        ) from None


def sample_frames(
    video: bytes | str | os.PathLike[str],
    *,
    fps: float | None = None,
    max_frames: int | None = None,
    model: str | None = None,
    backend: str | None = None,
    policy: ImagePolicy | None = None,
    max_bytes: int | None = None,
    source: str = "video",
) -> list[Frame]:
    """Frames of `video` (bytes or a path) every 1/`fps` seconds, upright, as JPEGs.

    Args:
        fps: frames a second; default `policy.video_fps` (1.0, Gemini's own rate).
        max_frames: at most this many; default `policy.video_max_frames`. A longer video is
            sampled evenly over its whole length instead, and each frame's note says so.
        model, backend: who reads the frames; frames are scaled to the size that family
            bills least for (`sizing.frame_side`), never enlarged.
        max_bytes: what the frames may take of the request, as data URLs; default
            `policy.max_request_bytes`. Past it the video is refused, naming --max-frames.
        source: the video's name in messages.

    Raises CorruptDocumentError (unreadable), UnsupportedDocumentError (no decoder for its
    codec), EmptyDocumentError (no video stream, no frame), RequestTooLargeError.
    """
    av = require("av", "Video frames")
    policy = policy or DEFAULT_POLICY
    fps, max_frames = _rates(policy, fps, max_frames)
    budget = policy.max_request_bytes if max_bytes is None else max_bytes
    side = frame_side(family_cost(model, backend))
    with _opened(av, video, source) as (container, stream):
        plan = _plan(_duration(container, stream), float(fps), max_frames)
        frames = _sample(container, stream, plan, side, budget, source)
    if not frames:
        raise EmptyDocumentError(f"No frame could be decoded; {_CONVERT}.", source=source)
    return frames


def _rates(policy: ImagePolicy, fps: float | None, max_frames: int | None) -> tuple[float, int]:
    fps = policy.video_fps if fps is None else fps
    max_frames = policy.video_max_frames if max_frames is None else max_frames
    if not (isinstance(fps, int | float) and 0 < fps <= 30) or max_frames < 1:
        raise DocumentError(
            f"fps must be above 0 and at most 30, and max_frames at least 1; got fps={fps!r}, "
            f"max_frames={max_frames!r} ({_FRAMES_FIX})."
        )
    return float(fps), max_frames


@contextmanager
def _opened(
    av: Any, video: bytes | str | os.PathLike[str], source: str
) -> Iterator[tuple[Any, Any]]:
    """The open container and its first video stream, checked; closed on leaving."""
    if isinstance(video, bytes | bytearray) and not video:
        raise EmptyDocumentError("The file is empty (0 bytes).", source=source)
    container = _open(av, video, source)
    with container:
        if not container.streams.video:
            raise EmptyDocumentError(
                "The file holds no video stream (only audio or subtitles); there are no frames "
                "to send.",
                source=source,
            )
        stream = container.streams.video[0]
        if stream.codec_context is None:
            raise UnsupportedDocumentError(
                f"Its video codec is not one the FFmpeg PyAV ships can decode; {_CONVERT}.",
                source=source,
            )
        stream.thread_type = "AUTO"  # frame and slice threads: ~2x on two cores
        yield container, stream


@dataclass(frozen=True)
class FramePlan:
    """How many frames `sample_frames` would take and their size, found without sampling."""

    count: int
    """Frames planned (at most; a video whose own rate is lower gives fewer)."""
    width: int
    height: int
    note: str


def frame_plan(
    video: bytes | str | os.PathLike[str],
    *,
    fps: float | None = None,
    max_frames: int | None = None,
    model: str | None = None,
    backend: str | None = None,
    policy: ImagePolicy | None = None,
    source: str = "video",
) -> FramePlan:
    """What an estimate needs: the frame count and size, from the header and one decoded
    frame (for its rotation), never the whole video. Raises as `sample_frames` does."""
    av = require("av", "Video frames")
    policy = policy or DEFAULT_POLICY
    fps, max_frames = _rates(policy, fps, max_frames)
    side = frame_side(family_cost(model, backend))
    with _opened(av, video, source) as (container, stream):
        plan = _plan(_duration(container, stream), fps, max_frames)
        first = next(_decoded(container, stream, source), None)
        if first is None:
            raise EmptyDocumentError(f"No frame could be decoded; {_CONVERT}.", source=source)
        width, height = _display_size(stream, first)
        scale = min(1.0, side / max(width, height))
        width, height = max(1, round(width * scale)), max(1, round(height * scale))
        if round(abs(getattr(first, "rotation", 0) or 0)) == 90:
            width, height = height, width
    count = len(plan.times)
    if stream.frames:
        count = min(count, stream.frames)
    return FramePlan(count, width, height, plan.note)


def _sample(
    container: Any, stream: Any, plan: _Plan, side: int, budget: int, source: str
) -> list[Frame]:
    """Take the frame showing at each planned time, seeking past stretches between them."""
    av = require("av", "Video frames")
    base = stream.time_base or Fraction(1, 1_000_000)
    start = stream.start_time or 0
    keyframes = _keyframes(stream)
    rate = stream.average_rate or stream.guessed_rate
    half_frame = 0.5 / float(rate) if rate else 0.0
    frames: list[Frame] = []
    used = 0
    decoded: Iterator[Any] | None = None
    current: Any = None  # the frame last decoded, not yet behind the next planned time
    position = -math.inf  # its timestamp, in the stream's time base
    taken: int | None = None
    seen = 0
    for when in plan.times:
        goal = start + when / base
        # The keyframe at or before this sample; seek there when it is past what was decoded.
        at = bisect.bisect_right(keyframes, goal) - 1
        if decoded is None:
            decoded = _decoded(container, stream, source)
        elif at >= 0 and keyframes[at] > position and keyframes[at] > start:
            try:
                container.seek(int(goal), stream=stream, backward=True, any_frame=False)
            except av.error.FFmpegError:
                keyframes = []  # not seekable after all: decode on, in order
            else:
                decoded, current = _decoded(container, stream, source), None
        while current is None or _seconds(current, start, base, seen, rate) + half_frame < when:
            current = next(decoded, None)
            if current is None:
                _check_complete(plan, when, frames, source)
                return frames  # the video ended before this planned time
            seen += 1
            position = current.pts if current.pts is not None else position
        if taken is not None and current.pts == taken:
            continue  # the video's own rate is below fps: this frame already stands here
        taken = current.pts
        picture, how = _picture(stream, current, side)
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=_JPEG_QUALITY)
        data = out.getvalue()
        used += len("data:image/jpeg;base64,") + 4 * math.ceil(len(data) / 3)
        if used > budget:
            raise RequestTooLargeError(
                f"{len(plan.times):,} frames do not fit the {budget:,}-byte request "
                f"budget: the first {len(frames) + 1:,} already take {used:,} bytes. Take fewer "
                f"({_FRAMES_FIX}), or cut the video.",
                source=source,
                limit=budget,
                actual=used,
            )
        seconds = _seconds(current, start, base, seen, rate)
        frames.append(
            Frame(
                time=seconds,
                width=picture.width,
                height=picture.height,
                data=data,
                note=f"frame at {timestamp(seconds)} of {source}, {plan.note}{how}; "
                f"JPEG (quality {_JPEG_QUALITY}), {len(data):,} bytes",
                source=source,
            )
        )
    return frames


def _check_complete(plan: _Plan, when: float, frames: list[Frame], source: str) -> None:
    """Refuse a video that stops well before the length its file records: a cut-off file
    would otherwise lose its end without a word."""
    # A second of slack: the recorded length may run a frame or two past the last picture.
    if plan.duration is None or when > plan.duration - 1.0:
        return
    ended = timestamp(frames[-1].time) if frames else "its start"
    raise CorruptDocumentError(
        f"The video stops at {ended} though it says it lasts {timestamp(plan.duration)}: the "
        "file is cut off or damaged. Send the whole file, or cut it to what plays "
        "(ffmpeg -i in.mp4 -t 00:00:30 -c copy out.mp4) and send that.",
        source=source,
    )


def _seconds(frame: Any, start: int, base: Fraction, seen: int, rate: Any) -> float:
    """When `frame` shows, in seconds from the start (counted from the rate without a pts)."""
    if frame.pts is not None:
        return float((frame.pts - start) * base)
    return (seen - 1) / float(rate) if rate else 0.0
