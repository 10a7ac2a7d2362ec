"""Finding and serving stored media: shared by downloads and thumbnails.

One place decides how a media file leaves the server (spec v1.11, content repository,
"Serving inline content" and security considerations): the safe headers, the two
cache policies, waiting for an async upload (``timeout_ms``), ``allow_remote``, and
the legacy freeze (``freeze_legacy_media``) of the unauthenticated endpoints.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from conduwuit.api.query import bool_param, int_param
from conduwuit.core.content_disposition import content_disposition
from conduwuit.core.errors import not_found
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
#: The versions of the unauthenticated /_matrix/media endpoints (Synapse serves all three).
LEGACY_VERSIONS = ("r0", "v1", "v3")


def media_paths(path: str, versions: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{MEDIA_PREFIX}/{version}{path}" for version in versions)


async def find_media(media: MediaRepository, request: web.Request) -> MediaFile:
    """The media named by the path's ``serverName``/``mediaId``, waiting up to
    ``timeout_ms`` for an async upload; ``allow_remote=false`` keeps it local."""
    server_name = request.match_info["serverName"]
    media_id = request.match_info["mediaId"]
    timeout_ms = int_param(request, "timeout_ms", DEFAULT_WAIT_MS, maximum=2**53 - 1)
    allow_remote = bool_param(request, "allow_remote", True)
    if server_name != media.server_name and not allow_remote:
        raise not_found("Remote media was not asked for (allow_remote=false)")
    return await media.get(server_name, media_id, timeout_ms=min(timeout_ms, MAX_WAIT_MS))


async def find_own_media(media: MediaRepository, request: web.Request) -> MediaFile:
    """Media uploaded here, named by the path's ``mediaId`` (the federation media
    endpoints: another server asks only the origin), waiting up to ``timeout_ms``."""
    timeout_ms = int_param(request, "timeout_ms", DEFAULT_WAIT_MS, maximum=2**53 - 1)
    return await media.get(
        media.server_name, request.match_info["mediaId"], timeout_ms=min(timeout_ms, MAX_WAIT_MS)
    )


def _frozen() -> Exception:
    return not_found("This media is only available at /_matrix/client/v1/media")


async def find_legacy_media(media: MediaRepository, request: web.Request) -> MediaFile:
    """:func:`find_media` for the unauthenticated legacy endpoints: media created after
    the freeze is 404 there, before waiting for it and after fetching it (remote media
    cached now counts as new)."""
    created = media.created_ts(request.match_info["serverName"], request.match_info["mediaId"])
    if created is not None and not media.legacy_visible(created):
        raise _frozen()
    found = await find_media(media, request)
    if not media.legacy_visible(found.metadata.created_ts):
        raise _frozen()
    return found


def serve_file(path: Path, *, content_type: str, disposition: str, cache: str) -> web.FileResponse:
    """``path`` with the safe headers (CSP sandbox, nosniff, CORP) and ``cache``;
    sendfile and single ``Range`` requests by aiohttp."""
    if not path.is_file():
        # The metadata outlived its file (see media_startup_check).
        raise not_found("The media's file is missing")
    headers = {
        "Content-Type": content_type,
        "Content-Disposition": disposition,
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Resource-Policy": "cross-origin",
        "Cache-Control": cache,
    }
    return web.FileResponse(path, chunk_size=CHUNK, headers=headers)


def serve_media(found: MediaFile, *, filename: str | None, cache: str) -> web.FileResponse:
    """A stored media as its download: its content type, inline or attachment by type."""
    content_type = found.metadata.content_type or "application/octet-stream"
    return serve_file(
        found.path,
        content_type=content_type,
        disposition=content_disposition(content_type, filename or found.metadata.filename),
        cache=cache,
    )
