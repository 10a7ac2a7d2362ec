"""Media scenarios: upload and download throughput, one large upload's memory, and
thumbnail latency, the same requests against both servers.

Both servers are asked through the spec's paths: ``POST /_matrix/media/v3/upload``,
``GET /_matrix/client/v1/media/download`` and ``/thumbnail`` (authenticated media,
which Synapse serves by default too). Every file is checked after the round trip
(sha256 of what came back), every thumbnail decoded with Pillow and its size
compared with what the spec's recommended size must give, so a wrong answer is
never a figure. Bodies are streamed from and to memory in 256 KiB pieces.

Synapse generates its thumbnails of an image while it is uploaded (its default,
``dynamic_thumbnails: false``); this server on the first request for a size. So
``photo_upload_ms`` is where Synapse pays for its thumbnails, ``first_ms`` where
this server does, and ``cached_*`` is a thumbnail both have on disk.
"""

from __future__ import annotations

import hashlib
import io
import os
import statistics
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import aiohttp

from bench.client import MatrixError, Unsupported
from bench.servers import SERVER_NAME, PeakRss, tree_rss_kib

if TYPE_CHECKING:
    from bench.scenarios import Context

CHUNK = 256 * 1024
MIB = 1024 * 1024
UPLOAD = "/_matrix/media/v3/upload"
AUTHED = "/_matrix/client/v1/media"
#: (width, height, method) -> the size a 4:3 photo's thumbnail has (spec: recommended sizes).
THUMBNAILS = {
    (32, 32, "crop"): (32, 32),
    (96, 96, "crop"): (96, 96),
    (320, 240, "scale"): (320, 240),
    (640, 480, "scale"): (640, 480),
    (800, 600, "scale"): (800, 600),
}


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def _mb_s(size: int, seconds: float) -> float:
    return round(size / MIB / seconds, 1)


def _headers(token: str | None, content_type: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if content_type:
        headers["Content-Type"] = content_type
    return headers


async def _chunks(block: bytes, size: int) -> AsyncIterator[bytes]:
    """``size`` bytes made of ``block`` repeated (never all in memory)."""
    sent = 0
    while sent < size:
        piece = block[: min(len(block), size - sent)]
        sent += len(piece)
        yield piece


async def upload(
    ctx: Context,
    token: str | None,
    body: bytes | AsyncIterator[bytes],
    content_type: str,
    size: int,
) -> str:
    """The media ID of a new upload of ``size`` bytes (raises Unsupported / MatrixError
    like the client). Sent with a Content-Length, as clients do (Synapse requires it)."""
    headers = {**_headers(token, content_type), "Content-Length": str(size)}
    async with ctx.session.post(
        ctx.server.base_url + UPLOAD,
        data=body,
        headers=headers,
        timeout=aiohttp.ClientTimeout(total=ctx.sizes.scenario_timeout_s),
    ) as response:
        reply = await response.json(content_type=None)
        if response.status in (404, 405):
            raise Unsupported("POST upload")
        if response.status != 200:
            raise MatrixError("POST upload", response.status, reply)
    uri: str = reply["content_uri"]
    return uri.rsplit("/", 1)[1]


async def fetch(
    ctx: Context, token: str | None, path: str, endpoint: str
) -> tuple[str, int, bytes]:
    """GET ``path``: (sha256 of the body, its size, the body if under 1 MiB)."""
    digest = hashlib.sha256()
    size = 0
    small = bytearray()
    async with ctx.session.get(
        ctx.server.base_url + path,
        headers=_headers(token),
        timeout=aiohttp.ClientTimeout(total=ctx.sizes.scenario_timeout_s),
    ) as response:
        if response.status in (404, 405) and "json" in response.content_type:
            body = await response.json()
            if body.get("errcode") in (None, "M_UNRECOGNIZED"):
                raise Unsupported(endpoint)
        if response.status != 200:
            raise MatrixError(endpoint, response.status, await response.read())
        async for piece in response.content.iter_chunked(CHUNK):
            digest.update(piece)
            size += len(piece)
            if size <= MIB:
                small += piece
    return digest.hexdigest(), size, bytes(small)


def _download_path(ctx: Context, media_id: str) -> str:
    return f"{AUTHED}/download/{SERVER_NAME}/{media_id}"


async def media_transfer(ctx: Context) -> dict[str, float]:
    """``--media-files`` files of ``--media-file-mib`` MiB uploaded one after the
    other, then each downloaded and checked: MB/s both ways."""
    user, _ = await ctx.new_user()
    size = ctx.sizes.media_file_mib * MIB
    block = os.urandom(MIB)
    expected = hashlib.sha256()
    for piece in (block[: min(MIB, size - n)] for n in range(0, size, MIB)):
        expected.update(piece)
    ids = []
    started = time.perf_counter()
    for _ in range(ctx.sizes.media_files):
        ids.append(
            await upload(
                ctx, user.access_token, _chunks(block, size), "application/octet-stream", size
            )
        )
    uploaded_s = time.perf_counter() - started
    started = time.perf_counter()
    for media_id in ids:
        sha, got, _ = await fetch(
            ctx, user.access_token, _download_path(ctx, media_id), "GET download"
        )
        assert (sha, got) == (expected.hexdigest(), size), "a download differs from its upload"
    downloaded_s = time.perf_counter() - started
    total = size * len(ids)
    return {
        "upload_mb_s": _mb_s(total, uploaded_s),
        "download_mb_s": _mb_s(total, downloaded_s),
    }


async def media_large(ctx: Context) -> dict[str, float]:
    """One upload of ``--media-large-mib`` MiB: the server's RSS before and at its
    peak during the upload (sampled every 20 ms), then the download, checked."""
    user, _ = await ctx.new_user()
    size = ctx.sizes.media_large_mib * MIB
    block = os.urandom(MIB)
    before = tree_rss_kib(ctx.server.pid)
    started = time.perf_counter()
    with PeakRss(ctx.server.pid, interval=0.02) as peak:
        media_id = await upload(
            ctx, user.access_token, _chunks(block, size), "application/octet-stream", size
        )
    uploaded_s = time.perf_counter() - started
    started = time.perf_counter()
    with PeakRss(ctx.server.pid, interval=0.02) as download_peak:
        _, got, _ = await fetch(
            ctx, user.access_token, _download_path(ctx, media_id), "GET download"
        )
    downloaded_s = time.perf_counter() - started
    assert got == size, f"downloaded {got} of {size} bytes"
    return {
        "upload_mb_s": _mb_s(size, uploaded_s),
        "download_mb_s": _mb_s(size, downloaded_s),
        "rss_before_mib": round(before / 1024, 1),
        "upload_rss_growth_mib": round((peak.peak_kib - before) / 1024, 1),
        "download_rss_growth_mib": round((download_peak.peak_kib - before) / 1024, 1),
    }


def _photo(width: int) -> bytes:
    """A 4:3 JPEG photo-like image (smooth colour noise), quality 90."""
    from PIL import Image

    height = width * 3 // 4
    small = [Image.effect_noise((max(1, width // 40), max(1, height // 40)), 80) for _ in range(3)]
    image = Image.merge(
        "RGB", [band.resize((width, height), Image.Resampling.BICUBIC) for band in small]
    )
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


async def media_thumbnail(ctx: Context) -> dict[str, float]:
    """A ``--thumb-photo-width`` JPEG (4:3) uploaded; each of the five recommended
    thumbnails asked once (``first``), then ``--thumb-requests`` more round the
    sizes (``cached``). Every answer is decoded and its size checked."""
    from PIL import Image

    user, _ = await ctx.new_user()
    photo = _photo(ctx.sizes.thumb_photo_width)
    started = time.perf_counter()
    media_id = await upload(ctx, user.access_token, photo, "image/jpeg", len(photo))
    upload_s = time.perf_counter() - started
    base = f"{AUTHED}/thumbnail/{SERVER_NAME}/{media_id}"

    async def one(spec: tuple[int, int, str]) -> float:
        width, height, method = spec
        path = f"{base}?width={width}&height={height}&method={method}"
        begun = time.perf_counter()
        _, _, body = await fetch(ctx, user.access_token, path, "GET thumbnail")
        took = time.perf_counter() - begun
        image = Image.open(io.BytesIO(body))
        assert image.size == THUMBNAILS[spec], f"{spec}: got {image.size}"
        return took

    specs = list(THUMBNAILS)
    first = [await one(spec) for spec in specs]
    cached = [await one(specs[i % len(specs)]) for i in range(ctx.sizes.thumb_requests)]
    cached.sort()
    return {
        "photo_mib": round(len(photo) / MIB, 2),
        "photo_upload_ms": _ms(upload_s),
        "first_p50_ms": _ms(statistics.median(first)),
        "first_max_ms": _ms(max(first)),
        "cached_p50_ms": _ms(statistics.median(cached)),
        "cached_p95_ms": _ms(cached[min(len(cached) - 1, int(len(cached) * 0.95))]),
    }
