"""Server keys (server-server API, "Retrieving server keys").

``GET /_matrix/key/v2/server``: this server's signed key document.
``GET /_matrix/key/v2/query/{serverName}`` and ``POST /_matrix/key/v2/query``: this
server as a notary: the key documents it has or fetches for other servers (its own
included), each also signed by this server. A server whose keys cannot be found is
left out of ``server_keys``. With ``allow_federation`` false all are M_FORBIDDEN.

Answers are canonical JSON, so a checker may verify the signatures over the bytes
as sent (Complement's TestInboundFederationKeys does).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from conduwuit.api.query import optional_int_param
from conduwuit.api.router import Route
from conduwuit.api.wire import json_body
from conduwuit.core import canonical_json
from conduwuit.core.errors import bad_json, forbidden
from conduwuit.service.federation.keys import RemoteKeys
from conduwuit.service.server_keys import ServerKeys

#: Servers one notary query may ask about (Synapse does not cap it; this keeps one
#: request from making this server fetch from thousands).
MAX_QUERIED_SERVERS = 100


def canonical_response(body: dict[str, Any]) -> web.Response:
    return web.Response(body=canonical_json.encode(body), content_type="application/json")


class KeysHandlers:
    def __init__(self, keys: ServerKeys, remote: RemoteKeys, allow_federation: bool) -> None:
        self.keys = keys
        self.remote = remote
        self.allow_federation = allow_federation

    def _allowed(self) -> None:
        if not self.allow_federation:
            raise forbidden("Federation is disabled on this server.")

    async def server_keys(self, request: web.Request) -> web.Response:
        self._allowed()
        return canonical_response(self.keys.key_document())

    async def query_one(self, request: web.Request) -> web.Response:
        self._allowed()
        minimum = optional_int_param(request, "minimum_valid_until_ts")
        documents = await self.remote.notary_documents(request.match_info["server_name"], minimum)
        return canonical_response({"server_keys": documents})

    async def query(self, request: web.Request) -> web.Response:
        self._allowed()
        body = await json_body(request)
        servers = body.get("server_keys")
        if not isinstance(servers, dict):
            raise bad_json("server_keys must be an object of server names.")
        if len(servers) > MAX_QUERIED_SERVERS:
            raise bad_json(f"At most {MAX_QUERIED_SERVERS} servers per query.")
        documents: list[dict[str, Any]] = []
        for server_name, criteria in servers.items():
            if not isinstance(criteria, dict):
                raise bad_json(f"server_keys.{server_name} must be an object.")
            minimum = _minimum(server_name, criteria)
            documents += await self.remote.notary_documents(server_name, minimum)
        return canonical_response({"server_keys": documents})

    def routes(self) -> list[Route]:
        # The spec's deprecated /{keyId} forms are still requested by old servers.
        return [
            Route(
                "GET",
                ("/_matrix/key/v2/server", "/_matrix/key/v2/server/{key_id}"),
                self.server_keys,
            ),
            Route(
                "GET",
                (
                    "/_matrix/key/v2/query/{server_name}",
                    "/_matrix/key/v2/query/{server_name}/{key_id}",
                ),
                self.query_one,
            ),
            Route("POST", ("/_matrix/key/v2/query",), self.query),
        ]


def _minimum(server_name: str, criteria: dict[str, Any]) -> int | None:
    """The latest ``minimum_valid_until_ts`` asked of any key of the server."""
    found: int | None = None
    for key_id, criterion in criteria.items():
        if not isinstance(criterion, dict):
            raise bad_json(f"server_keys.{server_name}.{key_id} must be an object.")
        value = criterion.get("minimum_valid_until_ts")
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            raise bad_json("minimum_valid_until_ts must be an integer.")
        found = value if found is None else max(found, value)
    return found


def routes(keys: ServerKeys, remote: RemoteKeys, allow_federation: bool) -> list[Route]:
    return KeysHandlers(keys, remote, allow_federation).routes()
