"""Sessions: login, token login, refresh, logout, whoami.

Client-server API, "Login", "Refreshing access tokens", "Logout", "whoami".
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import StrictBool, StrictStr

from conduwuit.api.auth import client_ip, locked_error, requester
from conduwuit.api.client.appservice_login import (
    LOGIN_APPSERVICE,
    calling_appservice,
    check_acts_as,
)
from conduwuit.api.client.sessions import session_json
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.api.wellknown import client_document
from conduwuit.api.wire import WireModel, parse_body
from conduwuit.config import GlobalConfig
from conduwuit.core.errors import ErrCode, MatrixError, forbidden, missing_param
from conduwuit.service.appservice.registry import Appservices
from conduwuit.service.devices import Devices
from conduwuit.service.ratelimit import RateLimiter
from conduwuit.service.uiaa import PASSWORD, Uiaa
from conduwuit.service.users.accounts import Accounts
from conduwuit.service.users.login import PasswordAuth
from conduwuit.service.users.registration import Registration

LOGIN_PASSWORD = "m.login.password"
LOGIN_TOKEN = "m.login.token"


class LoginBody(WireModel):
    type: StrictStr
    identifier: dict[str, Any] | None = None
    user: StrictStr | None = None
    password: StrictStr | None = None
    token: StrictStr | None = None
    device_id: StrictStr | None = None
    initial_device_display_name: StrictStr | None = None
    refresh_token: StrictBool = False


class RefreshBody(WireModel):
    refresh_token: StrictStr


class AuthOnlyBody(WireModel):
    auth: dict[str, Any] | None = None


class LoginHandlers:
    def __init__(
        self,
        config: GlobalConfig,
        accounts: Accounts,
        devices: Devices,
        password_auth: PasswordAuth,
        registration: Registration,
        uiaa: Uiaa,
        limiter: RateLimiter,
        appservices: Appservices,
        *,
        refresh_limiter: RateLimiter,
    ) -> None:
        self.appservices = appservices
        self.config = config
        self.accounts = accounts
        self.devices = devices
        self.password_auth = password_auth
        self.registration = registration
        self.uiaa = uiaa
        self.limiter = limiter
        self.refresh_limiter = refresh_limiter

    async def login_flows(self, request: web.Request) -> web.Response:
        token_flow: dict[str, Any] = {"type": LOGIN_TOKEN}
        if self.config.login_via_existing_session:
            token_flow["get_login_token"] = True
        flows = [{"type": LOGIN_PASSWORD}, token_flow, {"type": LOGIN_APPSERVICE}]
        return web.json_response({"flows": flows})

    async def login(self, request: web.Request) -> web.Response:
        ip = client_ip(request)
        self.limiter.check(f"ip:{ip}")
        body = await parse_body(request, LoginBody)
        raw = body.model_dump()
        if body.type == LOGIN_PASSWORD:
            if body.password is None:
                raise missing_param("Missing parameter: password")
            named = self.password_auth.resolve(raw)
            if named is not None:
                self.limiter.check(f"user:{named}")
            user_id = await self.password_auth.check(raw)
            if user_id is None:
                raise forbidden("Invalid username or password.")
        elif body.type == LOGIN_TOKEN:
            if body.token is None:
                raise missing_param("Missing parameter: token")
            user_id = self.devices.consume_login_token(body.token)
            if user_id is None or not self.accounts.is_active(user_id):
                raise forbidden("Invalid or expired login token.")
        elif body.type == LOGIN_APPSERVICE:
            reg = calling_appservice(request, self.appservices)
            named = self.password_auth.resolve(raw)
            if named is None or not self.accounts.is_active(named):
                raise forbidden("Invalid username.")
            check_acts_as(reg, named, self.config.server_name)
            user_id = named
        else:
            raise MatrixError(ErrCode.UNKNOWN, f"Unknown login type {body.type}.", status=400)
        if self.accounts.is_locked(user_id):
            # Synapse's order: the credentials first, then the lock (every login type).
            raise locked_error()
        session = self.registration.login(
            user_id,
            body.device_id,
            body.initial_device_display_name,
            refresh=body.refresh_token,
            ip=ip,
        )
        reply = session_json(session, self.config.server_name)
        well_known = client_document(self.config.well_known)
        if well_known is not None:
            reply["well_known"] = well_known
        return web.json_response(reply)

    async def get_token(self, request: web.Request) -> web.Response:
        if not self.config.login_via_existing_session:
            raise forbidden("Login via an existing session is disabled.")
        who = requester(request)
        body = await parse_body(request, AuthOnlyBody)
        await self.uiaa.authenticate(body.auth, [[PASSWORD]], user_id=who.user_id)
        token, ttl = self.devices.create_login_token(who.user_id)
        return web.json_response({"login_token": token, "expires_in_ms": ttl})

    async def refresh(self, request: web.Request) -> web.Response:
        # Unauthenticated, so limited per client address; a refused refresh leaves
        # the refresh token unused (Synapse has no limit here; see docs/ratelimits.md).
        self.refresh_limiter.check(f"ip:{client_ip(request)}")
        body = await parse_body(request, RefreshBody)
        owner = self.devices.refresh_token_owner(body.refresh_token)
        if owner is not None and self.accounts.is_locked(owner):
            # "cannot obtain a new access token until the account has been unlocked";
            # the refresh token stays unused.
            raise locked_error()
        session = self.devices.refresh(body.refresh_token)
        if session is None:
            raise MatrixError(
                ErrCode.UNKNOWN_TOKEN, "Unknown or expired refresh token.", soft_logout=False
            )
        reply: dict[str, Any] = {"access_token": session.access_token}
        if session.refresh_token is not None:
            reply["refresh_token"] = session.refresh_token
        if session.expires_in_ms is not None:
            reply["expires_in_ms"] = session.expires_in_ms
        return web.json_response(reply)

    async def logout(self, request: web.Request) -> web.Response:
        who = requester(request)
        self.devices.delete(who.user_id, [who.device_id])
        return web.json_response({})

    async def logout_all(self, request: web.Request) -> web.Response:
        who = requester(request)
        self.devices.delete_all(who.user_id)
        return web.json_response({})

    async def whoami(self, request: web.Request) -> web.Response:
        who = requester(request)
        return web.json_response(
            {"user_id": who.user_id, "device_id": who.device_id, "is_guest": who.is_guest}
        )

    def routes(self) -> list[Route]:
        return [
            Route("GET", client_paths("/login"), self.login_flows),
            Route("POST", client_paths("/login"), self.login),
            Route(
                "POST",
                client_paths("/login/get_token", versions=("v1",)),
                self.get_token,
                Auth.ACCESS_TOKEN,
            ),
            Route("POST", client_paths("/refresh", versions=("v3",)), self.refresh),
            Route(
                "POST",
                client_paths("/logout"),
                self.logout,
                Auth.ACCESS_TOKEN,
                allow_guests=True,
                allow_locked=True,
            ),
            Route(
                "POST",
                client_paths("/logout/all"),
                self.logout_all,
                Auth.ACCESS_TOKEN,
                allow_locked=True,
            ),
            Route(
                "GET",
                client_paths("/account/whoami"),
                self.whoami,
                Auth.ACCESS_TOKEN,
                allow_guests=True,
            ),
        ]


def routes(
    config: GlobalConfig,
    accounts: Accounts,
    devices: Devices,
    password_auth: PasswordAuth,
    registration: Registration,
    uiaa: Uiaa,
    limiter: RateLimiter,
    appservices: Appservices,
    *,
    refresh_limiter: RateLimiter,
) -> list[Route]:
    return LoginHandlers(
        config,
        accounts,
        devices,
        password_auth,
        registration,
        uiaa,
        limiter,
        appservices,
        refresh_limiter=refresh_limiter,
    ).routes()
