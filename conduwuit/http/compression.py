"""Optional response compression (gzip, brotli, zstd), each behind its own switch.

Only whole, non-streamed bodies of at least ``MIN_SIZE`` bytes are compressed, in
the encoding the client prefers among the enabled ones.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from conduwuit.http.middleware import Handler

MIN_SIZE = 1024
#: Bodies larger than this are compressed off the event loop.
EXECUTOR_SIZE = 256 * 1024

Compressor = Callable[[bytes], bytes]


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def _brotli(data: bytes) -> bytes:
    import brotli  # optional dependency, checked at config load

    result: bytes = brotli.compress(data, quality=4)
    return result


def _zstd(data: bytes) -> bytes:
    import zstandard  # optional dependency, checked at config load

    result: bytes = zstandard.ZstdCompressor(level=3).compress(data)
    return result


def compressors(*, zstd: bool, brotli: bool, gzip_: bool) -> dict[str, Compressor]:
    """The enabled encodings, in the server's order of preference."""
    enabled: dict[str, Compressor] = {}
    if zstd:
        enabled["zstd"] = _zstd
    if brotli:
        enabled["br"] = _brotli
    if gzip_:
        enabled["gzip"] = _gzip
    return enabled


def accepted_encodings(header: str) -> dict[str, float]:
    """Parse Accept-Encoding into encoding -> quality."""
    accepted: dict[str, float] = {}
    for item in header.split(","):
        name, _, params = item.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        if name:
            accepted[name.strip().lower()] = quality
    return accepted


def choose(header: str, enabled: dict[str, Compressor]) -> str | None:
    accepted = accepted_encodings(header)
    best: tuple[float, str] | None = None
    for encoding in enabled:
        quality = accepted.get(encoding, accepted.get("*", 0.0))
        if quality > 0 and (best is None or quality > best[0]):
            best = (quality, encoding)
    return best[1] if best else None


def compression_middleware(
    enabled: dict[str, Compressor],
) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if (
            not isinstance(response, web.Response)
            or response.body is None
            or "Content-Encoding" in response.headers
            or request.method == "HEAD"
        ):
            return response
        body: Any = response.body
        if not isinstance(body, bytes) or len(body) < MIN_SIZE:
            return response
        encoding = choose(request.headers.get("Accept-Encoding", ""), enabled)
        if encoding is None:
            return response
        compress = enabled[encoding]
        if len(body) >= EXECUTOR_SIZE:
            compressed = await asyncio.get_running_loop().run_in_executor(None, compress, body)
        else:
            compressed = compress(body)
        response.body = compressed
        response.headers["Content-Encoding"] = encoding
        response.headers.add("Vary", "Accept-Encoding")
        return response

    return middleware
