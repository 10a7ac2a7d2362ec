"""What other servers read of resident rooms (server-server API: "Retrieving
events", "Backfilling and retrieving missing events", "Room state",
``/timestamp_to_event``).

Every read goes through :class:`RoomAccess`: the server ACL, the origin being in
the room, and history visibility per event. State is the state *before* the event
(as Synapse answers ``/state_ids``), with the auth chain of those state events.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from typing import Any

from conduwuit.core.errors import forbidden, invalid_param, not_found
from conduwuit.core.room_versions import RoomVersion
from conduwuit.service.federation.room_access import RoomAccess, outgoing
from conduwuit.service.rooms.timeline import PduJson

#: Synapse caps backfill at 100 events per request.
MAX_BACKFILL = 100
#: Events one /get_missing_events answer holds at most (Synapse asks for 10).
MAX_MISSING = 100
#: Events examined by one /timestamp_to_event.
MAX_TIMESTAMP_SCAN = 10_000


def _prev_ids(pdu: PduJson) -> list[str]:
    refs = pdu.get("prev_events") or []
    return [r[0] if isinstance(r, list) else r for r in refs if isinstance(r, list | str)]


class RoomReads:
    def __init__(self, access: RoomAccess, server_name: str) -> None:
        self.access = access
        self.storage = access.storage
        self.server_name = server_name

    def _transaction(self, pdus: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "origin": self.server_name,
            "origin_server_ts": self.storage.clock(),
            "pdus": pdus,
        }

    def _room_event(self, room_id: str, event_id: str) -> PduJson:
        """A stored event of ``room_id``, neither soft-failed nor rejected; else 404."""
        pdu = self.storage.timeline.get(event_id)
        if (
            pdu is None
            or self.storage.timeline.is_hidden(event_id)
            or self._room_of(pdu) != room_id
        ):
            raise not_found(f"Event {event_id} not found in room {room_id}.")
        return pdu

    @staticmethod
    def _room_of(pdu: PduJson) -> str:
        room = pdu.get("room_id")
        return str(room) if room else "!" + str(pdu.get("event_id", ""))[1:]

    def _visible_event(
        self, origin: str, room_id: str, event_id: str
    ) -> tuple[PduJson, RoomVersion]:
        rv = self.access.check_in_room(room_id, origin)
        pdu = self._room_event(room_id, event_id)
        if not self.access.visible(pdu, origin):
            raise forbidden(f"Server {origin} may not see event {event_id}.")
        return pdu, rv

    def _pdus(self, event_ids: Iterable[str], rv: RoomVersion) -> list[dict[str, Any]]:
        out = []
        for event_id in event_ids:
            pdu = self.storage.timeline.get(event_id)
            if pdu is not None:
                out.append(outgoing(pdu, rv))
        return out

    # -- endpoints -----------------------------------------------------------------------
    def event(self, origin: str, event_id: str) -> dict[str, Any]:
        """``GET /event/{eventId}``."""
        pdu = self.storage.timeline.get(event_id)
        if pdu is None or self.storage.timeline.is_hidden(event_id):
            raise not_found(f"Event {event_id} not found.")
        room_id = self._room_of(pdu)
        rv = self.access.check_in_room(room_id, origin)
        if not self.access.visible(pdu, origin):
            raise forbidden(f"Server {origin} may not see event {event_id}.")
        return self._transaction([outgoing(self.access.view(pdu, origin, rv), rv)])

    def _state_before(self, event_id: str) -> tuple[list[str], list[str]]:
        state = self.storage.state
        before = state.hash_before(event_id) or 0
        state_ids = sorted(state.state_ids(before).values())
        chain = sorted(self.storage.auth_chains.event_ids(state_ids))
        return state_ids, chain

    async def full_state(self, room_id: str) -> None:
        """Return once the room's state here is complete: the state at an event of a
        room joined with partial state is not known until the resync ends, so
        ``/state`` and ``/state_ids`` wait for it (as Synapse's do), before deciding
        whether the asking server may see it."""
        await self.storage.partial.wait_full(room_id)

    def state_ids(self, origin: str, room_id: str, event_id: str) -> dict[str, Any]:
        """``GET /state_ids/{roomId}?event_id=``."""
        self._visible_event(origin, room_id, event_id)
        state_ids, chain = self._state_before(event_id)
        return {"pdu_ids": state_ids, "auth_chain_ids": chain}

    def state(self, origin: str, room_id: str, event_id: str) -> dict[str, Any]:
        """``GET /state/{roomId}?event_id=``."""
        _, rv = self._visible_event(origin, room_id, event_id)
        state_ids, chain = self._state_before(event_id)
        return {"pdus": self._pdus(state_ids, rv), "auth_chain": self._pdus(chain, rv)}

    def event_auth(self, origin: str, room_id: str, event_id: str) -> dict[str, Any]:
        """``GET /event_auth/{roomId}/{eventId}``: the event's whole auth chain."""
        _, rv = self._visible_event(origin, room_id, event_id)
        chain = sorted(self.storage.auth_chains.event_ids([event_id]))
        return {"auth_chain": self._pdus(chain, rv)}

    def _walk(
        self,
        room_id: str,
        starts: Iterable[str],
        limit: int,
        *,
        stop: frozenset[str] = frozenset(),
        min_depth: int = 0,
        include_starts: bool,
    ) -> list[PduJson]:
        """Up to ``limit`` events of the room reached backwards over prev_events from
        ``starts``, deepest first (Synapse's backfill order), never crossing ``stop``."""
        heap: list[tuple[int, str]] = []
        seen: set[str] = set(stop)
        found: list[PduJson] = []

        def push(event_id: str) -> None:
            if event_id in seen:
                return
            seen.add(event_id)
            pdu = self.storage.timeline.get(event_id)
            if pdu is None or self._room_of(pdu) != room_id:
                return
            depth = pdu.get("depth")
            depth = depth if isinstance(depth, int) else 0
            if depth < min_depth:
                return
            heapq.heappush(heap, (-depth, event_id))

        for event_id in starts:
            if include_starts:
                push(event_id)
            else:
                seen.add(event_id)
                pdu = self.storage.timeline.get(event_id)
                if pdu is not None and self._room_of(pdu) == room_id:
                    for prev in _prev_ids(pdu):
                        push(prev)
        while heap and len(found) < limit:
            _, event_id = heapq.heappop(heap)
            pdu = self.storage.timeline.get(event_id)
            if pdu is None:
                continue
            if not self.storage.timeline.is_hidden(event_id):
                found.append(pdu)  # a rejected or soft-failed one is passed over
            for prev in _prev_ids(pdu):
                push(prev)
        return found

    def backfill(self, origin: str, room_id: str, starts: list[str], limit: int) -> dict[str, Any]:
        """``GET /backfill/{roomId}?v=&limit=``: the events from ``v`` backwards."""
        if not starts:
            raise invalid_param("At least one v (event ID to backfill from) is needed.")
        if limit < 1:
            raise invalid_param("limit must be positive.")
        rv = self.access.check_in_room(room_id, origin)
        found = self._walk(room_id, starts, min(limit, MAX_BACKFILL), include_starts=True)
        return self._transaction([outgoing(self.access.view(p, origin, rv), rv) for p in found])

    def missing_events(
        self,
        origin: str,
        room_id: str,
        earliest: list[str],
        latest: list[str],
        limit: int,
        min_depth: int,
    ) -> dict[str, Any]:
        """``POST /get_missing_events/{roomId}``: the events between ``earliest``
        (excluded) and ``latest`` (excluded), oldest first."""
        rv = self.access.check_in_room(room_id, origin)
        found = self._walk(
            room_id,
            latest,
            max(0, min(limit, MAX_MISSING)),
            stop=frozenset(earliest),
            min_depth=min_depth,
            include_starts=False,
        )
        found.reverse()
        return {"events": [outgoing(self.access.view(p, origin, rv), rv) for p in found]}

    def timestamp_to_event(
        self, origin: str, room_id: str, ts: int, direction: str
    ) -> dict[str, Any]:
        """``GET /timestamp_to_event/{roomId}?ts=&dir=``: the closest event the
        origin may see."""
        if direction not in ("f", "b"):
            raise invalid_param("dir must be 'f' or 'b'")
        self.access.check_in_room(room_id, origin)
        shortroomid = self.storage.short.room(room_id)
        backwards = direction == "b"
        if shortroomid is not None:
            scan = self.storage.timeline.scan(shortroomid, None, backwards=backwards)
            for examined, (_, pdu) in enumerate(scan):
                if examined >= MAX_TIMESTAMP_SCAN:
                    break
                event_ts = pdu.get("origin_server_ts")
                if not isinstance(event_ts, int):
                    continue
                if (event_ts <= ts) if backwards else (event_ts >= ts):
                    if self.access.visible(pdu, origin):
                        return {"event_id": pdu["event_id"], "origin_server_ts": event_ts}
        way = "forward" if direction == "f" else "backward"
        raise not_found(f"Unable to find event from {ts} in {way} direction")
