"""Video as frames: sampling rate and cap, the right frame at each time however keyframes
fall, upright frames, size per family, and unreadable, codec-less and audio-only files."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import av
import pytest
from PIL import Image

from openai_gemini_vision.documents import frame_plan, is_video, sample_frames, timestamp
from openai_gemini_vision.errors import (
    CorruptDocumentError,
    DocumentError,
    EmptyDocumentError,
    MissingDependencyError,
    RequestTooLargeError,
    UnsupportedDocumentError,
)
from openai_gemini_vision.policy import ImagePolicy

from .media import make_video, tagged_frame_width


@pytest.fixture(scope="module")
def clip() -> bytes:
    """Five seconds at 10 frames a second, 64x32, a keyframe every second."""
    return make_video(seconds=5, fps=10)


@pytest.fixture(scope="module")
def wide_sideways() -> bytes:
    """Five seconds of 800x450 stored sideways (a rotation tag of 90 degrees)."""
    return make_video(seconds=5, fps=10, size=(800, 450), rotation=90)


def _frame_numbers(frames: list) -> list[int]:  # type: ignore[type-arg]
    """Which source frame each sample is (frame n shows a bar n + 1 px wide)."""
    return [tagged_frame_width(f.image()) - 1 for f in frames]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "00:00:00"), (65, "00:01:05"), (3725.5, "01:02:05.500"), (0.25, "00:00:00.250")],
)
def test_timestamps_read_as_clock_times(seconds: float, text: str) -> None:
    """Labels are hours:minutes:seconds, with milliseconds only when not a whole second."""
    assert timestamp(seconds) == text


def test_one_frame_a_second_by_default_each_after_its_timestamp(clip: bytes) -> None:
    """Gemini's own rate: a 5-second clip gives the frames at 0, 1, 2, 3 and 4 s, labelled."""
    frames = sample_frames(clip, source="clip.mp4")
    assert [f.label for f in frames] == ["00:00:00", "00:00:01", "00:00:02", "00:00:03", "00:00:04"]
    assert _frame_numbers(frames) == [0, 10, 20, 30, 40]
    text, image = frames[1].parts()
    assert text == {"type": "text", "text": "00:00:01"}
    assert image["image_url"]["url"].startswith("data:image/jpeg;base64,")
    prepared = frames[1].prepared()
    assert prepared.source == "clip.mp4 at 00:00:01"
    assert "sampled at 1 a second" in prepared.changes[0]


@pytest.mark.parametrize("gop", [1, 3, 10, 25, 250], ids=lambda g: f"keyframe every {g}")
def test_the_frame_at_each_time_is_found_wherever_keyframes_fall(gop: int) -> None:
    """Seeking to keyframes or decoding through, every sample is the frame showing at its time."""
    data = make_video(seconds=5, fps=10, gop=gop)
    frames = sample_frames(data, fps=2)
    assert _frame_numbers(frames) == [0, 5, 10, 15, 20, 25, 30, 35, 40, 45]


def test_fps_and_the_policy_set_the_rate(clip: bytes) -> None:
    """fps=4 samples every quarter second; ImagePolicy(video_fps=...) is the default."""
    frames = sample_frames(clip, fps=4)
    assert len(frames) == 20
    assert frames[1].label == "00:00:00.200" or frames[1].label == "00:00:00.300"
    assert [f.label for f in sample_frames(clip, policy=ImagePolicy(video_fps=0.5))] == [
        "00:00:00",
        "00:00:02",
        "00:00:04",
    ]


def test_a_rate_above_the_videos_own_gives_each_frame_once(clip: bytes) -> None:
    """Asking 30 frames a second of a 10-a-second clip gives its 50 frames, none twice."""
    frames = sample_frames(clip, fps=30)
    assert _frame_numbers(frames) == list(range(50))


def test_a_long_video_is_spread_over_max_frames_and_says_so(clip: bytes) -> None:
    """With max_frames=3 the samples cover the whole clip, and the note names the cap."""
    frames = sample_frames(clip, max_frames=3)
    assert [f.label for f in frames] == ["00:00:00", "00:00:01.700", "00:00:03.300"]
    assert "3 frames evenly, one every 1.67 s" in frames[0].note
    assert "--max-frames" in frames[0].note
    assert len(sample_frames(clip, policy=ImagePolicy(video_max_frames=2))) == 2


@pytest.mark.parametrize(
    ("rotation", "size", "red_corner"),
    [(90, (32, 64), (2, 61)), (-90, (32, 64), (29, 2)), (180, (64, 32), (61, 29))],
)
def test_frames_are_turned_upright_by_the_display_matrix(
    rotation: int, size: tuple[int, int], red_corner: tuple[int, int]
) -> None:
    """A phone clip stored sideways comes out as it plays: turned by its rotation tag, the red
    square (stored top-left) where a player shows it."""
    data = make_video(seconds=1, rotation=rotation)
    (frame,) = sample_frames(data)
    with frame.image() as picture:
        assert picture.size == size
        red, green, _ = picture.convert("RGB").getpixel(red_corner)  # type: ignore[misc]
    assert red > 180
    assert green < 80
    assert "turned upright" in frame.note


@pytest.mark.parametrize(
    ("model", "size"),
    [
        ("gemini-2.5-flash", (768, 432)),
        ("gemini-3-flash", (768, 432)),
        ("gemini-2.0-flash", (384, 216)),
    ],
)
def test_frames_are_scaled_to_what_the_family_bills_least_for(
    model: str, size: tuple[int, int]
) -> None:
    """Frames go 768 px wide where size does not change the bill, 384 px (one tile) where
    it does; never enlarged."""
    data = make_video(seconds=1, size=(1280, 720), gop=1)
    (frame,) = sample_frames(data, model=model)
    assert (frame.width, frame.height) == size
    assert "scaled 1280x720 -> " in frame.note
    (small,) = sample_frames(make_video(seconds=1, size=(160, 96)), model=model)
    assert (small.width, small.height) == (160, 96)


@pytest.mark.parametrize(
    ("kwargs", "count"), [({}, 5), ({"fps": 4}, 20), ({"max_frames": 3}, 3), ({"fps": 30}, 50)]
)
def test_the_plan_for_an_estimate_matches_what_is_sampled(
    wide_sideways: bytes,
    kwargs: dict,
    count: int,  # type: ignore[type-arg]
) -> None:
    """`frame_plan` gives the count and size `sample_frames` delivers, from one decoded frame."""
    data = wide_sideways
    plan = frame_plan(data, model="gemini-2.0-flash", **kwargs)
    frames = sample_frames(data, model="gemini-2.0-flash", **kwargs)
    assert plan.count == len(frames) == count
    assert {(f.width, f.height) for f in frames} == {(plan.width, plan.height)} == {(216, 384)}


def test_a_webm_without_an_index_is_read_in_order() -> None:
    """VP8 in WebM, whose keyframes are not indexed up front, gives the same frames."""
    data = make_video(seconds=3, fps=10, codec="libvpx", container="webm")
    assert _frame_numbers(sample_frames(data)) == [0, 10, 20]


def test_a_video_file_path_is_read_from_disk(clip: bytes, tmp_path: Path) -> None:
    """A path is opened by FFmpeg itself, so a big file is not read into memory first."""
    path = tmp_path / "clip.mp4"
    path.write_bytes(clip)
    assert len(sample_frames(path)) == 5
    assert len(sample_frames(str(path))) == 5


# --- refusals --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"hello, this is not a video" * 4, make_video(seconds=2)[:600]],
    ids=["not a video", "cut short"],
)
def test_an_unreadable_video_is_refused_naming_a_fix(data: bytes) -> None:
    """Bytes FFmpeg cannot read are a CorruptDocumentError naming the file and a conversion."""
    with pytest.raises(
        CorruptDocumentError, match=r"clip\.mp4: The file is damaged.*ffmpeg -i"
    ) as info:
        sample_frames(data, source="clip.mp4")
    assert isinstance(info.value, ValueError)


def test_a_file_cut_off_after_its_index_is_refused_not_shortened(tmp_path: Path) -> None:
    """An MP4 with its index first ("faststart") that is cut short still opens; it is refused
    rather than quietly sampled up to the cut, naming where it stops and the length it claims."""
    path = tmp_path / "whole.mp4"
    with av.open(str(path), "w", options={"movflags": "faststart"}) as out:
        stream = out.add_stream("libx264", rate=10, options={"g": "10"})
        stream.width, stream.height, stream.pix_fmt = 64, 32, "yuv420p"
        for n in range(100):
            picture = Image.new("RGB", (64, 32), (n * 2, 0, 0))
            for packet in stream.encode(av.VideoFrame.from_image(picture)):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    whole = path.read_bytes()
    assert len(sample_frames(whole)) == 10
    with pytest.raises(
        CorruptDocumentError,
        match=r"cut\.mp4: The video stops at 00:00:0\d though it says it lasts 00:00:10",
    ):
        sample_frames(whole[: len(whole) // 2], source="cut.mp4")


def test_a_codec_without_a_decoder_is_refused_naming_a_conversion() -> None:
    """A stream whose codec FFmpeg has no decoder for is an UnsupportedDocumentError."""
    unknown = make_video(seconds=1).replace(b"avc1", b"zzzz")
    with pytest.raises(UnsupportedDocumentError, match=r"codec.*ffmpeg -i in\.mkv -c:v libx264"):
        sample_frames(unknown, source="odd.mp4")


def test_an_audio_only_file_has_no_frames() -> None:
    """A file with sound and no picture is an EmptyDocumentError."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="wav") as out:
        stream = out.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame(format="s16", layout="mono", samples=800)
        frame.planes[0].update(bytes(800 * 2))
        frame.sample_rate = 8000
        frame.pts = 0
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with pytest.raises(EmptyDocumentError, match="no video stream"):
        sample_frames(buf.getvalue(), source="talk.wav")


def test_an_empty_file_is_refused() -> None:
    """No bytes at all is an EmptyDocumentError."""
    with pytest.raises(EmptyDocumentError, match="0 bytes"):
        sample_frames(b"")


def test_frames_over_the_budget_are_refused_naming_max_frames(clip: bytes) -> None:
    """Frames past the request budget are refused as soon as they pass it, naming the flags."""
    with pytest.raises(
        RequestTooLargeError, match=r"5 frames do not fit .*--fps / --max-frames"
    ) as info:
        sample_frames(clip, max_bytes=2_000)
    assert info.value.limit == 2_000


@pytest.mark.parametrize(("fps", "max_frames"), [(0, 5), (31, 5), (1, 0)])
def test_impossible_rates_are_refused(clip: bytes, fps: float, max_frames: int) -> None:
    """A rate of 0 or above 30, or no frames at all, is refused naming the flags."""
    with pytest.raises(DocumentError, match="--fps / --max-frames"):
        sample_frames(clip, fps=fps, max_frames=max_frames)


def test_videos_are_told_from_their_first_bytes(clip: bytes) -> None:
    """MP4 and WebM are videos; HEIC (the same box format) and PNG are not."""
    assert is_video(clip)
    assert is_video(make_video(seconds=1, codec="libvpx", container="webm"))
    assert not is_video(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic")
    png = io.BytesIO()
    Image.new("RGB", (4, 4)).save(png, "PNG")
    assert not is_video(png.getvalue())


def test_without_the_documents_extra_the_error_names_the_install(
    clip: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With PyAV missing, sampling says which extra to install."""
    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(MissingDependencyError, match=r"\[documents\]"):
        sample_frames(clip)
