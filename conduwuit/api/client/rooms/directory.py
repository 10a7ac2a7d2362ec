"""Aliases and the published room directory (client-server API "Room aliases",
"Room directory"; ``/publicRooms``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from conduwuit.api.client.rooms.params import me, room_id
from conduwuit.api.query import optional_int_param
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.api.wire import json_body
from conduwuit.core.errors import (
    ErrCode,
    MatrixError,
    bad_json,
    federation_unavailable,
    forbidden,
    invalid_param,
)
from conduwuit.core.ids import RoomAlias, RoomId, ServerName
from conduwuit.service.federation.queries import FederationQueries
from conduwuit.service.rooms.directory import Directory


def _alias(request: web.Request) -> RoomAlias:
    try:
        return RoomAlias.parse(request.match_info["alias"])
    except ValueError as exc:
        raise invalid_param(f"Invalid room alias: {exc}") from None


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class DirectoryHandlers:
    def __init__(
        self,
        directory: Directory,
        public_without_auth: bool = False,
        remote: FederationQueries | None = None,
        forbidden_servers: frozenset[str] = frozenset(),
    ) -> None:
        self.directory = directory
        self.public_without_auth = public_without_auth
        self.remote = remote
        #: forbidden_remote_room_directory_server_names (conduwuit's option).
        self.forbidden_servers = forbidden_servers

    async def get_alias(self, request: web.Request) -> web.Response:
        alias = _alias(request)
        server = str(alias.server_name)
        if self.remote is not None and server != self.directory.actions.config.server_name:
            # Another server's alias: asked over federation, its 404 passed on.
            return web.json_response(await self.remote.alias(str(alias), server))
        return web.json_response(await self.directory.lookup(alias))

    async def put_alias(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        raw = body.get("room_id")
        if not isinstance(raw, str):
            raise MatrixError(
                ErrCode.MISSING_PARAM if raw is None else ErrCode.BAD_JSON, "room_id is required"
            )
        try:
            target = RoomId.parse(raw)
        except ValueError as exc:
            raise invalid_param(f"Invalid room ID: {exc}") from None
        self.directory.create(me(request), _alias(request), target)
        return web.json_response({})

    async def delete_alias(self, request: web.Request) -> web.Response:
        await self.directory.delete_and_unset(me(request), _alias(request))
        return web.json_response({})

    async def room_aliases(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"aliases": self.directory.room_aliases(me(request), room_id(request))}
        )

    async def get_visibility(self, request: web.Request) -> web.Response:
        return web.json_response({"visibility": self.directory.visibility(room_id(request))})

    async def put_visibility(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        visibility = body.get("visibility", "public")
        if not isinstance(visibility, str):
            raise bad_json("visibility must be a string")
        self.directory.set_visibility(me(request), room_id(request), visibility)
        return web.json_response({})

    def _limit(self, value: Any) -> int | None:
        if value is None:
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise invalid_param("limit must be an integer") from None

    def _remote_server(self, request: web.Request) -> str | None:
        """``server``: another server whose directory is asked over federation, or
        None for ours."""
        server = request.query.get("server")
        # An empty ``server`` is this server, as in Synapse (``if server and ...``).
        if not server or server == self.directory.actions.config.server_name:
            return None
        try:
            ServerName.parse(server)
        except ValueError:
            raise invalid_param(f"server {server!r} is not a server name") from None
        if server in self.forbidden_servers:
            # conduwuit's answer (forbidden_remote_room_directory_server_names).
            raise forbidden("This server's room directory may not be asked for here")
        if self.remote is None:
            raise federation_unavailable("Listing another server's public rooms")
        return server

    async def get_public(self, request: web.Request) -> web.Response:
        server = self._remote_server(request)
        limit = optional_int_param(request, "limit")
        since = request.query.get("since")
        if server is not None and self.remote is not None:
            page = await self.remote.public_rooms(server, limit=limit, since=since)
            return web.json_response(page)
        return web.json_response(self.directory.public_rooms(limit, since))

    async def post_public(self, request: web.Request) -> web.Response:
        server = self._remote_server(request)
        body = await json_body(request)
        search_filter = body.get("filter") or {}
        if not isinstance(search_filter, dict):
            raise bad_json("filter must be an object")
        term = search_filter.get("generic_search_term")
        since = body.get("since")
        room_types = self._room_types(search_filter)
        limit = self._limit(body.get("limit"))
        if server is not None and self.remote is not None:
            page = await self.remote.public_rooms(
                server,
                limit=limit,
                since=since if isinstance(since, str) else None,
                search_filter=search_filter,
                include_all_networks=body.get("include_all_networks") is True,
                third_party_instance_id=_optional_str(body.get("third_party_instance_id")),
            )
            return web.json_response(page)
        result = self.directory.public_rooms(
            limit,
            since if isinstance(since, str) else None,
            term if isinstance(term, str) else None,
            room_types,
        )
        return web.json_response(result)

    def _room_types(self, search_filter: Any) -> list[str | None] | None:
        """``filter.room_types`` (spec v1.4): room types to list, ``null`` for untyped rooms."""
        if not isinstance(search_filter, dict) or search_filter.get("room_types") is None:
            return None
        room_types = search_filter["room_types"]
        if not isinstance(room_types, list) or not all(
            t is None or isinstance(t, str) for t in room_types
        ):
            raise bad_json("room_types must be a list of strings or null")
        return room_types

    def routes(self) -> list[Route]:
        alias_paths = client_paths("/directory/room/{alias}")
        visibility_paths = client_paths("/directory/list/room/{room_id}")
        public_auth = Auth.OPTIONAL_ACCESS_TOKEN if self.public_without_auth else Auth.ACCESS_TOKEN
        return [
            Route("GET", alias_paths, self.get_alias, Auth.OPTIONAL_ACCESS_TOKEN),
            Route("PUT", alias_paths, self.put_alias, Auth.ACCESS_TOKEN),
            Route("DELETE", alias_paths, self.delete_alias, Auth.ACCESS_TOKEN),
            Route(
                "GET",
                client_paths("/rooms/{room_id}/aliases"),
                self.room_aliases,
                Auth.ACCESS_TOKEN,
            ),
            Route("GET", visibility_paths, self.get_visibility, Auth.NONE),
            Route("PUT", visibility_paths, self.put_visibility, Auth.ACCESS_TOKEN),
            Route("GET", client_paths("/publicRooms"), self.get_public, public_auth),
            Route("POST", client_paths("/publicRooms"), self.post_public, public_auth),
        ]


def routes(
    directory: Directory,
    public_without_auth: bool = False,
    remote: FederationQueries | None = None,
    forbidden_servers: frozenset[str] = frozenset(),
) -> list[Route]:
    return DirectoryHandlers(directory, public_without_auth, remote, forbidden_servers).routes()
