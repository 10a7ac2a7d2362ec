"""``/hierarchy`` (spaces) and ``/user_directory/search``."""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.client.rooms.params import me, room_id
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.api.wire import json_body
from conduwuit.core.errors import ErrCode, MatrixError
from conduwuit.service.rooms.hierarchy import Hierarchy
from conduwuit.service.user_directory import UserDirectory


def _optional_int(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise MatrixError(ErrCode.INVALID_PARAM, f"{name} must be an integer") from None


def routes(hierarchy: Hierarchy, directory: UserDirectory) -> list[Route]:
    async def get_hierarchy(request: web.Request) -> web.Response:
        body = hierarchy.hierarchy(
            me(request),
            room_id(request),
            suggested_only=request.query.get("suggested_only") == "true",
            max_depth=_optional_int(request, "max_depth"),
            limit=_optional_int(request, "limit"),
            from_token=request.query.get("from"),
        )
        return web.json_response(body)

    async def search_users(request: web.Request) -> web.Response:
        body = await json_body(request)
        term = body.get("search_term")
        if not isinstance(term, str):
            raise MatrixError(ErrCode.MISSING_PARAM, "Missing parameter: search_term")
        limit = body.get("limit", 10)
        if not isinstance(limit, int):
            raise MatrixError(ErrCode.BAD_JSON, "limit must be an integer")
        return web.json_response(directory.search(me(request), term, limit))

    return [
        Route(
            "GET",
            client_paths("/rooms/{room_id}/hierarchy", versions=("v1",)),
            get_hierarchy,
            Auth.ACCESS_TOKEN,
        ),
        Route("POST", client_paths("/user_directory/search"), search_users, Auth.ACCESS_TOKEN),
    ]
