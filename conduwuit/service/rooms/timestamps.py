"""``/timestamp_to_event`` (client-server API; MSC3030): the closest visible event
to a time in one direction.

The timeline is ordered by stream position, not time, but local positions grow
with time, so the scan walks from the end nearest the answer and stops at the
first event past the wanted time (conduwuit does the same linear walk).
"""

from __future__ import annotations

from typing import Any

from conduwuit.core.errors import invalid_param, not_found
from conduwuit.core.ids import RoomId, UserId
from conduwuit.service.rooms.history import RoomHistory


def closest_event(
    history: RoomHistory, user: UserId, room_id: RoomId, ts: int, direction: str
) -> dict[str, Any]:
    if direction not in ("f", "b"):
        raise invalid_param("dir must be 'f' or 'b'")
    access = history.access(user, room_id)
    shortroomid = history.storage.short.room(str(room_id))
    best: tuple[int, str] | None = None
    if shortroomid is not None:
        backwards = direction == "b"
        for count, pdu in history.storage.timeline.scan(shortroomid, None, backwards=backwards):
            if access.until is not None and count > access.until:
                continue
            event_ts = int(pdu.get("origin_server_ts", 0))
            if (event_ts <= ts) if backwards else (event_ts >= ts):
                if history.may_see(user, pdu, access):
                    best = (event_ts, str(pdu["event_id"]))
                    break
    if best is None:
        way = "forward" if direction == "f" else "backward"
        raise not_found(f"Unable to find event from {ts} in {way} direction")
    return {"event_id": best[1], "origin_server_ts": best[0]}
