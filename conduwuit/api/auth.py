"""The authenticator the router runs before a handler: access tokens, and
server signatures through :class:`ServerAuthenticator` (api/federation/auth.py).

Client-server API, "Using access tokens": the token comes from
``Authorization: Bearer`` or the deprecated ``access_token`` query parameter.
No token: 401 M_MISSING_TOKEN. Unknown: 401 M_UNKNOWN_TOKEN. Expired (a
refreshable token): 401 M_UNKNOWN_TOKEN with ``soft_logout: true``. A locked
account (v1.12, "Account locking"): 401 M_USER_LOCKED with ``soft_logout: true`` on
every route but the logouts; as Synapse, an application service acting as a locked
user is not refused (Synapse checks the lock only for users' own tokens).
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from conduwuit.api.federation.auth import ServerAuthenticator
from conduwuit.api.router import Auth
from conduwuit.core.appservice import AppserviceRegistration
from conduwuit.core.errors import ErrCode, MatrixError, forbidden
from conduwuit.service.appservice.registry import Appservices
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
    #: The id of the application service acting (with its as_token) as ``user_id``;
    #: ``device_id`` is then "" unless it named one of the user's devices.
    appservice_id: str | None = None


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


def locked_error() -> MatrixError:
    """The spec's answer to a locked account (also to its logins and refreshes)."""
    return MatrixError(ErrCode.USER_LOCKED, "This account has been locked", soft_logout=True)


class TokenAuthenticator:
    def __init__(
        self,
        devices: Devices,
        accounts: Accounts,
        clock: Clock,
        servers: ServerAuthenticator | None = None,
        appservices: Appservices | None = None,
    ) -> None:
        self._appservices = appservices
        self._devices = devices
        self._accounts = accounts
        self._clock = clock
        self._servers = servers

    async def authenticate(
        self,
        request: web.Request,
        scheme: Auth,
        *,
        allow_guests: bool = False,
        allow_locked: bool = False,
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
        if self._appservices is not None:
            reg = self._appservices.by_as_token(token)
            if reg is not None:
                request[REQUESTER] = self._appservice_requester(request, reg, token)
                return
        owner = self._devices.owner(token)
        if owner is None:
            raise MatrixError(ErrCode.UNKNOWN_TOKEN, "Unknown access token.", soft_logout=False)
        if owner.expires_ts is not None and owner.expires_ts <= self._clock():
            raise MatrixError(ErrCode.UNKNOWN_TOKEN, "Access token has expired.", soft_logout=True)
        account = self._accounts.get(owner.user_id)
        if account is None or account.deactivated:
            raise MatrixError(ErrCode.UNKNOWN_TOKEN, "Unknown access token.", soft_logout=False)
        if account.locked and not allow_locked:
            raise locked_error()
        if account.is_guest and not allow_guests:
            raise MatrixError(
                ErrCode.GUEST_ACCESS_FORBIDDEN, "Guest accounts cannot use this endpoint."
            )
        request[REQUESTER] = Requester(owner.user_id, owner.device_id, account.is_guest, token)

    def _appservice_requester(
        self, request: web.Request, reg: AppserviceRegistration, token: str
    ) -> Requester:
        """Application Service API, "Identity assertion": the sender, or the user named
        by ``user_id`` in one of its user namespaces; the device named by ``device_id``
        (v1.17) must be that user's. A namespace user must be registered first
        (Synapse's rule: 403 M_FORBIDDEN otherwise)."""
        assert self._appservices is not None
        sender = reg.sender(self._appservices.server_name)
        user_id = request.query.get("user_id") or sender
        if user_id != sender:
            if not reg.is_user_of(user_id, self._appservices.server_name):
                raise MatrixError(
                    ErrCode.EXCLUSIVE,
                    f"Application service cannot masquerade as {user_id}: not in its namespace.",
                    status=403,
                )
            account = self._accounts.get(user_id)
            if account is None or account.deactivated:
                raise forbidden(f"Application service has not registered this user ({user_id}).")
        device_id = request.query.get("device_id") or ""
        if device_id and self._devices.get(user_id, device_id) is None:
            raise MatrixError(
                ErrCode.UNKNOWN_DEVICE, f"Device {device_id} is not a device of {user_id}."
            )
        return Requester(user_id, device_id, False, token, appservice_id=reg.id)


def client_ip(request: web.Request) -> str:
    """The peer address (a reverse proxy's X-Forwarded-For is not trusted here)."""
    return request.remote or "unknown"
