"""GET thumbnail: a stored image scaled or cropped to one of the recommended sizes.

Spec v1.11: ``GET /_matrix/client/v1/media/thumbnail/{serverName}/{mediaId}``
(authenticated, MSC3916); the unauthenticated ``/_matrix/media/{r0,v1,v3}/thumbnail``
stays under the same ``allow_legacy_media`` / freeze rules as legacy downloads. The
media is found exactly as a download finds it (``timeout_ms`` for an async upload,
``allow_remote``, remote media through the repository's ``RemoteMedia``), then the
thumbnailer (service/media/thumbnail.py) picks the size, generates or reads the
cached thumbnail, and it is served with the downloads' safe headers, inline.
"""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.media.serving import (
    AUTHED_PREFIX,
    CACHE_AUTHENTICATED,
    CACHE_LEGACY,
    LEGACY_VERSIONS,
    find_legacy_media,
    find_media,
    media_paths,
    serve_file,
)
from conduwuit.api.query import bool_param, optional_int_param
from conduwuit.api.router import Auth, Route
from conduwuit.core.content_disposition import content_disposition
from conduwuit.core.errors import invalid_param, missing_param
from conduwuit.core.thumbnail_sizes import METHODS, Method
from conduwuit.service.media.repository import MediaFile, MediaRepository
from conduwuit.service.media.thumbnail import Thumbnail, Thumbnailer

_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif"}


class ThumbnailRequest:
    """The query of a thumbnail request, checked before any media is looked up."""

    def __init__(self, request: web.Request) -> None:
        self.width = _dimension(request, "width")
        self.height = _dimension(request, "height")
        method = request.query.get("method", "scale")
        if method not in METHODS:
            raise invalid_param("method must be crop or scale")
        self.method: Method = "crop" if method == "crop" else "scale"
        self.animated = bool_param(request, "animated", False)


def _dimension(request: web.Request, name: str) -> int:
    value = optional_int_param(request, name)
    if value is None:
        raise missing_param(f"{name} is required")
    if value < 1:
        raise invalid_param(f"{name} must be a positive integer")
    return value


async def make_thumbnail(
    thumbnailer: Thumbnailer, wanted: ThumbnailRequest, found: MediaFile
) -> tuple[Thumbnail, str]:
    """The thumbnail of ``found`` closest to ``wanted`` and its Content-Disposition."""
    meta = found.metadata
    thumb = await thumbnailer.thumbnail(
        found.path,
        content_type=meta.content_type or "application/octet-stream",
        sha256=meta.sha256,
        width=wanted.width,
        height=wanted.height,
        method=wanted.method,
        animated=wanted.animated,
    )
    # Spec: Content-Disposition MUST be inline, SHOULD name a file
    # ("thumbnail.png"); every type a thumbnail has is an inline type.
    name = f"thumbnail.{_EXTENSIONS.get(thumb.content_type, 'bin')}"
    return thumb, content_disposition(thumb.content_type, name)


class ThumbnailHandlers:
    def __init__(
        self, media: MediaRepository, thumbnailer: Thumbnailer, *, allow_legacy: bool
    ) -> None:
        self._media = media
        self._thumbnailer = thumbnailer
        self._allow_legacy = allow_legacy

    async def _serve(
        self, wanted: ThumbnailRequest, found: MediaFile, cache: str
    ) -> web.FileResponse:
        thumb, disposition = await make_thumbnail(self._thumbnailer, wanted, found)
        return serve_file(
            thumb.path, content_type=thumb.content_type, disposition=disposition, cache=cache
        )

    async def thumbnail(self, request: web.Request) -> web.FileResponse:
        wanted = ThumbnailRequest(request)
        found = await find_media(self._media, request)
        return await self._serve(wanted, found, CACHE_AUTHENTICATED)

    async def thumbnail_legacy(self, request: web.Request) -> web.FileResponse:
        wanted = ThumbnailRequest(request)
        found = await find_legacy_media(self._media, request)
        return await self._serve(wanted, found, CACHE_LEGACY)

    def routes(self) -> list[Route]:
        path = "/thumbnail/{serverName}/{mediaId}"
        routes = [
            Route(
                "GET",
                (f"{AUTHED_PREFIX}{path}",),
                self.thumbnail,
                Auth.ACCESS_TOKEN,
                allow_guests=True,
            )
        ]
        if self._allow_legacy:
            routes.append(Route("GET", media_paths(path, LEGACY_VERSIONS), self.thumbnail_legacy))
        return routes


def routes(media: MediaRepository, thumbnailer: Thumbnailer, *, allow_legacy: bool) -> list[Route]:
    return ThumbnailHandlers(media, thumbnailer, allow_legacy=allow_legacy).routes()
