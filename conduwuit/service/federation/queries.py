"""Queries clients trigger about other servers' users, aliases and public rooms
(server-server API, "Querying for information": ``/query/profile`` and
``/query/directory``; "Public Room Directory": ``/publicRooms``).

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
#: A page of another server's public rooms (a client asks for a limited page).
MAX_PUBLIC_ROOMS_RESPONSE = 4 * 1024 * 1024


class FederationQueries:
    def __init__(self, client: FederationClient) -> None:
        self._client = client

    async def _query(self, server_name: str, kind: str, query: dict[str, str]) -> dict[str, Any]:
        return await self._ask(
            server_name, "GET", f"/_matrix/federation/v1/query/{kind}", kind, query=query
        )

    async def _ask(
        self,
        server_name: str,
        method: str,
        path: str,
        what: str,
        *,
        query: dict[str, str] | None = None,
        content: Any = None,
        max_response: int = MAX_QUERY_RESPONSE,
    ) -> dict[str, Any]:
        try:
            answer = await self._client.request(
                server_name,
                method,
                path,
                query=query,
                content=content,
                max_response=max_response,
            )
        except (FederationDisabled, ForbiddenServer) as exc:
            raise forbidden(str(exc)) from None
        except RemoteError as exc:
            if exc.status == 404:
                raise not_found(f"{server_name} has no such {what}.") from None
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

    async def public_rooms(
        self,
        server_name: str,
        *,
        limit: int | None,
        since: str | None,
        search_filter: dict[str, Any] | None = None,
        include_all_networks: bool = False,
        third_party_instance_id: str | None = None,
    ) -> dict[str, Any]:
        """A page of ``server_name``'s public rooms: ``GET /publicRooms``, or ``POST``
        with the client's ``filter`` (as Synapse asks: the filter goes to the remote)."""
        path = "/_matrix/federation/v1/publicRooms"
        if search_filter is None:
            query = {"include_all_networks": "true" if include_all_networks else "false"}
            if limit is not None:
                query["limit"] = str(limit)
            if since is not None:
                query["since"] = since
            if third_party_instance_id is not None:
                query["third_party_instance_id"] = third_party_instance_id
            answer = await self._ask(
                server_name,
                "GET",
                path,
                "public room directory",
                query=query,
                max_response=MAX_PUBLIC_ROOMS_RESPONSE,
            )
        else:
            body: dict[str, Any] = {
                "filter": search_filter,
                "include_all_networks": include_all_networks,
            }
            for name, value in (
                ("limit", limit),
                ("since", since),
                ("third_party_instance_id", third_party_instance_id),
            ):
                if value is not None:
                    body[name] = value
            answer = await self._ask(
                server_name,
                "POST",
                path,
                "public room directory",
                content=body,
                max_response=MAX_PUBLIC_ROOMS_RESPONSE,
            )
        chunk = answer.get("chunk")
        if not isinstance(chunk, list):
            raise MatrixError(
                ErrCode.UNKNOWN, f"{server_name} answered without a chunk of rooms.", status=502
            )
        page: dict[str, Any] = {"chunk": [room for room in chunk if isinstance(room, dict)]}
        for name in ("next_batch", "prev_batch"):
            if isinstance(answer.get(name), str):
                page[name] = answer[name]
        if isinstance(answer.get("total_room_count_estimate"), int):
            page["total_room_count_estimate"] = answer["total_room_count_estimate"]
        return page
