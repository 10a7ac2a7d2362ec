"""Our media for other servers (spec v1.11, server-server API, content repository):
``GET /_matrix/federation/v1/media/download/{mediaId}`` and ``/thumbnail/{mediaId}``,
X-Matrix signed.

Only media uploaded here is served (a server asks the origin; cached remote media is
not ours to hand out): anything else is 404. The answer is ``multipart/mixed`` with
exactly two parts, the JSON metadata (an empty object, as the spec says for now) and
the content with its ``Content-Type`` and ``Content-Disposition``; the file is read
from disk chunk by chunk, never whole, and the length is announced up front.
Thumbnails come from the same thumbnailer as the client API's.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path

from aiohttp import web

from conduwuit.api.media.serving import find_own_media
from conduwuit.api.media.thumbnail import ThumbnailRequest, make_thumbnail
from conduwuit.api.router import Auth, Route
from conduwuit.core.content_disposition import content_disposition
from conduwuit.core.errors import not_found
from conduwuit.service.media.repository import DEFAULT_CONTENT_TYPE, MediaRepository
from conduwuit.service.media.store import CHUNK
from conduwuit.service.media.thumbnail import Thumbnailer

PREFIX = "/_matrix/federation/v1/media"


async def send_multipart(
    request: web.Request, path: Path, *, content_type: str, disposition: str
) -> web.StreamResponse:
    """``path`` as the second part of a two-part ``multipart/mixed`` answer (the first
    is the empty JSON metadata object), streamed from disk."""
    try:
        source = path.open("rb")
    except FileNotFoundError:
        # The metadata outlived its file (see media_startup_check).
        raise not_found("The media's file is missing") from None
    with source:
        size = os.fstat(source.fileno()).st_size
        boundary = secrets.token_hex(16)
        head = (
            f"--{boundary}\r\nContent-Type: application/json\r\n\r\n{{}}\r\n"
            f"--{boundary}\r\nContent-Type: {content_type}\r\n"
            f"Content-Disposition: {disposition}\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        response = web.StreamResponse(
            headers={"Content-Type": f"multipart/mixed; boundary={boundary}"}
        )
        response.content_length = len(head) + size + len(tail)
        await response.prepare(request)
        await response.write(head)
        while chunk := await asyncio.to_thread(source.read, CHUNK):
            await response.write(chunk)
        await response.write(tail)
        await response.write_eof()
        return response


class FederationMediaHandlers:
    def __init__(self, media: MediaRepository, thumbnailer: Thumbnailer) -> None:
        self._media = media
        self._thumbnailer = thumbnailer

    async def download(self, request: web.Request) -> web.StreamResponse:
        found = await find_own_media(self._media, request)
        content_type = found.metadata.content_type or DEFAULT_CONTENT_TYPE
        return await send_multipart(
            request,
            found.path,
            content_type=content_type,
            disposition=content_disposition(content_type, found.metadata.filename),
        )

    async def thumbnail(self, request: web.Request) -> web.StreamResponse:
        wanted = ThumbnailRequest(request)
        found = await find_own_media(self._media, request)
        thumb, disposition = await make_thumbnail(self._thumbnailer, wanted, found)
        return await send_multipart(
            request, thumb.path, content_type=thumb.content_type, disposition=disposition
        )

    def routes(self) -> list[Route]:
        signed = Auth.SERVER_SIGNATURE
        return [
            Route("GET", (f"{PREFIX}/download/{{mediaId}}",), self.download, signed),
            Route("GET", (f"{PREFIX}/thumbnail/{{mediaId}}",), self.thumbnail, signed),
        ]


def routes(media: MediaRepository, thumbnailer: Thumbnailer) -> list[Route]:
    return FederationMediaHandlers(media, thumbnailer).routes()
