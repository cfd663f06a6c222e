"""A Blob gives the same bytes whether read whole or by head, tail and range, from any source."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openai_gemini_vision import CorruptImageError, ImageError
from openai_gemini_vision.images.blob import (
    Blob,
    DataURLBlob,
    FileBlob,
    MemoryBlob,
    parse_data_url,
    read_file,
)


def _wrapped(payload: str, width: int) -> str:
    return "\n".join(payload[i : i + width] for i in range(0, len(payload), width))


def _check(blob: Blob, data: bytes, length: int, offset: int) -> None:
    assert blob.head(length) == data[:length]
    assert blob.tail(length) == (data[-length:] if length else b"")
    assert blob.read_at(offset, length) == data[offset : offset + length]
    assert blob.exact_size() == len(data)
    assert blob.all() == data


@given(data=st.binary(max_size=600), length=st.integers(0, 700), offset=st.integers(0, 700))
def test_memory_and_data_url_blobs_agree_with_the_bytes(
    data: bytes, length: int, offset: int
) -> None:
    """Head, tail, ranges, size and all bytes are those of the input, strict or wrapped base64."""
    payload = base64.b64encode(data).decode()
    _check(MemoryBlob(data), data, length, offset)
    _check(DataURLBlob(f"data:image/png;base64,{payload}"), data, length, offset)
    _check(DataURLBlob(f"data:image/png;base64,{_wrapped(payload, 76)}"), data, length, offset)
    _check(DataURLBlob(f"DATA:image/png;BASE64,{payload.rstrip('=')}"), data, length, offset)


@given(data=st.binary(max_size=600), length=st.integers(0, 700), offset=st.integers(0, 700))
def test_a_file_blob_agrees_with_the_file(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, length: int, offset: int
) -> None:
    """A file read by range gives the bytes the whole file holds."""
    path = tmp_path_factory.mktemp("blob") / "image.bin"
    path.write_bytes(data)
    with FileBlob(path) as blob:
        assert blob.size == len(data)
        _check(blob, data, length, offset)


def test_a_strict_data_url_decodes_its_head_and_tail_alone() -> None:
    """The head and tail of a long strict payload come without decoding the middle."""
    data = bytes(range(256)) * 4000
    blob = DataURLBlob("data:image/png;base64," + base64.b64encode(data).decode())
    assert blob.head(100) == data[:100]
    assert blob.tail(100) == data[-100:]
    assert not blob.complete
    assert blob.size == len(data)


def test_a_data_url_that_only_looks_base64_is_refused_when_read() -> None:
    """Malformed base64 raises CorruptImageError naming the payload's length and the fix."""
    blob = DataURLBlob("data:image/png;base64,@@@@")
    with pytest.raises(CorruptImageError, match=r"base64 payload \(4 characters\) is malformed"):
        blob.all()


def test_percent_encoded_data_urls_are_read_too() -> None:
    """A data URL without ;base64 carries its bytes percent-encoded."""
    assert parse_data_url("data:text/plain,a%20b") == ("text/plain", b"a b")
    assert DataURLBlob("data:,a%20b").all() == b"a b"


def test_a_missing_file_names_the_path_and_where_it_was_looked_for(tmp_path: Path) -> None:
    """Reading a file that is not there says so, naming the path as the error's source."""
    with pytest.raises(ImageError, match="No such file") as caught:
        read_file(tmp_path / "nope.png")
    assert caught.value.source == str(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="It is a folder"):
        FileBlob(tmp_path)
