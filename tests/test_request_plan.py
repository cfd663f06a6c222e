"""Estimating is sending without the send: one plan, the same images, sizes, bytes and refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageFile

from openai_gemini_vision import (
    CorruptImageError,
    ImagePolicy,
    estimate_tokens,
    prepare_messages,
)
from openai_gemini_vision.images import blob as blob_module

from .imaging import data_url, encode, image_bytes, photo

MODEL = "gemini-2.0-flash"  # a family whose price follows the size sent


def _noise(width: int, height: int) -> Image.Image:
    """A noisy RGB picture made in C (fast at any size); it compresses like a photo."""
    channels = [Image.effect_noise((width, height), 60 + 20 * band) for band in range(3)]
    return Image.merge("RGB", channels)


def _files(tmp_path: Path) -> list[Any]:
    """A mixed request: passthrough, rotated, converted, low detail, data URL, alpha."""
    plain = tmp_path / "plain.jpg"
    plain.write_bytes(image_bytes("JPEG", 120, 80))
    turned = tmp_path / "turned.jpg"
    turned.write_bytes(encode(photo(120, 80), "JPEG", orientation=6))
    animated = tmp_path / "anim.gif"
    frames = [photo(90, 60, seed=seed) for seed in range(3)]
    frames[0].save(animated, "GIF", save_all=True, append_images=frames[1:])
    alpha = tmp_path / "alpha.png"
    alpha.write_bytes(encode(photo(100, 70, mode="RGBA"), "PNG"))
    big = tmp_path / "big.png"
    big.write_bytes(image_bytes("PNG", 900, 500))
    return [
        plain,
        turned,
        animated,
        {"type": "image_url", "image_url": {"url": data_url(image_bytes("WEBP", 50, 40))}},
        alpha,
        {"type": "image_url", "image_url": {"url": data_url(big.read_bytes()), "detail": "low"}},
        Image.open(plain),
    ]


def _as_sent(images: list[Any]) -> list[tuple[Any, ...]]:
    return [(i.mime_type_as_sent, i.size, i.bytes_as_sent) for i in images]


def test_an_estimate_prices_exactly_what_sending_sends(tmp_path: Path) -> None:
    """Image by image, the estimate's type, size and bytes as sent are the prepared ones."""
    messages = [{"role": "user", "content": ["Compare these", *_files(tmp_path)]}]
    estimate = estimate_tokens(messages, MODEL)
    prepared = prepare_messages(messages, model=MODEL)
    sent = [(i.mime_type, (i.width, i.height), i.byte_size) for i in prepared.images]
    assert _as_sent(estimate.images) == sent
    assert estimate.per_image == prepared.estimate.per_image
    assert estimate.total_tokens == prepared.estimate.total_tokens
    assert [i.changes for i in estimate.images] == [i.changes for i in prepared.images]
    assert estimate.images[1].size == (80, 120)  # turned upright
    assert estimate.images[2].mime_type_as_sent == "image/png"  # the GIF, converted
    assert estimate.images[5].size == (384, 213)  # detail="low"


def test_when_the_budget_forces_shrinking_the_estimate_shrinks_too_and_says_so() -> None:
    """Over max_request_bytes, the estimate prices the shrunk images sending would send."""
    policy = ImagePolicy(max_request_bytes=700_000)
    content = [encode(_noise(640, 480), "PNG"), encode(_noise(600, 400), "PNG")]
    messages = [{"role": "user", "content": ["Two photos", *content]}]
    estimate = estimate_tokens(messages, MODEL, policy=policy)
    prepared = prepare_messages(messages, model=MODEL, policy=policy)
    assert prepared.request_bytes <= 700_000
    sent = [(i.mime_type, (i.width, i.height), i.byte_size) for i in prepared.images]
    assert _as_sent(estimate.images) == sent
    assert all("request budget" in image.changes[-1] for image in prepared.images)
    assert any("shrunk as sending shrinks them" in note for note in estimate.notes)
    assert estimate.per_image == prepared.estimate.per_image


def test_a_passthrough_image_is_estimated_from_its_head_and_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A JPEG that goes as it is is neither decoded nor read whole to be estimated."""
    path = tmp_path / "photo.jpg"
    path.write_bytes(encode(_noise(1200, 900), "JPEG", quality=95))
    size = path.stat().st_size
    read: list[int] = []
    real_pread = blob_module.os.pread

    def counting_pread(fd: int, length: int, offset: int) -> bytes:
        data = real_pread(fd, length, offset)
        read.append(len(data))
        return data

    def no_decoding(self: ImageFile.ImageFile) -> Any:
        raise AssertionError(f"{self.format} image decoded")

    monkeypatch.setattr(blob_module.os, "pread", counting_pread)
    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    monkeypatch.setattr(blob_module.FileBlob, "all", lambda self: pytest.fail("read whole"))
    estimate = estimate_tokens([{"role": "user", "content": [path]}], MODEL)
    assert estimate.images[0].bytes_as_sent == size
    assert estimate.images[0].size == (1200, 900)
    # Its first kilobyte (is it a PDF or a video?), the head once (the header probe and
    # the completeness check share it), then the last 4 kB (the end marker).
    assert sum(read) <= 1024 + blob_module.HEAD_BYTES + 4096 < size / 2


@pytest.mark.parametrize("trailing", [10_000, 100_000])
def test_a_jpeg_with_bytes_after_its_end_marker_is_estimated_as_sent(
    tmp_path: Path, trailing: int
) -> None:
    """Bytes a camera or editor appends after the end marker do not make a JPEG broken,
    however far the marker is from the end: the estimate and sending both take it as is."""
    path = tmp_path / "appended.jpg"
    path.write_bytes(encode(_noise(600, 400), "JPEG") + b"\x00" * trailing)
    messages = [{"role": "user", "content": [path]}]
    estimate = estimate_tokens(messages, MODEL)
    prepared = prepare_messages(messages)
    assert estimate.images[0].changes == prepared.images[0].changes == ()
    assert estimate.images[0].bytes_as_sent == prepared.images[0].byte_size == path.stat().st_size


def test_a_half_copied_file_is_refused_by_both_in_the_same_words(tmp_path: Path) -> None:
    """A JPEG cut short is refused by the estimate exactly as sending refuses it."""
    whole = encode(photo(400, 300), "JPEG")
    path = tmp_path / "half.jpg"
    path.write_bytes(whole[: len(whole) // 2])
    messages = [{"role": "user", "content": [path]}]
    with pytest.raises(CorruptImageError) as estimated:
        estimate_tokens(messages, MODEL)
    with pytest.raises(CorruptImageError) as sent:
        prepare_messages(messages)
    assert str(estimated.value) == str(sent.value)
    assert "end-of-image marker is missing" in str(sent.value)
    assert estimated.value.source == str(path)


def test_a_data_url_with_line_breaks_is_estimated_as_sent() -> None:
    """A data URL whose base64 is wrapped at 76 columns is decoded leniently by both."""
    data = image_bytes("JPEG", 200, 150)
    url = data_url(data, "image/jpeg")
    head, payload = url.split(",", 1)
    wrapped = head + "," + "\n".join(payload[i : i + 76] for i in range(0, len(payload), 76))
    messages = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": wrapped}}]}]
    estimate = estimate_tokens(messages, MODEL)
    prepared = prepare_messages(messages)
    assert estimate.images[0].size == (200, 150)
    assert prepared.images[0].data == data
