"""GET /voip/turnServer: TURN credentials for calls (service/voip.py)."""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.auth import optional_requester
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.core.errors import ErrCode, MatrixError
from conduwuit.service.voip import Voip


class VoipHandlers:
    def __init__(self, voip: Voip) -> None:
        self._voip = voip

    async def turn_server(self, request: web.Request) -> web.Response:
        who = optional_requester(request)
        if not self._voip.config.allow_guests:
            # As Synapse: without turn_allow_guests only full accounts get credentials.
            if who is None:
                raise MatrixError(ErrCode.MISSING_TOKEN, "Missing access token.")
            if who.is_guest:
                raise MatrixError(
                    ErrCode.GUEST_ACCESS_FORBIDDEN, "Guest accounts cannot use this endpoint."
                )
        return web.json_response(self._voip.turn_server(who.user_id if who else None))

    def routes(self) -> list[Route]:
        return [
            Route(
                "GET",
                client_paths("/voip/turnServer"),
                self.turn_server,
                Auth.OPTIONAL_ACCESS_TOKEN,
                allow_guests=True,
            )
        ]
