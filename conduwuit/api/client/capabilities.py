"""GET /capabilities: what a client may change here (client-server API "Capabilities")."""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.config import GlobalConfig
from conduwuit.core.room_versions import capabilities


def room_versions(config: GlobalConfig) -> dict[str, object]:
    """The registry's versions this server creates and joins (1-5 only with
    ``allow_unstable_room_versions``), each as the spec (or its MSC) marks it."""
    return capabilities(config.allow_unstable_room_versions, config.default_room_version)


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
