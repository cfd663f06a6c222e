"""Time and peak memory of turning documents into images: a 20-page PDF, a 60-second 1080p video.

Each figure comes from a fresh child process (peak resident memory is Linux's VmHWM, as in
bench_memory.py), which also reports its peak after imports, so the share of the
interpreter and libraries shows.

- `pdf`: `render_pages` on 20 dense letter pages of vector text (60 lines of 10-pt
  Helvetica each), for Gemini 2.5 (150 DPI) and Gemini 2.0 (140 DPI).
- `video`: `sample_frames` at 1 frame a second on 60 s of 1920x1080 H.264 at 30 frames a
  second, with a keyframe every second (what phones write) and every 250 frames
  (x264's default), against decoding every frame and keeping the sampled ones (the
  plain PyAV loop), to show where seeking pays.

    python bench/bench_documents.py             # writes the two videos first (~1 min)
    python bench/bench_documents.py --runs 5
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(tempfile.gettempdir()) / "ogv-bench-documents"
GOPS = (30, 250)
SECONDS, FPS, SIZE = 60, 30, (1920, 1080)

__all__ = ["main"]


def _peak_rss() -> int:
    """Peak resident memory of this process so far (VmHWM), in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status: this benchmark needs Linux")


def _media() -> Any:
    sys.path.insert(0, str(ROOT / "tests"))
    import media  # type: ignore[import-not-found] # found via the line above

    return media


def _pdf_path() -> Path:
    path = CACHE / "twenty-pages.pdf"
    if not path.exists():
        lines = "The quick brown fox jumps over the lazy dog; 0123456789 and some more words"
        pages = [[f"{n}.{i} {lines}" for i in range(60)] for n in range(1, 21)]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_media().make_pdf(pages))
    return path


def _video_path(gop: int) -> Path:
    """60 s of 1080p: a textured background with a moving block, so frames differ and
    compress like a real scene rather than a flat colour."""
    path = CACHE / f"sixty-seconds-1080p-gop{gop}.mp4"
    if path.exists():
        return path
    import av
    from PIL import Image, ImageDraw, ImageFilter

    path.parent.mkdir(parents=True, exist_ok=True)
    base = Image.effect_noise(SIZE, 64).convert("RGB").filter(ImageFilter.GaussianBlur(2))
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS, options={"g": str(gop), "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        for n in range(SECONDS * FPS):
            picture = base.copy()
            x = (n * 12) % (SIZE[0] - 200)
            ImageDraw.Draw(picture).rectangle((x, 400, x + 200, 600), fill=(220, 40, 40))
            for packet in stream.encode(av.VideoFrame.from_image(picture)):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def _decode_all(path: Path) -> int:
    """The plain PyAV loop: decode every frame, keep one a second as a 768 px JPEG."""
    import av

    kept = 0
    next_time = 0.0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            if frame.time is not None and frame.time + 1e-6 >= next_time:
                picture = frame.reformat(width=768, height=432, format="rgb24").to_image()
                picture.save(io.BytesIO(), "JPEG", quality=85)
                kept += 1
                next_time += 1.0
    return kept


def _child(recipe: str, argument: str) -> None:
    """Run one recipe once and print its figures as JSON."""
    from openai_gemini_vision.documents import render_pages, sample_frames

    imports = _peak_rss()
    start = time.perf_counter()
    if recipe == "pdf":
        pages = render_pages(Path(argument).read_bytes(), model="gemini-2.5-flash")
        size = sum(len(p.data) for p in pages)
        count = len(pages)
    elif recipe == "pdf-2.0":
        pages = render_pages(Path(argument).read_bytes(), model="gemini-2.0-flash")
        size = sum(len(p.data) for p in pages)
        count = len(pages)
    elif recipe == "video":
        frames = sample_frames(argument, model="gemini-2.5-flash")
        size = sum(len(f.data) for f in frames)
        count = len(frames)
    else:
        count, size = _decode_all(Path(argument)), 0
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "imports": imports,
                "peak": _peak_rss(),
                "seconds": seconds,
                "count": count,
                "bytes": size,
            }
        )
    )


def _measure(recipe: str, argument: str, runs: int) -> dict[str, float]:
    results = []
    for _ in range(runs):
        done = subprocess.run(  # noqa: S603 - our own interpreter and script
            [sys.executable, __file__, "--child", recipe, argument],
            capture_output=True,
            text=True,
            check=True,
        )
        results.append(json.loads(done.stdout.splitlines()[-1]))
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


def main() -> None:
    """Measure every recipe and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("RECIPE", "ARGUMENT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    pdf = str(_pdf_path())
    rows = [
        ("20-page PDF, Gemini 2.5 (150 DPI)", "pdf", pdf),
        ("20-page PDF, Gemini 2.0 (140 DPI)", "pdf-2.0", pdf),
    ]
    for gop in GOPS:
        video = str(_video_path(gop))
        rows.append((f"60 s 1080p, keyframe every {gop} frames: ours", "video", video))
        rows.append((f"60 s 1080p, keyframe every {gop} frames: decode all", "all", video))
    print("| workload | time | peak memory (after imports) | images | bytes |")
    print("|---|---|---|---|---|")
    for title, recipe, argument in rows:
        got = _measure(recipe, argument, args.runs)
        print(
            f"| {title} | {got['seconds']:.2f} s | {got['peak'] / 1e6:.0f} MB "
            f"({got['imports'] / 1e6:.0f} MB) | {got['count']:.0f} | {got['bytes']:,.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
