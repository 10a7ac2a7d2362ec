"""GET /capabilities: what a client may change here (client-server API "Capabilities")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from conduwuit.api.auth import requester
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.config import GlobalConfig
from conduwuit.core.room_versions import capabilities


def room_versions(config: GlobalConfig) -> dict[str, object]:
    """The registry's versions this server creates and joins (1-5 only with
    ``allow_unstable_room_versions``), each as the spec (or its MSC) marks it."""
    return capabilities(config.allow_unstable_room_versions, config.default_room_version)


class CapabilitiesHandlers:
    def __init__(self, config: GlobalConfig, is_admin: Callable[[str], bool]) -> None:
        self.config = config
        self.is_admin = is_admin

    async def capabilities(self, request: web.Request) -> web.Response:
        found: dict[str, Any] = {
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
        if self.is_admin(requester(request).user_id):
            # Spec v1.18: server admins may lock and suspend accounts through
            # /v1/admin/lock|suspend (api/admin/moderation.py); omitted for others.
            found["m.account_moderation"] = {"suspend": True, "lock": True}
        return web.json_response({"capabilities": found})

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


def routes(config: GlobalConfig, is_admin: Callable[[str], bool]) -> list[Route]:
    return CapabilitiesHandlers(config, is_admin).routes()
