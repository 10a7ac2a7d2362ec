"""GET/POST /_synapse/admin/v1/register: shared-secret registration, as Synapse does it.

Enabled only when ``registration_shared_secret`` is set; works whether or not
``allow_registration`` is on (it is how an operator creates accounts on a closed
server, and how Complement creates admin users).
"""

from __future__ import annotations

from aiohttp import web
from pydantic import StrictBool, StrictStr

from conduwuit.api.auth import client_ip
from conduwuit.api.client.sessions import session_json
from conduwuit.api.router import Route
from conduwuit.api.wire import WireModel, parse_body
from conduwuit.core.errors import invalid_param
from conduwuit.service.users.registration import Registration
from conduwuit.service.users.shared_secret import SharedSecret

PATH = "/_synapse/admin/v1/register"
#: Synapse's limit on username and password here.
MAX_FIELD_LENGTH = 512


class SharedSecretBody(WireModel):
    nonce: StrictStr
    username: StrictStr
    password: StrictStr
    mac: StrictStr
    admin: StrictBool = False
    user_type: StrictStr | None = None
    displayname: StrictStr | None = None


class RegisterHandlers:
    def __init__(
        self, shared_secret: SharedSecret, registration: Registration, server_name: str
    ) -> None:
        self.shared_secret = shared_secret
        self.registration = registration
        self.server_name = server_name

    async def nonce(self, request: web.Request) -> web.Response:
        return web.json_response({"nonce": self.shared_secret.new_nonce()})

    async def register(self, request: web.Request) -> web.Response:
        if not self.shared_secret.enabled:
            self.shared_secret.new_nonce()  # raises the "not enabled" error
        body = await parse_body(request, SharedSecretBody)
        for name, value in (("username", body.username), ("password", body.password)):
            if len(value) > MAX_FIELD_LENGTH or "\x00" in value:
                raise invalid_param(f"Invalid {name}")
        # The MAC covers the username as sent; the account gets it lower-cased (Synapse).
        self.shared_secret.check(
            body.nonce, body.username, body.password, body.admin, body.user_type, body.mac
        )
        user_id = self.registration.check_available(body.username.lower(), admin=True)
        session = await self.registration.register(
            user_id,
            body.password,
            admin=body.admin,
            displayname=body.displayname,
            ip=client_ip(request),
        )
        assert session is not None
        return web.json_response(session_json(session, self.server_name))

    def routes(self) -> list[Route]:
        return [Route("GET", (PATH,), self.nonce), Route("POST", (PATH,), self.register)]


def routes(
    shared_secret: SharedSecret, registration: Registration, server_name: str
) -> list[Route]:
    return RegisterHandlers(shared_secret, registration, server_name).routes()
