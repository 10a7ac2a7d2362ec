"""The authenticator the router runs before a handler: access tokens, and
server signatures through :class:`ServerAuthenticator` (api/federation/auth.py).

Client-server API, "Using access tokens": the token comes from
``Authorization: Bearer`` or the deprecated ``access_token`` query parameter.
No token: 401 M_MISSING_TOKEN. Unknown: 401 M_UNKNOWN_TOKEN. Expired (a
refreshable token): 401 M_UNKNOWN_TOKEN with ``soft_logout: true``.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from conduwuit.api.federation.auth import ServerAuthenticator
from conduwuit.api.router import Auth
from conduwuit.core.errors import ErrCode, MatrixError
from conduwuit.service.clock import Clock
from conduwuit.service.devices import Devices
from conduwuit.service.users.accounts import Accounts


@dataclass(frozen=True)
class Requester:
    """Who made an authenticated request."""

    user_id: str
    device_id: str
    is_guest: bool
    access_token: str


REQUESTER = web.RequestKey("requester", Requester)


def requester(request: web.Request) -> Requester:
    """The caller of a route with ``Auth.ACCESS_TOKEN`` (the router set it)."""
    return request[REQUESTER]


def optional_requester(request: web.Request) -> Requester | None:
    return request.get(REQUESTER)


def access_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise MatrixError(
                ErrCode.MISSING_TOKEN, "Invalid Authorization header: expected 'Bearer <token>'."
            )
        return _checked(token.strip())
    query_token = request.query.get("access_token")
    return _checked(query_token) if query_token else None


def _checked(token: str) -> str:
    """Tokens this server issues are printable ASCII. aiohttp decodes header bytes
    that are not UTF-8 into lone surrogates, which cannot even be encoded as a
    database key: such a token is unknown, whatever it is."""
    if not token.isascii() or not token.isprintable():
        raise MatrixError(ErrCode.UNKNOWN_TOKEN, "Unknown access token.", soft_logout=False)
    return token


class TokenAuthenticator:
    def __init__(
        self,
        devices: Devices,
        accounts: Accounts,
        clock: Clock,
        servers: ServerAuthenticator | None = None,
    ) -> None:
        self._devices = devices
        self._accounts = accounts
        self._clock = clock
        self._servers = servers

    async def authenticate(
        self, request: web.Request, scheme: Auth, *, allow_guests: bool = False
    ) -> None:
        if scheme is Auth.SERVER_SIGNATURE:
            if self._servers is None:
                raise MatrixError(ErrCode.UNAUTHORIZED, "Federation is not available.")
            await self._servers.authenticate(request)
            return
        token = access_token(request)
        if token is None:
            if scheme is Auth.OPTIONAL_ACCESS_TOKEN:
                return
            raise MatrixError(ErrCode.MISSING_TOKEN, "Missing access token.")
        owner = self._devices.owner(token)
        if owner is None:
            raise MatrixError(ErrCode.UNKNOWN_TOKEN, "Unknown access token.", soft_logout=False)
        if owner.expires_ts is not None and owner.expires_ts <= self._clock():
            raise MatrixError(ErrCode.UNKNOWN_TOKEN, "Access token has expired.", soft_logout=True)
        account = self._accounts.get(owner.user_id)
        if account is None or account.deactivated:
            raise MatrixError(ErrCode.UNKNOWN_TOKEN, "Unknown access token.", soft_logout=False)
        if account.is_guest and not allow_guests:
            raise MatrixError(
                ErrCode.GUEST_ACCESS_FORBIDDEN, "Guest accounts cannot use this endpoint."
            )
        request[REQUESTER] = Requester(owner.user_id, owner.device_id, account.is_guest, token)


def client_ip(request: web.Request) -> str:
    """The peer address (a reverse proxy's X-Forwarded-For is not trusted here)."""
    return request.remote or "unknown"
