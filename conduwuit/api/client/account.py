"""Account management: password change, deactivation, 3PIDs (not supported).

Client-server API "Account registration and management" and "Adding Account
Administrative Contact Information".
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import StrictBool, StrictStr

from conduwuit.api.auth import requester
from conduwuit.api.client.register import check_password_length
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.api.wire import WireModel, parse_body
from conduwuit.core.errors import ErrCode, MatrixError
from conduwuit.service.uiaa import PASSWORD, Uiaa
from conduwuit.service.users.registration import Registration


class ChangePasswordBody(WireModel):
    new_password: StrictStr
    logout_devices: StrictBool = True
    auth: dict[str, Any] | None = None


class DeactivateBody(WireModel):
    auth: dict[str, Any] | None = None
    erase: StrictBool = False
    id_server: StrictStr | None = None


class AccountHandlers:
    def __init__(self, registration: Registration, uiaa: Uiaa) -> None:
        self.registration = registration
        self.uiaa = uiaa

    async def change_password(self, request: web.Request) -> web.Response:
        who = requester(request)
        body = await parse_body(request, ChangePasswordBody)
        check_password_length(body.new_password)
        await self.uiaa.authenticate(body.auth, [[PASSWORD]], user_id=who.user_id)
        # "the server SHOULD ... log out all devices except the one used for the request"
        await self.registration.change_password(
            who.user_id,
            body.new_password,
            logout_devices=body.logout_devices,
            keep_device=who.device_id,
        )
        return web.json_response({})

    async def deactivate(self, request: web.Request) -> web.Response:
        who = requester(request)
        body = await parse_body(request, DeactivateBody)
        await self.uiaa.authenticate(body.auth, [[PASSWORD]], user_id=who.user_id)
        await self.registration.deactivate(who.user_id, erase=body.erase)
        # No identity server binding is ever made here.
        # The spec: "success" when the server has no identifiers to unbind (it never
        # binds any); Synapse answers the same.
        return web.json_response({"id_server_unbind_result": "success"})

    async def threepids(self, request: web.Request) -> web.Response:
        return web.json_response({"threepids": []})

    async def threepid_unsupported(self, request: web.Request) -> web.Response:
        # Synapse's answer when no e-mail/SMS sending is configured.
        raise MatrixError(
            ErrCode.THREEPID_DENIED,
            "Third-party identifiers are not supported on this server.",
            status=403,
        )

    async def request_token_unsupported(self, request: web.Request) -> web.Response:
        raise MatrixError(
            ErrCode.THREEPID_DENIED,
            "This server does not send e-mail or SMS validation tokens.",
            status=403,
        )

    async def unbind(self, request: web.Request) -> web.Response:
        # The spec: "success" when the server has no identifiers to unbind (it never
        # binds any); Synapse answers the same.
        return web.json_response({"id_server_unbind_result": "success"})

    def routes(self) -> list[Route]:
        routes = [
            Route(
                "POST", client_paths("/account/password"), self.change_password, Auth.ACCESS_TOKEN
            ),
            Route("POST", client_paths("/account/deactivate"), self.deactivate, Auth.ACCESS_TOKEN),
            Route("GET", client_paths("/account/3pid"), self.threepids, Auth.ACCESS_TOKEN),
        ]
        for path in ("/account/3pid", "/account/3pid/add", "/account/3pid/bind"):
            routes.append(
                Route("POST", client_paths(path), self.threepid_unsupported, Auth.ACCESS_TOKEN)
            )
        for path in ("/account/3pid/delete", "/account/3pid/unbind"):
            routes.append(Route("POST", client_paths(path), self.unbind, Auth.ACCESS_TOKEN))
        for path in (
            "/register/email/requestToken",
            "/register/msisdn/requestToken",
            "/account/password/email/requestToken",
            "/account/password/msisdn/requestToken",
            "/account/3pid/email/requestToken",
            "/account/3pid/msisdn/requestToken",
        ):
            routes.append(Route("POST", client_paths(path), self.request_token_unsupported))
        return routes


def routes(registration: Registration, uiaa: Uiaa) -> list[Route]:
    return AccountHandlers(registration, uiaa).routes()
