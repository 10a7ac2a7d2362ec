"""Synapse's media admin API (service/media/admin.py): a user's media (list, delete),
one media (details, delete, quarantine), a room's media (list, quarantine), local
media by age and size, and the remote media cache. For server admins only."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from conduwuit.api.admin.access import page, require_admin
from conduwuit.api.client.rooms.params import room_id, user_id
from conduwuit.api.query import bool_param, int_param, optional_int_param
from conduwuit.api.router import Auth, Route
from conduwuit.core.errors import invalid_param, missing_param
from conduwuit.core.ids import UserId
from conduwuit.service.media.admin import MediaAdmin, MediaQuery, UsageQuery

V1 = "/_synapse/admin/v1"


def _target(request: web.Request) -> UserId:
    return user_id(request.match_info["user_id"], "user ID")


def _media(request: web.Request) -> tuple[str, str]:
    return request.match_info["server_name"], request.match_info["media_id"]


def _query(request: web.Request) -> MediaQuery:
    paging = page(request)
    # Synapse: with neither order_by nor dir, the newest media comes first.
    defaulted = "order_by" not in request.query and "dir" not in request.query
    return MediaQuery(
        start=paging.start,
        limit=paging.limit,
        order_by=request.query.get("order_by", "created_ts"),
        backwards=paging.backwards or defaulted,
    )


def _before_ts(request: web.Request) -> int:
    before_ts = optional_int_param(request, "before_ts")
    if before_ts is None:
        raise missing_param("Missing integer query parameter 'before_ts'")
    return before_ts


class MediaAdminHandlers:
    def __init__(self, admin: MediaAdmin, is_admin: Callable[[str], bool]) -> None:
        self._admin = admin
        self._is_admin = is_admin

    def _require(self, request: web.Request) -> UserId:
        return require_admin(request, self._is_admin)

    async def user_media(self, request: web.Request) -> web.Response:
        self._require(request)
        return web.json_response(self._admin.user_media(_target(request), _query(request)))

    async def delete_user_media(self, request: web.Request) -> web.Response:
        self._require(request)
        target, query = _target(request), _query(request)
        return web.json_response(await self._admin.delete_user_media(target, query))

    async def info(self, request: web.Request) -> web.Response:
        self._require(request)
        return web.json_response(self._admin.info(*_media(request)))

    async def delete(self, request: web.Request) -> web.Response:
        self._require(request)
        return web.json_response(await self._admin.delete(*_media(request)))

    async def quarantine(self, request: web.Request) -> web.Response:
        requester = self._require(request)
        self._admin.set_quarantine(str(requester), *_media(request))
        return web.json_response({})

    async def unquarantine(self, request: web.Request) -> web.Response:
        self._require(request)
        self._admin.set_quarantine(None, *_media(request))
        return web.json_response({})

    async def quarantine_user_media(self, request: web.Request) -> web.Response:
        requester = self._require(request)
        reply = self._admin.quarantine_user_media(str(requester), _target(request))
        return web.json_response(reply)

    async def protect(self, request: web.Request) -> web.Response:
        self._require(request)
        self._admin.set_protected(request.match_info["media_id"], True)
        return web.json_response({})

    async def unprotect(self, request: web.Request) -> web.Response:
        self._require(request)
        self._admin.set_protected(request.match_info["media_id"], False)
        return web.json_response({})

    async def usage(self, request: web.Request) -> web.Response:
        self._require(request)
        paging = page(request)
        query = UsageQuery(
            start=paging.start,
            limit=paging.limit,
            order_by=request.query.get("order_by", "user_id"),
            backwards=paging.backwards,
            from_ts=int_param(request, "from_ts", 0),
            until_ts=optional_int_param(request, "until_ts"),
            search_term=request.query.get("search_term"),
        )
        return web.json_response(self._admin.usage(query))

    async def room_media(self, request: web.Request) -> web.Response:
        self._require(request)
        return web.json_response(await self._admin.room_media(room_id(request)))

    async def quarantine_room_media(self, request: web.Request) -> web.Response:
        requester = self._require(request)
        reply = await self._admin.quarantine_room_media(str(requester), room_id(request))
        return web.json_response(reply)

    async def delete_before(self, request: web.Request) -> web.Response:
        self._require(request)
        # The deprecated spelling names the server: only this one's media is deleted.
        server_name = request.match_info.get("server_name")
        if server_name is not None and server_name != self._admin.server_name:
            raise invalid_param("Can only delete local media")
        before_ts = _before_ts(request)
        size_gt = int_param(request, "size_gt", 0)
        keep_profiles = bool_param(request, "keep_profiles", True)
        reply = await self._admin.delete_local_before(
            before_ts, size_gt, keep_profiles=keep_profiles
        )
        return web.json_response(reply)

    async def purge_media_cache(self, request: web.Request) -> web.Response:
        self._require(request)
        return web.json_response(await self._admin.purge_remote_cache(_before_ts(request)))

    def routes(self) -> list[Route]:
        token = Auth.ACCESS_TOKEN
        media = "{server_name}/{media_id}"
        user_media = f"{V1}/users/{{user_id}}/media"
        return [
            Route("GET", (user_media,), self.user_media, token),
            Route("DELETE", (user_media,), self.delete_user_media, token),
            Route("POST", (f"{V1}/media/delete",), self.delete_before, token),
            Route("POST", (f"{V1}/media/{{server_name}}/delete",), self.delete_before, token),
            Route("POST", (f"{V1}/media/quarantine/{media}",), self.quarantine, token),
            Route("POST", (f"{V1}/media/unquarantine/{media}",), self.unquarantine, token),
            Route("POST", (f"{V1}/media/protect/{{media_id}}",), self.protect, token),
            Route("POST", (f"{V1}/media/unprotect/{{media_id}}",), self.unprotect, token),
            Route(
                "POST",
                (f"{V1}/user/{{user_id}}/media/quarantine",),
                self.quarantine_user_media,
                token,
            ),
            Route("GET", (f"{V1}/media/{media}",), self.info, token),
            Route("DELETE", (f"{V1}/media/{media}",), self.delete, token),
            Route("POST", (f"{V1}/purge_media_cache",), self.purge_media_cache, token),
            Route("GET", (f"{V1}/room/{{room_id}}/media",), self.room_media, token),
            Route("GET", (f"{V1}/statistics/users/media",), self.usage, token),
            Route(
                "POST",
                # The second is Synapse's deprecated spelling.
                (f"{V1}/room/{{room_id}}/media/quarantine", f"{V1}/quarantine_media/{{room_id}}"),
                self.quarantine_room_media,
                token,
            ),
        ]
