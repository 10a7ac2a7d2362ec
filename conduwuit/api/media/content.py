"""Upload, async upload (MSC2246), config and download of media.

Spec v1.11 moved downloads behind authentication (``/_matrix/client/v1/media/*``,
MSC3916); the unauthenticated ``/_matrix/media/*/download`` and ``/config`` stay
while ``allow_legacy_media`` is on, with media created after the freeze
(``freeze_legacy_media``) answered 404 there. Uploads stay at ``/_matrix/media``.

Request bodies are streamed to disk, never read whole; files are served with
aiohttp's FileResponse (sendfile, single ``Range`` requests: 206 / 416).
"""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.auth import requester
from conduwuit.api.media.serving import (
    AUTHED_PREFIX,
    CACHE_AUTHENTICATED,
    CACHE_LEGACY,
    LEGACY_VERSIONS,
    find_legacy_media,
    find_media,
    media_paths,
    serve_media,
)
from conduwuit.api.router import Auth, Route
from conduwuit.core.content_disposition import valid_content_type
from conduwuit.core.errors import invalid_param
from conduwuit.service.media.repository import MediaRepository
from conduwuit.service.media.store import CHUNK

MAX_FILENAME_LENGTH = 1024


def _upload_details(request: web.Request) -> tuple[str | None, str | None]:
    """The ``filename`` query parameter and the Content-Type header, checked."""
    filename = request.query.get("filename")
    if filename is not None:
        if len(filename) > MAX_FILENAME_LENGTH:
            raise invalid_param(f"filename is longer than {MAX_FILENAME_LENGTH} characters")
        filename = filename or None
    content_type = request.headers.get("Content-Type")
    if content_type is not None and not valid_content_type(content_type):
        raise invalid_param("Content-Type must be printable ASCII of at most 255 characters")
    return filename, content_type


class MediaHandlers:
    def __init__(self, media: MediaRepository, *, allow_legacy: bool) -> None:
        self._media = media
        self._allow_legacy = allow_legacy

    # -- uploads --------------------------------------------------------------------

    async def upload(self, request: web.Request) -> web.Response:
        who = requester(request)
        filename, content_type = _upload_details(request)
        meta = await self._media.upload(
            request.content.iter_chunked(CHUNK),
            uploader=who.user_id,
            content_type=content_type,
            filename=filename,
        )
        return web.json_response({"content_uri": meta.mxc})

    async def create(self, request: web.Request) -> web.Response:
        pending = self._media.create_pending(requester(request).user_id)
        return web.json_response(
            {
                "content_uri": f"mxc://{self._media.server_name}/{pending.media_id}",
                "unused_expires_at": pending.expires_ts,
            }
        )

    async def upload_async(self, request: web.Request) -> web.Response:
        who = requester(request)
        server_name = request.match_info["serverName"]
        media_id = request.match_info["mediaId"]
        # Refuse before reading the body: unknown, someone else's, already uploaded.
        self._media.check_pending_upload(server_name, media_id, who.user_id)
        filename, content_type = _upload_details(request)
        await self._media.upload_pending(
            server_name,
            media_id,
            request.content.iter_chunked(CHUNK),
            uploader=who.user_id,
            content_type=content_type,
            filename=filename,
        )
        return web.json_response({})

    # -- config ---------------------------------------------------------------------

    async def config(self, request: web.Request) -> web.Response:
        return web.json_response({"m.upload.size": self._media.config.max_upload_size})

    # -- downloads ------------------------------------------------------------------

    async def download(self, request: web.Request) -> web.FileResponse:
        found = await find_media(self._media, request)
        filename = request.match_info.get("fileName")
        return serve_media(found, filename=filename, cache=CACHE_AUTHENTICATED)

    async def download_legacy(self, request: web.Request) -> web.FileResponse:
        found = await find_legacy_media(self._media, request)
        filename = request.match_info.get("fileName")
        return serve_media(found, filename=filename, cache=CACHE_LEGACY)

    def routes(self) -> list[Route]:
        # An empty file name (a trailing slash, as matrix-nio sends) is no file name.
        download = "/download/{serverName}/{mediaId}"
        slash = "/download/{serverName}/{mediaId}/"
        named = "/download/{serverName}/{mediaId}/{fileName}"
        routes = [
            Route(
                "POST",
                media_paths("/upload", ("r0", "v3")),
                self.upload,
                Auth.ACCESS_TOKEN,
                max_body=None,
            ),
            Route("POST", media_paths("/create", ("v1",)), self.create, Auth.ACCESS_TOKEN),
            Route(
                "PUT",
                media_paths("/upload/{serverName}/{mediaId}", ("r0", "v3")),
                self.upload_async,
                Auth.ACCESS_TOKEN,
                max_body=None,
            ),
            Route("GET", (f"{AUTHED_PREFIX}/config",), self.config, Auth.ACCESS_TOKEN),
            Route(
                "GET",
                tuple(f"{AUTHED_PREFIX}{path}" for path in (download, slash, named)),
                self.download,
                Auth.ACCESS_TOKEN,
                allow_guests=True,
            ),
        ]
        if self._allow_legacy:
            routes += [
                Route(
                    "GET", media_paths("/config", LEGACY_VERSIONS), self.config, Auth.ACCESS_TOKEN
                ),
                Route(
                    "GET",
                    media_paths(download, LEGACY_VERSIONS)
                    + media_paths(slash, LEGACY_VERSIONS)
                    + media_paths(named, LEGACY_VERSIONS),
                    self.download_legacy,
                ),
            ]
        return routes


def routes(media: MediaRepository, *, allow_legacy: bool) -> list[Route]:
    return MediaHandlers(media, allow_legacy=allow_legacy).routes()
