"""Queries clients trigger about other servers' users and aliases (server-server API,
"Querying for information": ``/query/profile`` and ``/query/directory``).

The remote's Matrix errors are passed on with their status (a 404 stays a 404); a
server that cannot be reached is 502 M_UNKNOWN; sending is refused with
M_FORBIDDEN when federation is off or the server is forbidden.
"""

from __future__ import annotations

from typing import Any

from conduwuit.core.errors import ErrCode, MatrixError, forbidden, not_found
from conduwuit.service.federation.client import (
    FederationClient,
    FederationDisabled,
    FederationError,
    ForbiddenServer,
    RemoteError,
)

#: A profile or an alias answer is small.
MAX_QUERY_RESPONSE = 64 * 1024


class FederationQueries:
    def __init__(self, client: FederationClient) -> None:
        self._client = client

    async def _query(self, server_name: str, kind: str, query: dict[str, str]) -> dict[str, Any]:
        try:
            answer = await self._client.get(
                server_name,
                f"/_matrix/federation/v1/query/{kind}",
                query=query,
                max_response=MAX_QUERY_RESPONSE,
            )
        except (FederationDisabled, ForbiddenServer) as exc:
            raise forbidden(str(exc)) from None
        except RemoteError as exc:
            if exc.status == 404:
                raise not_found(f"{server_name} has no such {kind}.") from None
            status = exc.status if 400 <= exc.status < 500 else 502
            raise MatrixError(
                exc.errcode or ErrCode.UNKNOWN,
                f"{server_name} answered {exc.status}.",
                status=status,
            ) from None
        except FederationError as exc:
            raise MatrixError(
                ErrCode.UNKNOWN, f"{server_name} could not be reached: {exc}", status=502
            ) from None
        if not isinstance(answer, dict):
            raise MatrixError(
                ErrCode.UNKNOWN, f"{server_name} answered with invalid JSON.", status=502
            )
        return answer

    async def profile(
        self, user_id: str, server_name: str, field: str | None = None
    ) -> dict[str, Any]:
        query = {"user_id": user_id}
        if field is not None:
            query["field"] = field
        answer = await self._query(server_name, "profile", query)
        return answer if field is None else {k: v for k, v in answer.items() if k == field}

    async def alias(self, alias: str, server_name: str) -> dict[str, Any]:
        answer = await self._query(server_name, "directory", {"room_alias": alias})
        room_id, servers = answer.get("room_id"), answer.get("servers")
        if not isinstance(room_id, str) or not isinstance(servers, list):
            raise MatrixError(
                ErrCode.UNKNOWN, f"{server_name} answered without room_id/servers.", status=502
            )
        return {"room_id": room_id, "servers": [s for s in servers if isinstance(s, str)]}
