"""``POST /createRoom`` (client-server API "Creation")."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import StrictBool, StrictStr

from conduwuit.api.client.rooms.params import me, user_id
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.api.wire import WireModel, canonical_body, parse
from conduwuit.core.errors import ErrCode, MatrixError
from conduwuit.core.ids import UserId
from conduwuit.core.room_creation import PlannedEvent
from conduwuit.service.ratelimit import RateLimits
from conduwuit.service.rooms.actions import CreateRoom, RoomActions
from conduwuit.service.users.shadow_bans import ShadowBans


class StateEventBody(WireModel):
    type: StrictStr
    state_key: StrictStr = ""
    content: dict[str, Any]


class CreateRoomBody(WireModel):
    visibility: Literal["public", "private"] = "private"
    room_alias_name: StrictStr | None = None
    name: StrictStr | None = None
    topic: StrictStr | None = None
    invite: list[StrictStr] = []
    invite_3pid: list[dict[str, Any]] = []
    room_version: StrictStr | None = None
    creation_content: dict[str, Any] = {}
    initial_state: list[StateEventBody] = []
    preset: Literal["private_chat", "public_chat", "trusted_private_chat"] | None = None
    is_direct: StrictBool = False
    power_level_content_override: dict[str, Any] | None = None
    room_id: StrictStr | None = None


class CreateHandlers:
    def __init__(self, actions: RoomActions, limits: RateLimits, shadow_bans: ShadowBans) -> None:
        self.actions = actions
        self.limits = limits
        self.shadow_bans = shadow_bans

    async def create_room(self, request: web.Request) -> web.Response:
        body = parse(CreateRoomBody, await canonical_body(request))
        if body.invite_3pid:
            raise MatrixError(ErrCode.UNRECOGNIZED, "Third-party invites are not supported")
        request_ = CreateRoom(
            preset=body.preset,
            visibility=body.visibility,
            room_alias_name=body.room_alias_name,
            name=body.name,
            topic=body.topic,
            invite=self.invites(request, tuple(user_id(u, "invite") for u in body.invite)),
            is_direct=body.is_direct,
            initial_state=tuple(
                PlannedEvent(e.type, e.content, e.state_key) for e in body.initial_state
            ),
            creation_content=body.creation_content,
            power_level_content_override=body.power_level_content_override,
            room_version=body.room_version,
            room_id=body.room_id,
        )
        # Once per room, after the body is known good (Synapse: "rate limit once in
        # advance", not per initial event); the invites in it are not charged.
        self.limits.user(self.limits.room_creation, str(me(request)))
        room_id = await self.actions.create_room(me(request), request_)
        return web.json_response({"room_id": room_id})

    def invites(self, request: web.Request, invites: tuple[UserId, ...]) -> tuple[UserId, ...]:
        """The invites to send: none for a shadow-banned creator (Synapse creates the
        room and drops them, after checking that each is a valid user ID)."""
        return () if self.shadow_bans.is_banned(str(me(request))) else invites

    def routes(self) -> list[Route]:
        return [Route("POST", client_paths("/createRoom"), self.create_room, Auth.ACCESS_TOKEN)]


def routes(actions: RoomActions, limits: RateLimits, shadow_bans: ShadowBans) -> list[Route]:
    return CreateHandlers(actions, limits, shadow_bans).routes()
