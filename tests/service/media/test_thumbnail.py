"""The thumbnailer on real images made with Pillow, cached in a temporary directory."""

from __future__ import annotations

import asyncio
import hashlib
import io
import random
import resource
import struct
import time
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image, ImageFile, ImageSequence

from conduwuit.service.media.thumbnail import (
    ImageTooLarge,
    NotThumbnailable,
    Thumbnailer,
    probe,
)

MAX_PIXELS = 32_000_000


@pytest.fixture
async def thumbnailer(tmp_path: Path) -> AsyncIterator[Thumbnailer]:
    thumbnailer = Thumbnailer(tmp_path / "thumbnails", max_pixels=MAX_PIXELS)
    yield thumbnailer
    await thumbnailer.close()


def store(tmp_path: Path, data: bytes, name: str = "original") -> tuple[Path, str]:
    path = tmp_path / name
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def gradient(width: int, height: int, mode: str = "RGB") -> Image.Image:
    image = Image.new(mode, (width, height))
    image.putdata(
        [
            (x * 255 // width, y * 255 // height, 128, 200)[: len(mode)]
            for y in range(height)
            for x in range(width)
        ]
    )
    return image


def animation(frames: int, size: tuple[int, int] = (120, 90)) -> bytes:
    images = [Image.new("RGB", size, (i * 40 % 256, 255 - i * 40 % 256, 0)) for i in range(frames)]
    return encode(images[0], "GIF", save_all=True, append_images=images[1:], duration=80, loop=0)


def decode(path: Path) -> Image.Image:
    image = Image.open(io.BytesIO(path.read_bytes()))
    image.load()
    return image


async def test_jpeg_scale_is_jpeg_within_the_box(tmp_path: Path, thumbnailer: Thumbnailer) -> None:
    path, sha = store(tmp_path, encode(gradient(1200, 900), "JPEG"))
    thumb = await thumbnailer.thumbnail(
        path, content_type="image/jpeg", sha256=sha, width=300, height=200, method="scale"
    )
    assert thumb.content_type == "image/jpeg" and not thumb.original
    image = decode(thumb.path)
    assert image.format == "JPEG" and image.mode == "RGB"
    assert image.size == (320, 240) == (thumb.width, thumb.height)


async def test_crop_is_centred_and_exact(tmp_path: Path, thumbnailer: Thumbnailer) -> None:
    # Left third red, middle third green, right third blue: a centred square crop is green.
    image = Image.new("RGB", (300, 100), (255, 0, 0))
    image.paste((0, 255, 0), (100, 0, 200, 100))
    image.paste((0, 0, 255), (200, 0, 300, 100))
    path, sha = store(tmp_path, encode(image, "PNG"))
    thumb = await thumbnailer.thumbnail(
        path, content_type="image/png", sha256=sha, width=96, height=96, method="crop"
    )
    out = decode(thumb.path)
    # A PNG original (without alpha) gets a PNG thumbnail, as in Synapse.
    assert out.size == (96, 96) and thumb.content_type == "image/png"
    r, g, b = out.convert("RGB").getpixel((48, 48))  # type: ignore[misc]
    assert g > 200 and r < 60 and b < 60
    for corner in ((2, 2), (93, 93)):
        r, g, b = out.convert("RGB").getpixel(corner)  # type: ignore[misc]
        assert g > 150, "the crop must be the centre only"


async def test_png_with_alpha_stays_png_with_alpha(
    tmp_path: Path, thumbnailer: Thumbnailer
) -> None:
    path, sha = store(tmp_path, encode(gradient(400, 400, "RGBA"), "PNG"))
    thumb = await thumbnailer.thumbnail(
        path, content_type="image/png", sha256=sha, width=32, height=32, method="crop"
    )
    image = decode(thumb.path)
    assert thumb.content_type == "image/png"
    assert image.format == "PNG" and image.mode == "RGBA" and image.size == (32, 32)


async def test_webp_still(tmp_path: Path, thumbnailer: Thumbnailer) -> None:
    path, sha = store(tmp_path, encode(gradient(700, 500), "WEBP"))
    thumb = await thumbnailer.thumbnail(
        path, content_type="image/webp", sha256=sha, width=640, height=480, method="scale"
    )
    image = decode(thumb.path)
    assert image.format == "JPEG" and image.size == (640, 457)


async def test_animated_gif_keeps_its_frames(tmp_path: Path, thumbnailer: Thumbnailer) -> None:
    path, sha = store(tmp_path, animation(5, (400, 300)))
    thumb = await thumbnailer.thumbnail(
        path,
        content_type="image/gif",
        sha256=sha,
        width=96,
        height=96,
        method="crop",
        animated=True,
    )
    assert thumb.content_type == "image/webp"
    image = Image.open(io.BytesIO(thumb.path.read_bytes()))
    assert image.format == "WEBP" and getattr(image, "n_frames", 1) == 5
    assert image.size == (96, 96)
    frames = [frame.convert("RGB").getpixel((48, 48)) for frame in ImageSequence.Iterator(image)]
    assert len(set(frames)) > 1, "the frames differ as the original's do"
    still = await thumbnailer.thumbnail(
        path, content_type="image/gif", sha256=sha, width=96, height=96, method="crop"
    )
    assert still.content_type == "image/png"
    assert not getattr(decode(still.path), "is_animated", False)


async def test_animated_webp_keeps_its_frames(tmp_path: Path, thumbnailer: Thumbnailer) -> None:
    images = [Image.new("RGB", (500, 500), (i * 60, 0, 0)) for i in range(3)]
    data = encode(images[0], "WEBP", save_all=True, append_images=images[1:], duration=50)
    path, sha = store(tmp_path, data)
    thumb = await thumbnailer.thumbnail(
        path,
        content_type="image/webp",
        sha256=sha,
        width=320,
        height=240,
        method="scale",
        animated=True,
    )
    image = Image.open(io.BytesIO(thumb.path.read_bytes()))
    assert getattr(image, "n_frames", 1) == 3 and image.size == (240, 240)


async def test_small_original_is_served_as_is(tmp_path: Path, thumbnailer: Thumbnailer) -> None:
    path, sha = store(tmp_path, encode(gradient(20, 20), "PNG"))
    thumb = await thumbnailer.thumbnail(
        path, content_type="image/png", sha256=sha, width=96, height=96, method="scale"
    )
    assert thumb.original and thumb.path == path and thumb.content_type == "image/png"
    assert thumbnailer.generated == 0
    # An animation asked for as a still is never sent as the (animated) original.
    gif, gif_sha = store(tmp_path, animation(3, (20, 20)), "gif")
    still = await thumbnailer.thumbnail(
        gif, content_type="image/gif", sha256=gif_sha, width=32, height=32, method="crop"
    )
    assert not still.original and not getattr(decode(still.path), "is_animated", False)
    moving = await thumbnailer.thumbnail(
        gif,
        content_type="image/gif",
        sha256=gif_sha,
        width=32,
        height=32,
        method="crop",
        animated=True,
    )
    assert moving.original and moving.path == gif


async def test_exif_orientation_is_applied_and_metadata_stripped(
    tmp_path: Path, thumbnailer: Thumbnailer
) -> None:
    # Stored 800x400 (wide) with orientation 6 (rotate 90° clockwise to show): upright
    # it is 400x800 (tall). Top half of the stored image red, bottom blue.
    image = Image.new("RGB", (800, 400), (255, 0, 0))
    image.paste((0, 0, 255), (0, 200, 800, 400))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "CameraMaker"
    gps = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)}
    exif[0x8825] = gps
    data = encode(image, "JPEG", exif=exif.tobytes())
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825), "the original has GPS"
    path, sha = store(tmp_path, data)
    thumb = await thumbnailer.thumbnail(
        path, content_type="image/jpeg", sha256=sha, width=320, height=240, method="scale"
    )
    out = decode(thumb.path)
    assert out.size == (120, 240), "upright: taller than wide"
    # Rotated clockwise, the stored top (red) is on the right.
    r, _, b = out.getpixel((110, 120))  # type: ignore[misc]
    assert r > 200 and b < 60
    r, _, b = out.getpixel((10, 120))  # type: ignore[misc]
    assert b > 200 and r < 60
    assert len(out.getexif()) == 0
    assert "exif" not in out.info and "icc_profile" not in out.info
    raw = thumb.path.read_bytes()
    assert b"Exif" not in raw and b"CameraMaker" not in raw


async def test_gps_stripped_from_png_and_small_originals_need_rotation(
    tmp_path: Path, thumbnailer: Thumbnailer
) -> None:
    exif = Image.Exif()
    exif[0x0112] = 8
    exif[0x8825] = {1: "S", 2: (1.0, 2.0, 3.0)}
    data = encode(gradient(30, 10), "JPEG", exif=exif.tobytes())
    path, sha = store(tmp_path, data)
    # It fits the box, but needs rotating: a re-encoded thumbnail, not the original.
    thumb = await thumbnailer.thumbnail(
        path, content_type="image/jpeg", sha256=sha, width=96, height=96, method="scale"
    )
    assert not thumb.original
    out = decode(thumb.path)
    assert out.size == (10, 30) and len(out.getexif()) == 0


async def test_second_request_is_served_from_the_cache(
    tmp_path: Path, thumbnailer: Thumbnailer
) -> None:
    path, sha = store(tmp_path, encode(gradient(1000, 1000), "PNG"))
    first = await thumbnailer.thumbnail(
        path, content_type="image/png", sha256=sha, width=500, height=400, method="scale"
    )
    path.unlink()  # the cache answers without the original
    second = await thumbnailer.thumbnail(
        path, content_type="image/png", sha256=sha, width=600, height=450, method="scale"
    )
    assert second == first and thumbnailer.generated == 1
    assert [p.name for p in first.path.parent.iterdir()] == [first.path.name]
    # Another method is another thumbnail, generated from the original.
    with pytest.raises(NotThumbnailable):
        await thumbnailer.thumbnail(
            path, content_type="image/png", sha256=sha, width=500, height=400, method="crop"
        )


async def test_concurrent_requests_generate_once(tmp_path: Path, thumbnailer: Thumbnailer) -> None:
    path, sha = store(tmp_path, encode(gradient(1500, 1000), "JPEG"))
    results = await asyncio.wait_for(
        asyncio.gather(
            *(
                thumbnailer.thumbnail(
                    path, content_type="image/jpeg", sha256=sha, width=w, height=h, method="scale"
                )
                for w, h in [(800, 600)] * 6 + [(700, 500)] * 4
            )
        ),
        timeout=30,
    )
    assert len({r.path for r in results}) == 1
    assert thumbnailer.generated == 1


async def test_decompression_bomb_is_refused_from_the_header(
    tmp_path: Path, thumbnailer: Thumbnailer
) -> None:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1000)
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    path, sha = store(tmp_path, bomb)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with pytest.raises(ImageTooLarge) as refused:
        await thumbnailer.thumbnail(
            path, content_type="image/png", sha256=sha, width=32, height=32, method="crop"
        )
    assert time.monotonic() - started < 2
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 * 1024  # KiB
    assert refused.value.status == 413 and refused.value.errcode == "M_TOO_LARGE"
    assert not (tmp_path / "thumbnails").exists()


async def test_the_configured_pixel_cap_applies(tmp_path: Path) -> None:
    thumbnailer = Thumbnailer(tmp_path / "thumbnails", max_pixels=100 * 100)
    try:
        path, sha = store(tmp_path, encode(gradient(101, 100), "PNG"))
        with pytest.raises(ImageTooLarge):
            await thumbnailer.thumbnail(
                path, content_type="image/png", sha256=sha, width=32, height=32, method="crop"
            )
        with pytest.raises(ImageTooLarge):
            probe(path, 100 * 100)
        ok, ok_sha = store(tmp_path, encode(gradient(100, 100), "PNG"), "ok")
        thumb = await thumbnailer.thumbnail(
            ok, content_type="image/png", sha256=ok_sha, width=32, height=32, method="crop"
        )
        assert thumb.width == 32
    finally:
        await thumbnailer.close()


SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
    b'<rect width="100" height="100"/></svg>'
)
HTML = b"<!doctype html><html><body><img src=x onerror=alert(1)></body></html>"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (SVG, "image/svg+xml"),
        (SVG, "image/png"),  # an SVG claiming to be a PNG
        (HTML, "text/html"),
        (HTML, "image/jpeg"),
        (PDF, "application/pdf"),
        (PDF, "application/octet-stream"),
        (b"", "image/png"),
    ],
)
async def test_what_is_not_an_image_is_not_thumbnailed(
    tmp_path: Path, thumbnailer: Thumbnailer, data: bytes, content_type: str
) -> None:
    path, sha = store(tmp_path, data)
    with pytest.raises(NotThumbnailable) as refused:
        await thumbnailer.thumbnail(
            path, content_type=content_type, sha256=sha, width=32, height=32, method="crop"
        )
    assert refused.value.status == 400 and refused.value.errcode == "M_UNKNOWN"
    assert not (tmp_path / "thumbnails").exists()


async def test_a_real_image_with_a_non_image_type_is_refused(
    tmp_path: Path, thumbnailer: Thumbnailer
) -> None:
    path, sha = store(tmp_path, encode(gradient(100, 100), "PNG"))
    with pytest.raises(NotThumbnailable):
        await thumbnailer.thumbnail(
            path, content_type="text/html", sha256=sha, width=32, height=32, method="crop"
        )


async def test_truncated_image_is_not_thumbnailable(
    tmp_path: Path, thumbnailer: Thumbnailer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pillow's default; importing Synapse (the crosscheck tests do) turns it on.
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", False)
    data = encode(gradient(600, 600), "PNG")
    path, sha = store(tmp_path, data[: len(data) // 3])
    with pytest.raises(NotThumbnailable):
        await thumbnailer.thumbnail(
            path, content_type="image/png", sha256=sha, width=32, height=32, method="crop"
        )


async def test_bad_arguments(tmp_path: Path, thumbnailer: Thumbnailer) -> None:
    path, sha = store(tmp_path, encode(gradient(100, 100), "PNG"))
    with pytest.raises(ValueError):
        await thumbnailer.thumbnail(
            path, content_type="image/png", sha256="../../etc", width=32, height=32, method="crop"
        )
    for width, height in ((0, 32), (32, -1)):
        with pytest.raises(Exception) as refused:
            await thumbnailer.thumbnail(
                path,
                content_type="image/png",
                sha256=sha,
                width=width,
                height=height,
                method="crop",
            )
        assert getattr(refused.value, "errcode", None) == "M_INVALID_PARAM"


async def test_corrupt_images_are_refused_never_crash(
    tmp_path: Path, thumbnailer: Thumbnailer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Byte-flipped and truncated images of every format: a thumbnail or a Matrix
    error, never another exception (seed 1 includes an IndexError from Pillow)."""
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", False)
    originals = [encode(gradient(120, 90), fmt) for fmt in ("PNG", "JPEG", "WEBP", "BMP")]
    originals.append(animation(3, (60, 40)))
    rng = random.Random(1)
    outcomes: set[str] = set()
    for i in range(600):
        data = bytearray(rng.choice(originals))
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[: rng.randrange(len(data))]
        path, sha = store(tmp_path, bytes(data), f"mutant-{i}")
        try:
            await thumbnailer.thumbnail(
                path,
                content_type="image/png",
                sha256=sha,
                width=32,
                height=32,
                method="crop",
                animated=rng.random() < 0.5,
            )
            probe(path, MAX_PIXELS)
            outcomes.add("thumbnail")
        except (NotThumbnailable, ImageTooLarge) as refused:
            outcomes.add(type(refused).__name__)
    assert "thumbnail" in outcomes and "NotThumbnailable" in outcomes


async def test_forget_removes_one_originals_thumbnails_only(
    tmp_path: Path, thumbnailer: Thumbnailer
) -> None:
    made = []
    for name, size in (("a", (200, 100)), ("b", (100, 200))):
        path, sha = store(tmp_path, encode(gradient(*size), "PNG"), name)
        thumb = await thumbnailer.thumbnail(
            path, content_type="image/png", sha256=sha, width=32, height=32, method="crop"
        )
        made.append((sha, thumb.path))
    (gone_sha, gone), (kept_sha, kept) = made
    thumbnailer.forget(gone_sha)
    assert not gone.exists() and not gone.parent.exists()
    assert kept.exists()
    thumbnailer.forget(gone_sha)  # nothing left: no error
    with pytest.raises(ValueError):
        thumbnailer.forget("../" + kept_sha[3:])
    assert kept.exists()
