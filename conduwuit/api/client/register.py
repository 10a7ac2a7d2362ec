"""Registration: POST /register, GET /register/available, token validity.

Client-server API, "Account registration and management". Username problems
(M_INVALID_USERNAME, M_USER_IN_USE) are reported before user-interactive auth, as
the spec requires; the ID is checked again after auth in case it was taken meanwhile.
"""

from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web
from pydantic import StrictBool, StrictStr

from conduwuit.api.auth import client_ip
from conduwuit.api.client.appservice_login import (
    LOGIN_APPSERVICE,
    calling_appservice,
    check_acts_as,
    check_not_exclusive,
)
from conduwuit.api.client.sessions import session_json
from conduwuit.api.router import Route, client_paths
from conduwuit.api.wire import WireModel, parse_body
from conduwuit.config import GlobalConfig, registration_token
from conduwuit.core.errors import forbidden, invalid_param, missing_param
from conduwuit.service.appservice.registry import Appservices
from conduwuit.service.ratelimit import RateLimiter
from conduwuit.service.uiaa import DUMMY, REGISTRATION_TOKEN, RESERVED_TOKEN, Uiaa
from conduwuit.service.users.ids import AccountUserId
from conduwuit.service.users.registration import Registration
from conduwuit.service.users.registration_tokens import RegistrationTokens

#: Synapse refuses longer passwords (M_INVALID_PARAM); hashing megabytes is a DoS.
MAX_PASSWORD_LENGTH = 512


class RegisterBody(WireModel):
    auth: dict[str, Any] | None = None
    #: ``m.login.application_service`` for an appservice's registration.
    type: StrictStr | None = None
    username: StrictStr | None = None
    password: StrictStr | None = None
    device_id: StrictStr | None = None
    initial_device_display_name: StrictStr | None = None
    inhibit_login: StrictBool = False
    refresh_token: StrictBool = False


def check_password_length(password: str) -> None:
    if len(password) > MAX_PASSWORD_LENGTH:
        raise invalid_param("Password too long.")


class RegisterHandlers:
    def __init__(
        self,
        config: GlobalConfig,
        registration: Registration,
        uiaa: Uiaa,
        limiter: RateLimiter,
        appservices: Appservices,
        tokens: RegistrationTokens | None = None,
    ) -> None:
        self.appservices = appservices
        #: Admin-made registration tokens, accepted besides the configured one.
        self.tokens = tokens
        self.config = config
        self.registration = registration
        self.uiaa = uiaa
        self.limiter = limiter

    def flows(self) -> list[list[str]]:
        return [[REGISTRATION_TOKEN]] if registration_token(self.config) else [[DUMMY]]

    def respond(self, user_id: str, session: Any) -> web.Response:
        if session is None:
            return web.json_response({"user_id": user_id, "home_server": self.config.server_name})
        return web.json_response(session_json(session, self.config.server_name))

    async def register(self, request: web.Request) -> web.Response:
        kind = request.query.get("kind", "user")
        if kind == "guest":
            self.limiter.check(f"ip:{client_ip(request)}")
            return await self.register_guest(request)
        if kind != "user":
            raise invalid_param(f"Unknown kind {kind!r}.")
        body = await parse_body(request, RegisterBody)
        if body.type == LOGIN_APPSERVICE:
            # Not rate-limited and allowed with allow_registration off (Synapse).
            return await self.register_appservice_user(request, body)
        self.limiter.check(f"ip:{client_ip(request)}")
        if not self.config.allow_registration:
            raise forbidden("Registration has been disabled.")
        login = not body.inhibit_login
        ip = client_ip(request)

        # Idempotency (Synapse): retrying a completed session returns the same user.
        sid = body.auth.get("session") if body.auth else None
        done = self.uiaa.session(sid) if isinstance(sid, str) else None
        if done is not None and "user_id" in done.data:
            user_id = done.data["user_id"]
            session = None
            if login:
                session = self.registration.login(
                    user_id,
                    body.device_id,
                    body.initial_device_display_name,
                    refresh=body.refresh_token,
                    ip=ip,
                )
            return self.respond(user_id, session)

        # Synapse lower-cases the requested username before checking it.
        wanted: AccountUserId | None = None
        if body.username is not None:
            wanted = self.registration.check_available(body.username.lower())
            check_not_exclusive(self.appservices, wanted)
        if body.password is not None:
            check_password_length(body.password)

        uia = await self.uiaa.authenticate(body.auth, self.flows())

        if body.password is None:
            # The spec makes it optional; like Synapse we refuse (after auth, so that
            # `POST /register {}` still lists the flows) an account nobody could log in to.
            raise missing_param("Missing parameter: password")

        user_id = wanted or self.registration.generate_user_id()
        if wanted is not None:
            self.registration.check_available(wanted[1:].split(":", 1)[0])
        session = await self.registration.register(
            user_id,
            body.password,
            login=login,
            device_id=body.device_id,
            device_display_name=body.initial_device_display_name,
            refresh=body.refresh_token,
            ip=ip,
        )
        uia.data["user_id"] = user_id
        if self.tokens is not None and isinstance(reserved := uia.data.get(RESERVED_TOKEN), str):
            self.tokens.complete(reserved)
        return self.respond(user_id, session)

    async def register_appservice_user(
        self, request: web.Request, body: RegisterBody
    ) -> web.Response:
        """An application service's user: no password, no user-interactive auth; the
        username must be in the service's user namespace (or be its sender)."""
        reg = calling_appservice(request, self.appservices)
        if body.username is None:
            raise missing_param("Missing parameter: username")
        user_id = self.registration.check_available(body.username.lower())
        check_acts_as(reg, user_id, self.config.server_name)
        session = await self.registration.register(
            user_id,
            None,
            login=not body.inhibit_login,
            device_id=body.device_id,
            device_display_name=body.initial_device_display_name,
            refresh=body.refresh_token,
            ip=client_ip(request),
        )
        return self.respond(user_id, session)

    async def register_guest(self, request: web.Request) -> web.Response:
        if not self.config.allow_guest_registration:
            raise forbidden("Guest registration is disabled.")
        body = await parse_body(request, RegisterBody)
        # Guests get a generated ID and no password; username and password are ignored
        # as the spec allows. Guests cannot choose a device ID (Synapse ignores it too).
        user_id = self.registration.generate_user_id()
        session = await self.registration.register(
            user_id,
            None,
            is_guest=True,
            device_display_name=body.initial_device_display_name,
            refresh=body.refresh_token,
            ip=client_ip(request),
        )
        return self.respond(user_id, session)

    async def available(self, request: web.Request) -> web.Response:
        self.limiter.check(f"ip:{client_ip(request)}")
        username = request.query.get("username")
        if username is None:
            raise missing_param("Missing parameter: username")
        user_id = self.registration.check_available(username.lower())
        check_not_exclusive(self.appservices, user_id)
        return web.json_response({"available": True})

    async def token_validity(self, request: web.Request) -> web.Response:
        self.limiter.check(f"ip:{client_ip(request)}")
        expected = registration_token(self.config)
        if not self.config.allow_registration or expected is None:
            raise forbidden("Registration tokens are not used here.")
        token = request.query.get("token")
        if token is None:
            raise missing_param("Missing parameter: token")
        valid = hmac.compare_digest(token.encode(), expected.encode()) or (
            self.tokens is not None and self.tokens.is_valid(token)
        )
        return web.json_response({"valid": valid})

    def routes(self) -> list[Route]:
        return [
            Route("POST", client_paths("/register"), self.register),
            Route("GET", client_paths("/register/available"), self.available),
            Route(
                "GET",
                client_paths("/register/m.login.registration_token/validity", versions=("v1",)),
                self.token_validity,
            ),
        ]


def routes(
    config: GlobalConfig,
    registration: Registration,
    uiaa: Uiaa,
    limiter: RateLimiter,
    appservices: Appservices,
    tokens: RegistrationTokens | None = None,
) -> list[Route]:
    return RegisterHandlers(config, registration, uiaa, limiter, appservices, tokens).routes()
