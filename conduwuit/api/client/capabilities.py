"""GET /capabilities: what a client may change here (client-server API "Capabilities")."""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.config import GlobalConfig

#: Room versions this server can create and join, and their stability. The rooms
#: issue owns the registry; until then the list is the stable versions conduwuit
#: supports.
STABLE_ROOM_VERSIONS = ("6", "7", "8", "9", "10", "11")
UNSTABLE_ROOM_VERSIONS = ("1", "2", "3", "4", "5")


def room_versions(config: GlobalConfig) -> dict[str, object]:
    available = {version: "stable" for version in STABLE_ROOM_VERSIONS}
    if config.allow_unstable_room_versions:
        available.update({version: "unstable" for version in UNSTABLE_ROOM_VERSIONS})
    return {"default": config.default_room_version, "available": available}


class CapabilitiesHandlers:
    def __init__(self, config: GlobalConfig) -> None:
        self.config = config

    async def capabilities(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "capabilities": {
                    "m.change_password": {"enabled": True},
                    "m.room_versions": room_versions(self.config),
                    "m.set_displayname": {"enabled": True},
                    "m.set_avatar_url": {"enabled": True},
                    "m.3pid_changes": {"enabled": False},
                    "m.get_login_token": {"enabled": self.config.login_via_existing_session},
                    # Spec v1.16: every field may be changed (guests: displayname only).
                    "m.profile_fields": {"enabled": True},
                    # MSC4155: the server enforces the invitee's invite permission
                    # config, so clients need not (docs/rooms.md, "Invite permission").
                    "org.matrix.msc4155.invite_permission_config_enforced": {"enabled": True},
                }
            }
        )

    def routes(self) -> list[Route]:
        # Guests may ask too (Synapse allows it): clients fetch capabilities at start-up.
        return [
            Route(
                "GET",
                client_paths("/capabilities"),
                self.capabilities,
                Auth.ACCESS_TOKEN,
                allow_guests=True,
            )
        ]


def routes(config: GlobalConfig) -> list[Route]:
    return CapabilitiesHandlers(config).routes()
