"""Server-side key backups: /room_keys/version and /room_keys/keys at three levels."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import StrictStr

from conduwuit.api.client.e2ee_common import RequesterOf
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.api.wire import WireModel, json_body, parse, parse_body
from conduwuit.core.errors import missing_param
from conduwuit.service.e2ee import KeyBackups

VERSIONS = ("r0", "v3", "unstable")


class VersionBody(WireModel):
    algorithm: Any
    auth_data: Any
    version: StrictStr | None = None


class RoomBody(WireModel):
    sessions: dict[StrictStr, Any]


class AllRoomsBody(WireModel):
    rooms: dict[StrictStr, RoomBody]


def _version_param(request: web.Request) -> str:
    version = request.query.get("version")
    if version is None:
        raise missing_param("Missing parameter: version")
    return version


class RoomKeysHandlers:
    def __init__(self, backups: KeyBackups, *, requester: RequesterOf) -> None:
        self.backups = backups
        self.requester = requester

    def user(self, request: web.Request) -> str:
        return self.requester(request).user_id

    async def create_version(self, request: web.Request) -> web.Response:
        body = await parse_body(request, VersionBody)
        version = self.backups.create_version(self.user(request), body.algorithm, body.auth_data)
        return web.json_response({"version": version})

    async def get_latest(self, request: web.Request) -> web.Response:
        return web.json_response(self.backups.get_version(self.user(request)))

    async def get_version(self, request: web.Request) -> web.Response:
        return web.json_response(
            self.backups.get_version(self.user(request), request.match_info["version"])
        )

    async def update_version(self, request: web.Request) -> web.Response:
        body = await parse_body(request, VersionBody)
        self.backups.update_version(
            self.user(request),
            request.match_info["version"],
            body.algorithm,
            body.auth_data,
            body.version,
        )
        return web.json_response({})

    async def delete_version(self, request: web.Request) -> web.Response:
        self.backups.delete_version(self.user(request), request.match_info["version"])
        return web.json_response({})

    def _room_and_session(self, request: web.Request) -> tuple[str | None, str | None]:
        return request.match_info.get("room_id"), request.match_info.get("session_id")

    async def put_keys(self, request: web.Request) -> web.Response:
        version = _version_param(request)
        room_id, session_id = self._room_and_session(request)
        raw = await json_body(request)
        rooms: dict[str, dict[str, Any]]
        if room_id is None:
            rooms = {r: dict(b.sessions) for r, b in parse(AllRoomsBody, raw).rooms.items()}
        elif session_id is None:
            rooms = {room_id: dict(parse(RoomBody, raw).sessions)}
        else:
            rooms = {room_id: {session_id: raw}}
        return web.json_response(self.backups.put_keys(self.user(request), version, rooms))

    async def get_keys(self, request: web.Request) -> web.Response:
        room_id, session_id = self._room_and_session(request)
        found = self.backups.get_keys(
            self.user(request), _version_param(request), room_id, session_id
        )
        return web.json_response(found)

    async def delete_keys(self, request: web.Request) -> web.Response:
        room_id, session_id = self._room_and_session(request)
        result = self.backups.delete_keys(
            self.user(request), _version_param(request), room_id, session_id
        )
        return web.json_response(result)

    def paths(self, path: str) -> tuple[str, ...]:
        return client_paths(path, versions=VERSIONS)

    def routes(self) -> list[Route]:
        version_paths = self.paths("/room_keys/version")
        one_version = self.paths("/room_keys/version/{version}")
        routes = [
            Route("POST", version_paths, self.create_version, Auth.ACCESS_TOKEN),
            Route("GET", version_paths, self.get_latest, Auth.ACCESS_TOKEN),
            Route("GET", one_version, self.get_version, Auth.ACCESS_TOKEN),
            Route("PUT", one_version, self.update_version, Auth.ACCESS_TOKEN),
            Route("DELETE", one_version, self.delete_version, Auth.ACCESS_TOKEN),
        ]
        for level in (
            "/room_keys/keys",
            "/room_keys/keys/{room_id}",
            "/room_keys/keys/{room_id}/{session_id}",
        ):
            routes += [
                Route("PUT", self.paths(level), self.put_keys, Auth.ACCESS_TOKEN, max_body=None),
                Route("GET", self.paths(level), self.get_keys, Auth.ACCESS_TOKEN),
                Route("DELETE", self.paths(level), self.delete_keys, Auth.ACCESS_TOKEN),
            ]
        return routes


def routes(backups: KeyBackups, *, requester: RequesterOf) -> list[Route]:
    return RoomKeysHandlers(backups, requester=requester).routes()
