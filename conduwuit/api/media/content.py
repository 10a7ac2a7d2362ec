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
from conduwuit.api.query import bool_param, int_param
from conduwuit.api.router import Auth, Route
from conduwuit.core.content_disposition import content_disposition, valid_content_type
from conduwuit.core.errors import invalid_param, not_found
from conduwuit.service.media.repository import (
    DEFAULT_WAIT_MS,
    MAX_WAIT_MS,
    MediaFile,
    MediaRepository,
)
from conduwuit.service.media.store import CHUNK

MEDIA_PREFIX = "/_matrix/media"
AUTHED_PREFIX = "/_matrix/client/v1/media"

#: Spec, content repository: the policy a server SHOULD send with content.
CONTENT_SECURITY_POLICY = (
    "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; "
    "style-src 'unsafe-inline'; object-src 'self';"
)
#: Media never changes under its ID: clients may cache it for a year (as conduwuit).
#: Authenticated media is private to the user who fetched it.
CACHE_AUTHENTICATED = "private, max-age=31536000, immutable"
CACHE_LEGACY = "public, max-age=31536000, immutable"
MAX_FILENAME_LENGTH = 1024


def _media_paths(path: str, versions: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{MEDIA_PREFIX}/{version}{path}" for version in versions)


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

    async def _find(self, request: web.Request) -> MediaFile:
        server_name = request.match_info["serverName"]
        media_id = request.match_info["mediaId"]
        timeout_ms = int_param(request, "timeout_ms", DEFAULT_WAIT_MS, maximum=2**53 - 1)
        allow_remote = bool_param(request, "allow_remote", True)
        if server_name != self._media.server_name and not allow_remote:
            raise not_found("Remote media was not asked for (allow_remote=false)")
        return await self._media.get(server_name, media_id, timeout_ms=min(timeout_ms, MAX_WAIT_MS))

    def _serve(self, request: web.Request, found: MediaFile, cache: str) -> web.FileResponse:
        meta = found.metadata
        if not found.path.is_file():
            # The metadata outlived its file (see media_startup_check).
            raise not_found("The media's file is missing")
        filename = request.match_info.get("fileName") or meta.filename
        content_type = meta.content_type or "application/octet-stream"
        headers = {
            "Content-Type": content_type,
            "Content-Disposition": content_disposition(content_type, filename),
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Cross-Origin-Resource-Policy": "cross-origin",
            "Cache-Control": cache,
        }
        return web.FileResponse(found.path, chunk_size=CHUNK, headers=headers)

    async def download(self, request: web.Request) -> web.FileResponse:
        found = await self._find(request)
        return self._serve(request, found, CACHE_AUTHENTICATED)

    async def download_legacy(self, request: web.Request) -> web.FileResponse:
        server_name = request.match_info["serverName"]
        media_id = request.match_info["mediaId"]
        created = self._media.created_ts(server_name, media_id)
        if created is not None and not self._media.legacy_visible(created):
            raise not_found("This media is only available at /_matrix/client/v1/media/download")
        found = await self._find(request)
        if not self._media.legacy_visible(found.metadata.created_ts):
            # Remote media cached now counts as new (spec: the freeze).
            raise not_found("This media is only available at /_matrix/client/v1/media/download")
        return self._serve(request, found, CACHE_LEGACY)

    def routes(self) -> list[Route]:
        # An empty file name (a trailing slash, as matrix-nio sends) is no file name.
        download = "/download/{serverName}/{mediaId}"
        slash = "/download/{serverName}/{mediaId}/"
        named = "/download/{serverName}/{mediaId}/{fileName}"
        routes = [
            Route(
                "POST",
                _media_paths("/upload", ("r0", "v3")),
                self.upload,
                Auth.ACCESS_TOKEN,
                max_body=None,
            ),
            Route("POST", _media_paths("/create", ("v1",)), self.create, Auth.ACCESS_TOKEN),
            Route(
                "PUT",
                _media_paths("/upload/{serverName}/{mediaId}", ("r0", "v3")),
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
            legacy = ("r0", "v1", "v3")
            routes += [
                Route("GET", _media_paths("/config", legacy), self.config, Auth.ACCESS_TOKEN),
                Route(
                    "GET",
                    _media_paths(download, legacy)
                    + _media_paths(slash, legacy)
                    + _media_paths(named, legacy),
                    self.download_legacy,
                ),
            ]
        return routes


def routes(media: MediaRepository, *, allow_legacy: bool) -> list[Route]:
    return MediaHandlers(media, allow_legacy=allow_legacy).routes()
