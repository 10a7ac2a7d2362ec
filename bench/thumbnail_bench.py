"""Thumbnail latency, in-process, side by side with Synapse's thumbnailer.

    .venv/bin/python -m bench.thumbnail_bench [--width 4000 --height 3000 --runs 3]

A photo-like JPEG (noise over a gradient, EXIF orientation 6) and an animated GIF
are generated. For each recommended size (32x32 crop ... 800x600 scale):

- conduwuit: ``Thumbnailer.thumbnail`` into an empty cache (first request: decode,
  resize, encode, fsync, rename), then the same request again (the cached answer);
- Synapse (when importable here, e.g. the ``crosscheck`` extra): its
  ``synapse.media.thumbnailer.Thumbnailer`` opening the file and producing the same
  size (what its upload path does once per size; it has no cached-answer
  counterpart in-process: it then reads the file through its storage).

Prints one JSON object: medians in milliseconds per size and for the animation.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from PIL import Image

from conduwuit.core.thumbnail_sizes import RECOMMENDED_BOXES
from conduwuit.service.media.thumbnail import Thumbnailer

BOXES = [(w, h, "crop" if w == h else "scale") for w, h in RECOMMENDED_BOXES]


def photo(width: int, height: int) -> bytes:
    noise = Image.effect_noise((width, height), 40).convert("RGB")
    gradient = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    image = Image.blend(noise, gradient, 0.6)
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, exif=exif.tobytes())
    return buffer.getvalue()


def animation(frames: int) -> bytes:
    images = [
        Image.effect_noise((480, 360), 20 + i).convert("P", palette=Image.Palette.ADAPTIVE)
        for i in range(frames)
    ]
    buffer = io.BytesIO()
    images[0].save(buffer, "GIF", save_all=True, append_images=images[1:], duration=60, loop=0)
    return buffer.getvalue()


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


async def conduwuit_side(source: Path, sha: str, runs: int, animated: bool) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    boxes = BOXES if not animated else [(320, 240, "scale")]
    for width, height, method in boxes:
        first: list[float] = []
        cached: list[float] = []
        for _ in range(runs):
            with tempfile.TemporaryDirectory() as cache:
                thumbnailer = Thumbnailer(Path(cache), max_pixels=100_000_000)
                try:
                    for timings in (first, cached, cached, cached):
                        started = time.perf_counter()
                        await thumbnailer.thumbnail(
                            source,
                            content_type="image/jpeg" if not animated else "image/gif",
                            sha256=sha,
                            width=width,
                            height=height,
                            method=method,  # type: ignore[arg-type]
                            animated=animated,
                        )
                        timings.append(time.perf_counter() - started)
                finally:
                    await thumbnailer.close()
        figures[f"{width}x{height}-{method}"] = {
            "first_ms": ms(statistics.median(first)),
            "cached_ms": ms(statistics.median(cached)),
        }
    return figures


def synapse_side(source: Path, runs: int, animated: bool) -> dict[str, Any] | None:
    try:
        from synapse.media.thumbnailer import Thumbnailer as SynapseThumbnailer
    except ImportError:
        return None
    figures: dict[str, Any] = {}
    boxes = BOXES if not animated else [(320, 240, "scale")]
    for width, height, method in boxes:
        timings: list[float] = []
        for _ in range(runs):
            started = time.perf_counter()
            with SynapseThumbnailer(str(source)) as thumbnailer:
                thumbnailer.transpose()
                if method == "crop":
                    thumbnailer.crop(width, height, "image/jpeg", animated=animated)
                else:
                    w, h = thumbnailer.aspect(width, height)
                    thumbnailer.scale(w, h, "image/jpeg", animated=animated)
            timings.append(time.perf_counter() - started)
        figures[f"{width}x{height}-{method}"] = {"first_ms": ms(statistics.median(timings))}
    return figures


async def run(
    width: int, height: int, runs: int, frames: int, *, synapse: bool = True
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as work:
        result: dict[str, Any] = {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "photo": f"{width}x{height} JPEG",
            "animation": f"480x360 GIF, {frames} frames",
            "runs": runs,
        }
        for name, data, animated in (
            ("photo", photo(width, height), False),
            ("animation", animation(frames), True),
        ):
            source = Path(work) / name
            source.write_bytes(data)
            sha = hashlib.sha256(data).hexdigest()
            result[f"conduwuit_{name}"] = await conduwuit_side(source, sha, runs, animated)
            theirs = synapse_side(source, runs, animated) if synapse else None
            if theirs is not None:
                result[f"synapse_{name}"] = theirs
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--width", type=int, default=4000)
    parser.add_argument("--height", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--frames", type=int, default=20)
    args = parser.parse_args()
    result = asyncio.run(run(args.width, args.height, max(1, args.runs), max(2, args.frames)))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
