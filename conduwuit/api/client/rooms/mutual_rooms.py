"""``GET /_matrix/client/unstable/uk.half-shot.msc2666/user/mutual_rooms`` (MSC2666,
mutual rooms): the rooms the requester and another user are both joined to."""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.client.rooms.params import me, user_id
from conduwuit.api.router import Auth, Route
from conduwuit.core.membership import MembershipState
from conduwuit.service.rooms.member_index import MemberIndex


class MutualRoomsHandlers:
    def __init__(self, members: MemberIndex) -> None:
        self.members = members

    async def mutual_rooms(self, request: web.Request) -> web.Response:
        other = user_id(request.query.get("user_id"))
        mine = {r.room_id for r in self.members.rooms_of(str(me(request)), (MembershipState.JOIN,))}
        theirs = {r.room_id for r in self.members.rooms_of(str(other), (MembershipState.JOIN,))}
        return web.json_response({"joined": sorted(mine & theirs)})

    def routes(self) -> list[Route]:
        return [
            Route(
                "GET",
                ("/_matrix/client/unstable/uk.half-shot.msc2666/user/mutual_rooms",),
                self.mutual_rooms,
                Auth.ACCESS_TOKEN,
            )
        ]


def routes(members: MemberIndex) -> list[Route]:
    return MutualRoomsHandlers(members).routes()
