"""Our users' devices and keys for other servers: ``GET
/_matrix/federation/v1/user/devices/{userId}``, ``POST /user/keys/query`` and
``POST /user/keys/claim`` (``service/federation/user_keys.py`` decides what is
shown). Only users of this server: anyone else is M_INVALID_PARAM."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import StrictStr

from conduwuit.api.federation.auth import federation_body
from conduwuit.api.router import Auth, Route
from conduwuit.api.wire import WireModel, parse
from conduwuit.core.errors import bad_json, invalid_param
from conduwuit.core.ids import UserId
from conduwuit.service.federation.user_keys import UserKeys

V1 = "/_matrix/federation/v1"


class QueryBody(WireModel):
    device_keys: dict[StrictStr, list[StrictStr]]


class ClaimBody(WireModel):
    one_time_keys: dict[StrictStr, dict[StrictStr, StrictStr]]


def _body(request: web.Request) -> dict[str, Any]:
    body = federation_body(request)
    if not isinstance(body, dict):
        raise bad_json("The body must be a JSON object.")
    return body


def _check_user_ids(user_ids: Any) -> None:
    for user_id in user_ids:
        if not UserId.is_valid(user_id):
            raise invalid_param(f"Invalid user ID: {user_id!r}")


class UserKeysHandlers:
    def __init__(self, keys: UserKeys) -> None:
        self.keys = keys

    async def devices(self, request: web.Request) -> web.Response:
        user_id = request.match_info["user_id"]
        _check_user_ids([user_id])
        return web.json_response(self.keys.devices(user_id))

    async def query(self, request: web.Request) -> web.Response:
        body = parse(QueryBody, _body(request))
        _check_user_ids(body.device_keys)
        return web.json_response(self.keys.query(dict(body.device_keys)))

    async def claim(self, request: web.Request) -> web.Response:
        body = parse(ClaimBody, _body(request))
        _check_user_ids(body.one_time_keys)
        wanted = {u: dict(devices) for u, devices in body.one_time_keys.items()}
        return web.json_response(self.keys.claim(wanted))

    def routes(self) -> list[Route]:
        signed = Auth.SERVER_SIGNATURE
        return [
            Route("GET", (f"{V1}/user/devices/{{user_id}}",), self.devices, signed),
            Route("POST", (f"{V1}/user/keys/query",), self.query, signed),
            Route("POST", (f"{V1}/user/keys/claim",), self.claim, signed),
        ]


def routes(keys: UserKeys) -> list[Route]:
    return UserKeysHandlers(keys).routes()
