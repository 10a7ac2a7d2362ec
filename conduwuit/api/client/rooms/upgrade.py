"""``POST /rooms/{roomId}/upgrade`` (client-server API "Room upgrades")."""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.client.rooms.params import me, room_id, user_id
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.api.wire import json_body
from conduwuit.core.errors import bad_json, missing_param
from conduwuit.service.rooms.upgrade import RoomUpgrades


class UpgradeHandlers:
    def __init__(self, upgrades: RoomUpgrades) -> None:
        self.upgrades = upgrades

    async def upgrade(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        version = body.get("new_version")
        if not isinstance(version, str):
            raise missing_param("Missing parameter: new_version")
        extra = body.get("additional_creators", [])
        if not isinstance(extra, list):
            raise bad_json("additional_creators must be a list")
        creators = [str(user_id(u, "additional_creators")) for u in extra]
        new_room = await self.upgrades.upgrade(me(request), room_id(request), version, creators)
        return web.json_response({"replacement_room": new_room})

    def routes(self) -> list[Route]:
        return [
            Route(
                "POST",
                client_paths("/rooms/{room_id}/upgrade"),
                self.upgrade,
                Auth.ACCESS_TOKEN,
            )
        ]


def routes(upgrades: RoomUpgrades) -> list[Route]:
    return UpgradeHandlers(upgrades).routes()
