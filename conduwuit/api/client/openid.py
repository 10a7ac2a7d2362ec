"""OpenID: POST /user/{userId}/openid/request_token (client-server API) and its
redemption, GET /_matrix/federation/v1/openid/userinfo (server-server API)."""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.client.rooms.params import me
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.api.wire import json_body
from conduwuit.core.errors import ErrCode, MatrixError, forbidden
from conduwuit.service.users.openid import OpenId


class OpenIdHandlers:
    def __init__(self, openid: OpenId, server_name: str) -> None:
        self._openid = openid
        self._server_name = server_name

    async def request_token(self, request: web.Request) -> web.Response:
        user = me(request)
        if request.match_info["user_id"] != str(user):
            raise forbidden("Cannot request an OpenID token for another user.")
        await json_body(request)  # the body is an (empty) JSON object; refuse anything else
        token = self._openid.create(str(user))
        return web.json_response(
            {
                "access_token": token.access_token,
                "token_type": "Bearer",
                "matrix_server_name": self._server_name,
                "expires_in": token.expires_in_s,
            }
        )

    async def userinfo(self, request: web.Request) -> web.Response:
        # Synapse's answers: 401 M_MISSING_TOKEN without a token, M_UNKNOWN_TOKEN for
        # an unknown or expired one (the spec names only the latter).
        token = request.query.get("access_token")
        if not token:
            raise MatrixError(ErrCode.MISSING_TOKEN, "Access token required.")
        user_id = self._openid.redeem(token)
        if user_id is None:
            raise MatrixError(ErrCode.UNKNOWN_TOKEN, "Access token unknown or expired.")
        return web.json_response({"sub": user_id})

    def routes(self) -> list[Route]:
        return [
            Route(
                "POST",
                client_paths("/user/{user_id}/openid/request_token"),
                self.request_token,
                Auth.ACCESS_TOKEN,
            ),
            Route("GET", ("/_matrix/federation/v1/openid/userinfo",), self.userinfo),
        ]
