"""Synapse's registration tokens admin API (service/users/registration_tokens.py):
list (``?valid=true|false``), one token, create (``/new``), update, delete. For
server admins only. The bodies are read as plain JSON objects: in an update, a
field given as null sets it to null, a field left out stays as it is."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from conduwuit.api.admin.access import require_admin
from conduwuit.api.query import bool_param
from conduwuit.api.router import Auth, Route
from conduwuit.api.wire import json_body
from conduwuit.service.users.registration_tokens import UNSET, RegistrationTokens

PATH = "/_synapse/admin/v1/registration_tokens"


class RegistrationTokenHandlers:
    def __init__(self, tokens: RegistrationTokens, is_admin: Callable[[str], bool]) -> None:
        self._tokens = tokens
        self._is_admin = is_admin

    async def list_tokens(self, request: web.Request) -> web.Response:
        require_admin(request, self._is_admin)
        valid = bool_param(request, "valid") if "valid" in request.query else None
        return web.json_response({"registration_tokens": self._tokens.list_tokens(valid)})

    async def get(self, request: web.Request) -> web.Response:
        require_admin(request, self._is_admin)
        return web.json_response(self._tokens.get(request.match_info["token"]))

    async def create(self, request: web.Request) -> web.Response:
        require_admin(request, self._is_admin)
        body = await json_body(request)
        created = self._tokens.create(
            body.get("token"), body.get("uses_allowed"), body.get("expiry_time"), body.get("length")
        )
        return web.json_response(created)

    async def update(self, request: web.Request) -> web.Response:
        require_admin(request, self._is_admin)
        body = await json_body(request)
        updated = self._tokens.update(
            request.match_info["token"],
            body.get("uses_allowed", UNSET),
            body.get("expiry_time", UNSET),
        )
        return web.json_response(updated)

    async def delete(self, request: web.Request) -> web.Response:
        require_admin(request, self._is_admin)
        self._tokens.delete(request.match_info["token"])
        return web.json_response({})

    def routes(self) -> list[Route]:
        token = Auth.ACCESS_TOKEN
        one = f"{PATH}/{{token}}"
        return [
            Route("GET", (PATH,), self.list_tokens, token),
            Route("POST", (f"{PATH}/new",), self.create, token),
            Route("GET", (one,), self.get, token),
            Route("PUT", (one,), self.update, token),
            Route("DELETE", (one,), self.delete, token),
        ]
