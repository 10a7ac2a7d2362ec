"""Joins, leaves and knocks of other servers' users on resident rooms, and invites
of our users (server-server API): ``make_join``/``send_join`` (v1, v2),
``make_leave``/``send_leave`` (v1, v2), ``make_knock``/``send_knock``,
``invite`` (v1, v2). The checks are in ``service/federation/room_membership.py``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from conduwuit.api.federation.auth import federation_body, origin
from conduwuit.api.query import bool_param
from conduwuit.api.router import Auth, Route
from conduwuit.core.errors import bad_json
from conduwuit.core.membership import MembershipState
from conduwuit.service.federation.room_membership import FederationMembership

V1 = "/_matrix/federation/v1"
V2 = "/_matrix/federation/v2"
#: The body of an invite carries the room's stripped state as well as the event.
INVITE_BODY = 1024 * 1024


def _object(request: web.Request) -> dict[str, Any]:
    body = federation_body(request)
    if not isinstance(body, dict):
        raise bad_json("The body must be a JSON object.")
    return body


class FederationMembershipHandlers:
    def __init__(self, membership: FederationMembership) -> None:
        self.membership = membership

    async def _make(self, request: web.Request, membership: str) -> web.Response:
        versions = request.query.getall("ver", None)
        if membership == MembershipState.JOIN and versions is None:
            versions = ["1"]  # the spec's default for make_join
        answer = await self.membership.make(
            origin(request),
            request.match_info["room_id"],
            request.match_info["user_id"],
            membership,
            versions,
        )
        return web.json_response(answer)

    async def make_join(self, request: web.Request) -> web.Response:
        return await self._make(request, MembershipState.JOIN)

    async def make_leave(self, request: web.Request) -> web.Response:
        return await self._make(request, MembershipState.LEAVE)

    async def make_knock(self, request: web.Request) -> web.Response:
        return await self._make(request, MembershipState.KNOCK)

    async def _send(self, request: web.Request, membership: str) -> Any:
        room_id = request.match_info["room_id"]
        sent = await self.membership.send(
            origin(request),
            room_id,
            request.match_info["event_id"],
            _object(request),
            membership,
        )
        return sent, room_id

    async def send_join_v1(self, request: web.Request) -> web.Response:
        sent, room_id = await self._send(request, MembershipState.JOIN)
        rv = self.membership.access.room_version(room_id)
        assert rv is not None
        return web.json_response([200, self.membership.join_answer(sent, rv, False)])

    async def send_join_v2(self, request: web.Request) -> web.Response:
        # Parsed first: a bad value (not true/false) is 400 M_INVALID_PARAM and the
        # join is not taken in (MSC3706).
        omit_members = bool_param(request, "omit_members")
        sent, room_id = await self._send(request, MembershipState.JOIN)
        rv = self.membership.access.room_version(room_id)
        assert rv is not None
        return web.json_response(self.membership.join_answer(sent, rv, omit_members))

    async def send_leave_v1(self, request: web.Request) -> web.Response:
        await self._send(request, MembershipState.LEAVE)
        return web.json_response([200, {}])

    async def send_leave_v2(self, request: web.Request) -> web.Response:
        await self._send(request, MembershipState.LEAVE)
        return web.json_response({})

    async def send_knock(self, request: web.Request) -> web.Response:
        _, room_id = await self._send(request, MembershipState.KNOCK)
        state = self.membership.stripped_state(room_id)
        return web.json_response({"knock_room_state": state, "knock_state_events": state})

    async def invite_v1(self, request: web.Request) -> web.Response:
        room_id = request.match_info["room_id"]
        rv = self.membership.access.room_version(room_id)
        # v1 carries no room version: only rooms this server knows, or version 1.
        event = await self.membership.invite(
            origin(request),
            room_id,
            request.match_info["event_id"],
            _object(request),
            rv.identifier if rv is not None else "1",
            None,
        )
        return web.json_response([200, {"event": event}])

    async def invite_v2(self, request: web.Request) -> web.Response:
        body = _object(request)
        version = body.get("room_version")
        if not isinstance(version, str):
            raise bad_json("room_version must be a string.")
        event = await self.membership.invite(
            origin(request),
            request.match_info["room_id"],
            request.match_info["event_id"],
            body.get("event"),
            version,
            body.get("invite_room_state"),
        )
        return web.json_response({"event": event})

    def routes(self) -> list[Route]:
        signed = Auth.SERVER_SIGNATURE
        user_path = "{room_id}/{user_id}"
        event_path = "{room_id}/{event_id}"
        return [
            Route("GET", (f"{V1}/make_join/{user_path}",), self.make_join, signed),
            Route("GET", (f"{V1}/make_leave/{user_path}",), self.make_leave, signed),
            Route("GET", (f"{V1}/make_knock/{user_path}",), self.make_knock, signed),
            Route("PUT", (f"{V1}/send_join/{event_path}",), self.send_join_v1, signed),
            Route("PUT", (f"{V2}/send_join/{event_path}",), self.send_join_v2, signed),
            Route("PUT", (f"{V1}/send_leave/{event_path}",), self.send_leave_v1, signed),
            Route("PUT", (f"{V2}/send_leave/{event_path}",), self.send_leave_v2, signed),
            Route("PUT", (f"{V1}/send_knock/{event_path}",), self.send_knock, signed),
            Route(
                "PUT", (f"{V1}/invite/{event_path}",), self.invite_v1, signed, max_body=INVITE_BODY
            ),
            Route(
                "PUT", (f"{V2}/invite/{event_path}",), self.invite_v2, signed, max_body=INVITE_BODY
            ),
        ]


def routes(membership: FederationMembership) -> list[Route]:
    return FederationMembershipHandlers(membership).routes()
