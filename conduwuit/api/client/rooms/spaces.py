"""Spaces and room summaries: ``/hierarchy`` (client-server API "Spaces") and
``/room_summary`` (MSC3266)."""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.auth import optional_requester
from conduwuit.api.client.rooms.params import me, room_id
from conduwuit.api.query import bool_param, optional_int_param
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.core.errors import invalid_param, not_found
from conduwuit.core.ids import RoomAlias, RoomId
from conduwuit.service.rooms.aliases import Aliases
from conduwuit.service.rooms.hierarchy import Hierarchy, room_summary


class SpacesHandlers:
    def __init__(self, hierarchy: Hierarchy, aliases: Aliases) -> None:
        self.hierarchy = hierarchy
        self.aliases = aliases

    async def get_hierarchy(self, request: web.Request) -> web.Response:
        body = await self.hierarchy.hierarchy(
            me(request),
            room_id(request),
            suggested_only=bool_param(request, "suggested_only"),
            max_depth=optional_int_param(request, "max_depth"),
            limit=optional_int_param(request, "limit"),
            from_token=request.query.get("from"),
        )
        return web.json_response(body)

    async def get_summary(self, request: web.Request) -> web.Response:
        who = optional_requester(request)
        target = request.match_info["room_id_or_alias"]
        room = None
        if target.startswith("#"):
            try:
                room = self.aliases.resolve(RoomAlias.parse(target))
            except ValueError as exc:
                raise invalid_param(f"Invalid alias: {exc}") from None
        elif RoomId.is_valid(target):
            room = target
        else:
            raise invalid_param("Invalid room ID or alias")
        summary = (
            room_summary(self.hierarchy.directory, room, who.user_id if who else None)
            if room
            else None
        )
        if summary is None:
            raise not_found("Room not found or not visible")
        return web.json_response(summary)

    def routes(self) -> list[Route]:
        return [
            Route(
                "GET",
                client_paths("/rooms/{room_id}/hierarchy", versions=("v1",)),
                self.get_hierarchy,
                Auth.ACCESS_TOKEN,
            ),
            Route(
                "GET",
                (
                    *client_paths("/room_summary/{room_id_or_alias}", versions=("v1",)),
                    "/_matrix/client/unstable/im.nheko.summary/summary/{room_id_or_alias}",
                ),
                self.get_summary,
                Auth.OPTIONAL_ACCESS_TOKEN,
            ),
        ]


def routes(hierarchy: Hierarchy, aliases: Aliases) -> list[Route]:
    return SpacesHandlers(hierarchy, aliases).routes()
