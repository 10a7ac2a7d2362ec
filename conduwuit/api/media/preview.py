"""GET preview_url: the OpenGraph data of a web page (or image) for a client.

Spec v1.11: ``GET /_matrix/client/v1/media/preview_url`` (authenticated); the legacy
``/_matrix/media/{r0,v1,v3}/preview_url`` needed an access token too, so it stays
authenticated, and is routed while ``allow_legacy_media`` is on. The previewer
(service/media/preview.py) applies the URL lists and the SSRF protections; its
refusals are Matrix errors this handler lets through.

Previews are off by default (every allowlist empty). The route is registered anyway
and a URL the lists do not allow is 403 M_FORBIDDEN, as conduwuit answers ("URL is
not allowed to be previewed"); Synapse instead does not register the route when
``url_preview_enabled`` is false (404 M_UNRECOGNIZED). 403 tells a client that the
endpoint exists and that this URL (maybe every URL) will not be previewed, which is
the truth, and a per-URL policy (the lists) can only be expressed this way.
"""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.auth import requester
from conduwuit.api.media.serving import AUTHED_PREFIX, LEGACY_VERSIONS, media_paths
from conduwuit.api.query import optional_int_param
from conduwuit.api.router import Auth, Route
from conduwuit.core.errors import missing_param
from conduwuit.service.media.preview import Previewer


class PreviewHandlers:
    def __init__(self, previewer: Previewer, *, allow_legacy: bool) -> None:
        self._previewer = previewer
        self._allow_legacy = allow_legacy

    async def preview_url(self, request: web.Request) -> web.Response:
        who = requester(request)
        url = request.query.get("url")
        if not url:
            raise missing_param("url is required")
        ts = optional_int_param(request, "ts")
        og = await self._previewer.preview(url, ts, requester=who.user_id)
        return web.json_response(og)

    def routes(self) -> list[Route]:
        paths: tuple[str, ...] = (f"{AUTHED_PREFIX}/preview_url",)
        if self._allow_legacy:
            paths += media_paths("/preview_url", LEGACY_VERSIONS)
        return [Route("GET", paths, self.preview_url, Auth.ACCESS_TOKEN)]


def routes(previewer: Previewer, *, allow_legacy: bool) -> list[Route]:
    return PreviewHandlers(previewer, allow_legacy=allow_legacy).routes()
