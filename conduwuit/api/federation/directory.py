"""Browsing our rooms from other servers: ``GET``/``POST
/_matrix/federation/v1/publicRooms`` and ``GET /_matrix/federation/v1/hierarchy/{roomId}``
(``service/federation/directory.py`` decides what is shown)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from conduwuit.api.federation.auth import federation_body, origin
from conduwuit.api.query import bool_param, optional_int_param
from conduwuit.api.router import Auth, Route
from conduwuit.core.errors import bad_json
from conduwuit.service.federation.directory import FederationDirectory

V1 = "/_matrix/federation/v1"


class FederationDirectoryHandlers:
    def __init__(self, directory: FederationDirectory) -> None:
        self.directory = directory

    async def get_public(self, request: web.Request) -> web.Response:
        answer = self.directory.public_rooms(
            optional_int_param(request, "limit"), request.query.get("since")
        )
        return web.json_response(answer)

    async def post_public(self, request: web.Request) -> web.Response:
        body = federation_body(request)
        if not isinstance(body, dict):
            raise bad_json("The body must be a JSON object.")
        limit = body.get("limit")
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)):
            raise bad_json("limit must be an integer.")
        since = body.get("since")
        if since is not None and not isinstance(since, str):
            raise bad_json("since must be a string.")
        search_filter = body.get("filter") or {}
        if not isinstance(search_filter, dict):
            raise bad_json("filter must be an object.")
        term = search_filter.get("generic_search_term")
        answer = self.directory.public_rooms(
            limit, since, term if isinstance(term, str) else None, _room_types(search_filter)
        )
        return web.json_response(answer)

    async def hierarchy(self, request: web.Request) -> web.Response:
        answer = self.directory.space_hierarchy(
            origin(request),
            request.match_info["room_id"],
            bool_param(request, "suggested_only"),
        )
        return web.json_response(answer)

    def routes(self) -> list[Route]:
        signed = Auth.SERVER_SIGNATURE
        return [
            Route("GET", (f"{V1}/publicRooms",), self.get_public, signed),
            Route("POST", (f"{V1}/publicRooms",), self.post_public, signed),
            Route("GET", (f"{V1}/hierarchy/{{room_id}}",), self.hierarchy, signed),
        ]


def _room_types(search_filter: dict[str, Any]) -> list[str | None] | None:
    room_types = search_filter.get("room_types")
    if room_types is None:
        return None
    if not isinstance(room_types, list) or not all(
        t is None or isinstance(t, str) for t in room_types
    ):
        raise bad_json("room_types must be a list of strings or null")
    return room_types


def routes(directory: FederationDirectory) -> list[Route]:
    return FederationDirectoryHandlers(directory).routes()
