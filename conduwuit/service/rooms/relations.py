"""Relations (client-server API "Relationships": ``/relations``, ``/threads``).

Edges are ``tofrom_relation`` keys (target short id + relating short id), written
with the relating event, so the children of an event are one prefix scan. Short
ids come from the global counter, so key order is arrival order; tokens are the
relating event's stream position.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from conduwuit.core.errors import invalid_param, not_found
from conduwuit.core.ids import RoomId, UserId
from conduwuit.core.stream_token import StreamToken
from conduwuit.core.timeline_pos import TimelinePos, parse_token
from conduwuit.service.rooms.history import MAX_LIMIT, Access, RoomHistory
from conduwuit.service.rooms.timeline import PduJson

# Synapse follows relations of relations at most this deep when recurse=true.
MAX_RECURSION = 3


def rel_of(pdu: PduJson) -> tuple[str | None, str | None]:
    relates = (pdu.get("content") or {}).get("m.relates_to")
    if not isinstance(relates, dict):
        return None, None
    rel_type, target = relates.get("rel_type"), relates.get("event_id")
    return (
        rel_type if isinstance(rel_type, str) else None,
        target if isinstance(target, str) else None,
    )


class Relations:
    def __init__(self, history: RoomHistory) -> None:
        self.history = history
        self.storage = history.storage

    def _children(self, event_id: str, room_id: str) -> Iterator[tuple[int, PduJson]]:
        return self.history.aggregations.children(event_id, room_id, None)

    def _view(self, user: UserId, access: Access, count: int, pdu: PduJson) -> PduJson | None:
        if access.until is not None and count > access.until:
            return None
        return self.history.view(user, pdu, access)

    def relations(
        self,
        user: UserId,
        room_id: RoomId,
        event_id: str,
        *,
        rel_type: str | None = None,
        event_type: str | None = None,
        from_token: str | None = None,
        to_token: str | None = None,
        limit: int = 50,
        direction: str = "b",
        recurse: bool = False,
    ) -> dict[str, Any]:
        if direction not in ("b", "f"):
            raise invalid_param("dir must be 'b' or 'f'")
        access = self.history.access(user, room_id)
        parent = self.storage.timeline.get_timeline(event_id)
        if parent is None or parent[1].get("room_id") != str(room_id):
            raise not_found("Event not found")
        if self._view(user, access, *parent) is None:
            raise not_found("Event not found")
        # Exact positions (history backfilled into a gap shares its count).
        timeline = self.storage.timeline
        found: dict[str, tuple[TimelinePos, PduJson]] = {}
        frontier = [event_id]
        for _ in range(MAX_RECURSION if recurse else 1):
            next_frontier = []
            for target in frontier:
                for count, pdu in self._children(target, str(room_id)):
                    child = str(pdu["event_id"])
                    found.setdefault(child, (timeline.position(child) or TimelinePos(count), pdu))
                    next_frontier.append(child)
            frontier = next_frontier
        rows = sorted(found.values(), key=lambda row: row[0], reverse=direction == "b")
        start = parse_token(from_token) if from_token else None
        stop = parse_token(to_token) if to_token else None
        limit = max(1, min(limit, MAX_LIMIT))
        chunk: list[dict[str, Any]] = []
        next_batch = None
        for pos, pdu in rows:
            if start is not None and (pos > start if direction == "b" else pos <= start):
                continue
            if stop is not None and (pos <= stop if direction == "b" else pos > stop):
                break
            this_rel, _ = rel_of(pdu)
            if rel_type is not None and this_rel != rel_type:
                continue
            if event_type is not None and pdu.get("type") != event_type:
                continue
            seen = self._view(user, access, pos.count, pdu)
            if seen is None:
                continue
            if len(chunk) == limit:
                # Backwards the next page starts at this event, forwards right before.
                if direction == "f":
                    next_batch = pos.before().token()
                else:
                    next_batch = pos.token()
                break
            chunk.append(self.history._client(seen, None))
        body: dict[str, Any] = {"chunk": chunk}
        if next_batch is not None:
            body["next_batch"] = next_batch
        if recurse:
            body["recursion_depth"] = MAX_RECURSION
        return body

    def threads(
        self,
        user: UserId,
        room_id: RoomId,
        include: str = "all",
        limit: int = 20,
        from_token: str | None = None,
    ) -> dict[str, Any]:
        """Thread roots by latest activity, newest first (``/threads``)."""
        if include not in ("all", "participated"):
            raise invalid_param("include must be all or participated")
        access = self.history.access(user, room_id)
        limit = max(1, min(limit, MAX_LIMIT))
        start = StreamToken.parse_pagination(from_token).position if from_token else None
        chunk: list[dict[str, Any]] = []
        next_batch = None
        device = (str(user), "")
        for latest, root_id in self.history.aggregations.thread_roots(str(room_id), start):
            located = self.storage.timeline.get_timeline(root_id)
            if located is None or located[1].get("room_id") != str(room_id):
                continue  # a thread index entry made over federation for another room
            seen = self._view(user, access, *located)
            if seen is None:
                continue
            root = self.history._client(seen, device, access)
            if include == "participated":
                summary = root["unsigned"].get("m.relations", {}).get("m.thread", {})
                if not summary.get("current_user_participated"):
                    continue
            if len(chunk) == limit:
                next_batch = str(latest + 1)
                break
            chunk.append(root)
        body: dict[str, Any] = {"chunk": chunk}
        if next_batch is not None:
            body["next_batch"] = next_batch
        return body
