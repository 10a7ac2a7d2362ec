"""Reads of resident rooms by other servers (server-server API): ``/event``,
``/state``, ``/state_ids``, ``/event_auth``, ``/backfill``,
``/get_missing_events`` and ``/timestamp_to_event``. Each checks the room's server
ACL, that the origin is in the room and that it may see what it asks for
(``service/federation/room_access.py``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from conduwuit.api.federation.auth import federation_body, origin
from conduwuit.api.query import int_param, optional_int_param
from conduwuit.api.router import Auth, Route
from conduwuit.core.errors import bad_json, missing_param
from conduwuit.service.federation.room_reads import RoomReads

V1 = "/_matrix/federation/v1"


def _query(request: web.Request, name: str) -> str:
    value = request.query.get(name)
    if value is None:
        raise missing_param(f"Missing query parameter: {name}")
    return value


def _id_list(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_json(f"{name} must be a list of event IDs.")
    return value


def _int(body: dict[str, Any], name: str, default: int) -> int:
    value = body.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise bad_json(f"{name} must be a non-negative integer.")
    return value


class FederationRoomReadHandlers:
    def __init__(self, reads: RoomReads) -> None:
        self.reads = reads

    async def event(self, request: web.Request) -> web.Response:
        return web.json_response(self.reads.event(origin(request), request.match_info["event_id"]))

    async def state(self, request: web.Request) -> web.Response:
        event_id = _query(request, "event_id")
        room_id = request.match_info["room_id"]
        await self.reads.full_state(room_id)
        return web.json_response(self.reads.state(origin(request), room_id, event_id))

    async def state_ids(self, request: web.Request) -> web.Response:
        event_id = _query(request, "event_id")
        room_id = request.match_info["room_id"]
        await self.reads.full_state(room_id)
        return web.json_response(self.reads.state_ids(origin(request), room_id, event_id))

    async def event_auth(self, request: web.Request) -> web.Response:
        room_id, event_id = request.match_info["room_id"], request.match_info["event_id"]
        return web.json_response(self.reads.event_auth(origin(request), room_id, event_id))

    async def backfill(self, request: web.Request) -> web.Response:
        starts = request.query.getall("v", [])
        limit = int_param(request, "limit", 10)
        room_id = request.match_info["room_id"]
        return web.json_response(self.reads.backfill(origin(request), room_id, starts, limit))

    async def missing_events(self, request: web.Request) -> web.Response:
        body = federation_body(request)
        if not isinstance(body, dict):
            raise bad_json("The body must be a JSON object.")
        answer = self.reads.missing_events(
            origin(request),
            request.match_info["room_id"],
            _id_list(body, "earliest_events"),
            _id_list(body, "latest_events"),
            _int(body, "limit", 10),
            _int(body, "min_depth", 0),
        )
        return web.json_response(answer)

    async def timestamp_to_event(self, request: web.Request) -> web.Response:
        ts = optional_int_param(request, "ts")
        if ts is None:
            raise missing_param("Missing query parameter: ts")
        direction = _query(request, "dir")
        room_id = request.match_info["room_id"]
        answer = self.reads.timestamp_to_event(origin(request), room_id, ts, direction)
        return web.json_response(answer)

    def routes(self) -> list[Route]:
        signed = Auth.SERVER_SIGNATURE
        return [
            Route("GET", (f"{V1}/event/{{event_id}}",), self.event, signed),
            Route("GET", (f"{V1}/state/{{room_id}}",), self.state, signed),
            Route("GET", (f"{V1}/state_ids/{{room_id}}",), self.state_ids, signed),
            Route("GET", (f"{V1}/event_auth/{{room_id}}/{{event_id}}",), self.event_auth, signed),
            Route("GET", (f"{V1}/backfill/{{room_id}}",), self.backfill, signed),
            Route("POST", (f"{V1}/get_missing_events/{{room_id}}",), self.missing_events, signed),
            Route(
                "GET",
                (f"{V1}/timestamp_to_event/{{room_id}}",),
                self.timestamp_to_event,
                signed,
            ),
        ]


def routes(reads: RoomReads) -> list[Route]:
    return FederationRoomReadHandlers(reads).routes()
