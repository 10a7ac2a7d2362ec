"""Queries from other servers about local users and aliases (server-server API,
"Querying for information"): ``GET /_matrix/federation/v1/query/profile`` and
``/query/directory``. Only local, existing users and aliases: 404 otherwise."""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.router import Auth, Route
from conduwuit.core.errors import forbidden, invalid_param, missing_param, not_found
from conduwuit.core.ids import RoomAlias, UserId
from conduwuit.service.rooms.directory import Directory
from conduwuit.service.users.accounts import Accounts
from conduwuit.service.users.profiles import Profiles

#: The fields the spec lets a query ask for.
PROFILE_FIELDS = ("displayname", "avatar_url")


def _param(request: web.Request, name: str) -> str:
    value = request.query.get(name)
    if value is None:
        raise missing_param(f"Missing query parameter: {name}")
    return value


class FederationQueryHandlers:
    def __init__(
        self,
        server_name: str,
        accounts: Accounts,
        profiles: Profiles,
        directory: Directory,
        allow_profile_lookup: bool = True,
    ) -> None:
        self.server_name = server_name
        self.accounts = accounts
        self.profiles = profiles
        self.aliases = directory
        #: conduwuit's allow_profile_lookup_federation_requests.
        self.allow_profile_lookup = allow_profile_lookup

    async def profile(self, request: web.Request) -> web.Response:
        if not self.allow_profile_lookup:
            raise forbidden("Profile lookup over federation is not allowed on this homeserver.")
        raw = _param(request, "user_id")
        field = request.query.get("field")
        if field is not None and field not in PROFILE_FIELDS:
            raise invalid_param(f"field must be one of {', '.join(PROFILE_FIELDS)}")
        try:
            user = UserId.parse(raw)
        except ValueError as exc:
            raise invalid_param(f"Invalid user ID: {exc}") from None
        if str(user.server_name) != self.server_name:
            raise invalid_param("The user is not local to this server.")
        if not self.accounts.is_active(raw):
            raise not_found("Profile not found.")
        profile = self.profiles.get(raw)
        wanted = (field,) if field is not None else PROFILE_FIELDS
        return web.json_response({k: profile[k] for k in wanted if k in profile})

    async def directory(self, request: web.Request) -> web.Response:
        raw = _param(request, "room_alias")
        try:
            alias = RoomAlias.parse(raw)
        except ValueError as exc:
            raise invalid_param(f"Invalid room alias: {exc}") from None
        if str(alias.server_name) != self.server_name:
            raise not_found(f"Room alias {raw} is not local to this server.")
        return web.json_response(self.aliases.resolve(alias))

    def routes(self) -> list[Route]:
        signed = Auth.SERVER_SIGNATURE
        return [
            Route("GET", ("/_matrix/federation/v1/query/profile",), self.profile, signed),
            Route("GET", ("/_matrix/federation/v1/query/directory",), self.directory, signed),
        ]


def routes(
    server_name: str,
    accounts: Accounts,
    profiles: Profiles,
    directory: Directory,
    allow_profile_lookup: bool = True,
) -> list[Route]:
    return FederationQueryHandlers(
        server_name, accounts, profiles, directory, allow_profile_lookup
    ).routes()
