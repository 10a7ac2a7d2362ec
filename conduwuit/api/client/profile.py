"""Profiles: GET /profile/{userId}, GET/PUT/DELETE /profile/{userId}/{keyName}.

Client-server API "Profiles" (custom fields since v1.16). Remote users' profiles
are asked of their server (``/_matrix/federation/v1/query/profile``; only
``displayname`` and ``avatar_url`` travel over federation), its 404 passed on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from conduwuit.api.auth import Requester, optional_requester, requester
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.api.wire import canonical_body
from conduwuit.config import GlobalConfig
from conduwuit.core.errors import (
    ErrCode,
    MatrixError,
    bad_json,
    forbidden,
    invalid_param,
    missing_param,
    not_found,
)
from conduwuit.core.ids import UserId
from conduwuit.core.suspension import PROFILE_REFUSAL, suspended_error
from conduwuit.service.federation.queries import FederationQueries
from conduwuit.service.users.accounts import Accounts
from conduwuit.service.users.profiles import Profiles, check_key

#: Fields a guest may change (spec, "Guest access": display name only).
GUEST_FIELDS = frozenset({"displayname"})


#: Synapse's MAX_AVATAR_URL_LEN.
MAX_AVATAR_URL_LEN = 1000


class ProfileHandlers:
    def __init__(
        self,
        config: GlobalConfig,
        accounts: Accounts,
        profiles: Profiles,
        remote: FederationQueries | None = None,
        ask_appservices: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        self.ask_appservices = ask_appservices
        self.config = config
        self.accounts = accounts
        self.profiles = profiles
        self.remote = remote

    def remote_server(self, request: web.Request) -> str | None:
        """The server of a remote user whose profile is asked over federation."""
        if self.remote is None:
            return None
        if self.config.require_auth_for_profile_requests and optional_requester(request) is None:
            raise MatrixError(ErrCode.MISSING_TOKEN, "Profile lookup requires an access token.")
        try:
            server = str(UserId.parse(request.match_info["user_id"]).server_name)
        except ValueError:
            return None  # not a user ID: not found, as before
        return server if server != self.config.server_name else None

    async def readable(self, request: web.Request) -> str:
        """The local user whose profile is asked. An unknown user is first asked of
        the application services whose namespace covers it (Application Service API,
        "Querying": users), which register it before answering yes."""
        if self.config.require_auth_for_profile_requests and optional_requester(request) is None:
            raise MatrixError(ErrCode.MISSING_TOKEN, "Profile lookup requires an access token.")
        user_id = request.match_info["user_id"]
        if not self.accounts.is_active(user_id):
            if self.ask_appservices is None or self.accounts.exists(user_id):
                raise not_found("Profile not found.")
            if not await self.ask_appservices(user_id) or not self.accounts.is_active(user_id):
                raise not_found("Profile not found.")
        return user_id

    def writable(self, request: web.Request, key: str) -> tuple[Requester, str]:
        who = requester(request)
        user_id = request.match_info["user_id"]
        if user_id != who.user_id:
            raise forbidden("You cannot change the profile of another user.")
        if self.accounts.is_suspended(user_id):
            # Synapse refuses every profile change of a suspended account.
            raise suspended_error(PROFILE_REFUSAL)
        check_key(key)
        if who.is_guest and key not in GUEST_FIELDS:
            raise MatrixError(
                ErrCode.GUEST_ACCESS_FORBIDDEN, "Guests may only change their display name."
            )
        return who, user_id

    async def get_profile(self, request: web.Request) -> web.Response:
        server = self.remote_server(request)
        if server is not None and self.remote is not None:
            user = request.match_info["user_id"]
            return web.json_response(await self.remote.profile(user, server))
        user_id = await self.readable(request)
        return web.json_response(self.profiles.get(user_id))

    async def get_field(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        server = self.remote_server(request)
        if server is not None and self.remote is not None:
            if key not in ("displayname", "avatar_url"):
                raise not_found("Only displayname and avatar_url of remote users are known.")
            user = request.match_info["user_id"]
            found = await self.remote.profile(user, server, key)
            if key not in found:
                raise not_found(f"The profile has no {key}.")
            return web.json_response(found)
        user_id = await self.readable(request)
        profile = self.profiles.get(user_id)
        if key not in profile:
            raise not_found(f"The profile has no {key}.")
        return web.json_response({key: profile[key]})

    async def put_field(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        _, user_id = self.writable(request, key)
        body = await canonical_body(request)
        if key not in body:
            raise missing_param(f"Missing parameter: {key}")
        value = body[key]
        if key in ("displayname", "avatar_url"):
            if value is None:
                # Synapse treats null as clearing these two fields.
                await self.profiles.delete_field(user_id, key)
                return web.json_response({})
            if not isinstance(value, str):
                raise bad_json(f"{key} must be a string.")
            # Synapse takes any string of up to 1000 characters as avatar_url (it only
            # checks the media when avatar size or type limits are configured);
            # sytest "avatar_url updates affect room member events" sets "LemurLover".
            if key == "avatar_url" and len(value) > MAX_AVATAR_URL_LEN:
                raise invalid_param(f"avatar_url is too long (max {MAX_AVATAR_URL_LEN}).")
            if key == "displayname" and len(value) > 256:
                # Synapse's limit on display names.
                raise invalid_param("Display name too long.")
        await self.profiles.set_field(user_id, key, value)
        return web.json_response({})

    async def delete_field(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        _, user_id = self.writable(request, key)
        await self.profiles.delete_field(user_id, key)
        return web.json_response({})

    def routes(self) -> list[Route]:
        field = client_paths("/profile/{user_id}/{key}")
        return [
            # Reading profiles is open to guests too, as in Synapse.
            Route(
                "GET",
                client_paths("/profile/{user_id}"),
                self.get_profile,
                Auth.OPTIONAL_ACCESS_TOKEN,
                allow_guests=True,
            ),
            Route("GET", field, self.get_field, Auth.OPTIONAL_ACCESS_TOKEN, allow_guests=True),
            Route("PUT", field, self.put_field, Auth.ACCESS_TOKEN, allow_guests=True),
            Route("DELETE", field, self.delete_field, Auth.ACCESS_TOKEN, allow_guests=True),
        ]


def routes(
    config: GlobalConfig,
    accounts: Accounts,
    profiles: Profiles,
    remote: FederationQueries | None = None,
    ask_appservices: Callable[[str], Awaitable[bool]] | None = None,
) -> list[Route]:
    return ProfileHandlers(config, accounts, profiles, remote, ask_appservices).routes()
