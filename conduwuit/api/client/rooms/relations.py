"""``/relations`` and ``/threads`` (client-server API "Relationships", "Threading")."""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.client.rooms.params import int_query, me, room_id
from conduwuit.api.query import bool_param
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.service.rooms.relations import Relations


class RelationHandlers:
    def __init__(self, relations: Relations) -> None:
        self.relations = relations

    async def get_relations(self, request: web.Request) -> web.Response:
        body = self.relations.relations(
            me(request),
            room_id(request),
            request.match_info["event_id"],
            rel_type=request.match_info.get("rel_type"),
            event_type=request.match_info.get("event_type"),
            from_token=request.query.get("from"),
            to_token=request.query.get("to"),
            limit=int_query(request, "limit", 50),
            direction=request.query.get("dir", "b"),
            recurse=bool_param(request, "recurse"),
        )
        return web.json_response(body)

    async def get_threads(self, request: web.Request) -> web.Response:
        body = self.relations.threads(
            me(request),
            room_id(request),
            include=request.query.get("include", "all"),
            limit=int_query(request, "limit", 20),
            from_token=request.query.get("from"),
        )
        return web.json_response(body)

    def routes(self) -> list[Route]:
        room = "/rooms/{room_id}"
        relation_base = room + "/relations/{event_id}"
        relation_paths = (
            client_paths(relation_base, versions=("v1",))
            + client_paths(relation_base + "/{rel_type}", versions=("v1",))
            + client_paths(relation_base + "/{rel_type}/{event_type}", versions=("v1",))
        )
        token = Auth.ACCESS_TOKEN
        return [
            Route("GET", relation_paths, self.get_relations, token),
            Route(
                "GET", client_paths(room + "/threads", versions=("v1",)), self.get_threads, token
            ),
        ]


def routes(relations: Relations) -> list[Route]:
    return RelationHandlers(relations).routes()
