"""What does checking every PNG chunk's CRC (the pixel data's too) cost a passthrough?

Sending a 12 MP PNG as it is reads it, checks its chunks and base64-encodes it: workload
1 of bench/run.py. Checking the IDAT chunks' CRCs runs CRC-32 over nearly every byte, so
its cost is set against that base64 time. Timed here for each CRC-32 implementation that
is installed: the standard library's zlib, and the wheels of ISA-L (`isal`), zlib-ng
(`zlib-ng`) and libdeflate (`deflate`); on the photo as Pillow writes it (64 kB IDAT
chunks) and rewritten in libpng's 8 kB chunks (per-chunk overhead), for sending
(`load_image(...).data_url`) and for the offline estimate, which reads the file too.

    python bench/bench_png_crc.py            # writes bench/out/photos/ on first run
    python bench/bench_png_crc.py --runs 31
"""

from __future__ import annotations

import argparse
import importlib
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

from anchors import naive
from photos import OUT, photo_file
from report import Row, mb, ms, ratio, show
from timing import medians

from openai_gemini_vision import ImagePolicy, estimate_tokens, load_image
from openai_gemini_vision.images import sniff

__all__ = ["crc_rows", "main"]

Crc = Callable[[bytes], int]

# The 19.6 MB PNG is over the 20 MB request budget once in base64: the estimate would
# price it shrunk (a decode). A larger budget keeps it a passthrough, read and checked.
ROOMY = ImagePolicy(max_request_bytes=40_000_000)

#: (label, module, attribute): the CRC-32 functions compared, where installed.
CANDIDATES = [
    ("zlib (stdlib)", "zlib", "crc32"),
    ("isal", "isal.isal_zlib", "crc32"),
    ("zlib-ng", "zlib_ng.zlib_ng", "crc32"),
    ("deflate (libdeflate)", "deflate", "crc32"),
]


def _installed() -> dict[str, Crc]:
    found: dict[str, Crc] = {}
    for label, module, name in CANDIDATES:
        try:
            found[label] = getattr(importlib.import_module(module), name)
        except ImportError:
            continue
    return found


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, body) of every chunk of a PNG."""
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        chunks.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return chunks


def rechunked(path: Path, size: int) -> Path:
    """The same PNG with its image data cut into IDAT chunks of `size` bytes (libpng: 8 kB)."""
    out = OUT / f"{path.stem}_idat{size // 1024}k.png"
    if out.exists():
        return out
    chunks = _chunks(path.read_bytes())
    pixels = b"".join(body for kind, body in chunks if kind == b"IDAT")
    head = [c for c in chunks if c[0] not in {b"IDAT", b"IEND"}]
    body = head + [(b"IDAT", pixels[i : i + size]) for i in range(0, len(pixels), size)]
    body.append((b"IEND", b""))
    blob = b"\x89PNG\r\n\x1a\n" + b"".join(
        struct.pack(">I", len(b)) + k + b + struct.pack(">I", zlib.crc32(k + b)) for k, b in body
    )
    out.write_bytes(blob)
    return out


def _with_crc(crc: Crc, call: Callable[[], object]) -> Callable[[], object]:
    def run() -> object:
        chosen = sniff.crc32
        sniff.crc32 = crc
        try:
            return call()
        finally:
            sniff.crc32 = chosen

    return run


def _crc_only(crc: Crc, path: Path) -> Callable[[], object]:
    chunks = [kind + body for kind, body in _chunks(path.read_bytes())]
    return lambda: [crc(chunk) for chunk in chunks]


def crc_rows(runs: int) -> list[Row]:
    """Each CRC-32 over every chunk, and sending / estimating with it, beside naive base64."""
    photo = photo_file("PNG")
    rows = []
    crcs = _installed()
    for path in (photo, rechunked(photo, 8192)):
        label = "64 kB" if path == photo else "8 kB"
        workload = f"PNG 4000x3000 ({mb(path.stat().st_size)}), {label} IDAT chunks"
        messages = [{"role": "user", "content": [path]}]
        recipes: dict[str, Callable[[], object]] = {"naive": lambda p=path: naive(p)}
        for name, crc in crcs.items():
            recipes[f"crc {name}"] = _crc_only(crc, path)
            recipes[f"send {name}"] = _with_crc(crc, lambda p=path: len(load_image(p).data_url))
            recipes[f"estimate {name}"] = _with_crc(
                crc, lambda m=messages: estimate_tokens(m, "gemini-2.5-flash", policy=ROOMY)
            )
        timed = medians(runs, recipes)
        base = timed["naive"]
        for name in crcs:
            rows.append(
                Row(
                    workload,
                    f"{name}: CRC {ms(timed[f'crc {name}'])}, send {ms(timed[f'send {name}'])}, "
                    f"estimate {ms(timed[f'estimate {name}'])}",
                    f"naive base64: {ms(base)}",
                    ratio(timed[f"send {name}"], base),
                )
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args(argv)
    return show(crc_rows(args.runs))


if __name__ == "__main__":
    raise SystemExit(main())
