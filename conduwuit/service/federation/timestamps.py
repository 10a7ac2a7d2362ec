"""``/timestamp_to_event`` beyond our own timeline (client-server API "Timestamp to
event"; server-server API ``GET /_matrix/federation/v1/timestamp_to_event``).

As Synapse does (``TimestampLookupHandler.get_event_for_timestamp``): when our
closest event is missing or next to a gap in our history (``gap_next_to``: we
joined after the wanted time, or were away), the room's other servers are asked in
turn; the first answer is fetched with ``GET /event`` (from the server that gave
it, then the others) and checked (``RemoteEvents.fetch_from_any``): the claimed
event ID, the room, the format, the hashes and signatures. Its own
``origin_server_ts`` counts, not the claimed one. It wins when closer to the wanted
time than ours. Any failure there leaves our own answer.

A winning event is then backfilled into that gap (``place``: the spec's "should
try to backfill this event", Synapse's ``backfill_event_id``), right below the
event after the gap, so ``/context`` gives tokens around it and ``/messages``
paginates on from there (and backfills the rest of the gap). It is answered even if
it could not be placed.

Which failures move on to the next server follows Synapse's destination list: no
answer, a 5xx, or an endpoint the server does not know; another 4xx (a 404: that
server has nothing either) ends the asking. Users who left are answered from our
timeline only: what other servers have is past their leave.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from conduwuit.core.errors import ErrCode
from conduwuit.core.ids import RoomId, UserId
from conduwuit.core.room_versions import RoomVersion
from conduwuit.service.federation.client import FederationClient, FederationError, RemoteError
from conduwuit.service.federation.remote_events import RemoteEvents, history_holders
from conduwuit.service.rooms.history import RoomHistory
from conduwuit.service.rooms.timestamps import (
    check_direction,
    gap_next_to,
    local_closest,
    not_found_error,
)

log = logging.getLogger(__name__)

#: Servers asked at most for one lookup (each may be asked for the event too).
MAX_SERVERS = 5
#: A timestamp_to_event answer is two fields.
MAX_ANSWER = 64 * 1024


#: Backfills one event into the gap before the timeline event at a pduid: ``(room
#: ID, server that gave it, the event, pduid)`` (federation's ``Backfill.place``).
Place = Callable[[str, str, dict[str, Any], bytes], Awaitable[bool]]


@dataclass(frozen=True)
class Found:
    event_id: str
    ts: int
    server: str
    pdu: dict[str, Any]

    def answer(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "origin_server_ts": self.ts}


def _gives_up(exc: RemoteError) -> bool:
    """Synapse fails over on a 5xx and on an endpoint the server does not know;
    any other refusal (a 404: nothing there either) is the room's answer."""
    unknown_endpoint = exc.status in (404, 405) and exc.errcode in (None, ErrCode.UNRECOGNIZED)
    return not (exc.status >= 500 or unknown_endpoint or exc.errcode == ErrCode.UNRECOGNIZED)


class RemoteTimestamps:
    def __init__(
        self,
        server_name: str,
        history: RoomHistory,
        client: FederationClient,
        remote: RemoteEvents,
        joined_servers: Callable[[str], Iterable[str]],
        place: Place | None = None,
    ) -> None:
        self._place = place
        self._server_name = server_name
        self._history = history
        self._client = client
        self._remote = remote
        self._joined_servers = joined_servers

    async def closest(
        self, user: UserId, room_id: RoomId, ts: int, direction: str
    ) -> dict[str, Any]:
        backwards = check_direction(direction)
        access, local = local_closest(self._history, user, room_id, ts, direction)
        storage = self._history.storage
        shortroomid = storage.short.room(str(room_id))
        gap = None
        if shortroomid is not None:
            gap = gap_next_to(storage.timeline, shortroomid, local, backwards)
        if (gap is not None or local is None) and access.until is None:
            remote = await self._ask_others(str(room_id), ts, direction)
            if remote is not None and (local is None or abs(remote.ts - ts) < abs(local.ts - ts)):
                if gap is not None and self._place is not None:
                    placed = await self._place(str(room_id), remote.server, remote.pdu, gap)
                    log.info("%s placed in %s's timeline: %s", remote.event_id, room_id, placed)
                return remote.answer()
        if local is None:
            raise not_found_error(ts, direction)
        return {"event_id": local.event_id, "origin_server_ts": local.ts}

    def _servers(self, room_id: str) -> list[str]:
        others = set(self._joined_servers(room_id)) - {self._server_name}
        return history_holders(others, room_id)[:MAX_SERVERS]

    async def _ask_others(self, room_id: str, ts: int, direction: str) -> Found | None:
        rv = self._history.storage.state.room_version(room_id)
        servers = self._servers(room_id)
        if rv is None or not servers:
            return None
        path = f"/_matrix/federation/v1/timestamp_to_event/{quote(room_id, safe='')}"
        query = {"ts": str(ts), "dir": direction}
        for server in servers:
            try:
                answer = await self._client.get(server, path, query=query, max_response=MAX_ANSWER)
            except RemoteError as exc:
                log.info("timestamp_to_event in %s via %s: %s", room_id, server, exc)
                if _gives_up(exc):
                    return None
                continue
            except FederationError as exc:
                log.info("timestamp_to_event in %s via %s failed: %s", room_id, server, exc)
                continue
            event_id = answer.get("event_id") if isinstance(answer, dict) else None
            claimed = answer.get("origin_server_ts") if isinstance(answer, dict) else None
            if not isinstance(event_id, str) or not isinstance(claimed, int):
                log.info("timestamp_to_event via %s: not an answer: %r", server, answer)
                continue
            others = [s for s in servers if s != server]
            found = await self._fetch(room_id, rv, event_id, [server, *others])
            if found is not None and found.ts != claimed:
                # Synapse logs the same: the server's claims are dubious.
                log.info(
                    "%s said %s was sent at %d; it was sent at %d",
                    server,
                    event_id,
                    claimed,
                    found.ts,
                )
            return found
        return None

    async def _fetch(
        self, room_id: str, rv: RoomVersion, event_id: str, servers: list[str]
    ) -> Found | None:
        """The event from the first server that gives it, checked; None if none."""
        found = await self._remote.fetch_from_any(servers, room_id, event_id, rv)
        if found is None:
            return None
        server, pdu = found
        return Found(event_id, int(pdu["origin_server_ts"]), server, pdu)
