"""``/timestamp_to_event`` (client-server API; MSC3030): the closest visible event
to a time in one direction, as far as this server's timeline goes.

The timeline is ordered by stream position, not time, but local positions grow
with time, so the scan walks from the end nearest the answer and stops at the
first event past the wanted time (conduwuit does the same linear walk).

``gap_next_to`` tells whether the answer may be beaten by events this server never
received (history before it joined, or while it was away), and names the event
after that gap; the federation layer then asks the room's other servers
(``service/federation/timestamps.py``) and places their answer in the gap.
"""

from __future__ import annotations

from dataclasses import dataclass

from conduwuit.core.errors import MatrixError, invalid_param, not_found
from conduwuit.core.ids import RoomId, UserId
from conduwuit.core.timeline_pos import TimelinePos
from conduwuit.service.rooms.history import Access, RoomHistory
from conduwuit.service.rooms.timeline import PduJson, Timeline, pduid


@dataclass(frozen=True)
class Closest:
    """The closest local event: its position and PDU."""

    position: TimelinePos
    pdu: PduJson

    @property
    def event_id(self) -> str:
        return str(self.pdu["event_id"])

    @property
    def ts(self) -> int:
        return int(self.pdu.get("origin_server_ts", 0))


def check_direction(direction: str) -> bool:
    """True for backwards; ``M_INVALID_PARAM`` unless ``f`` or ``b``."""
    if direction not in ("f", "b"):
        raise invalid_param("dir must be 'f' or 'b'")
    return direction == "b"


def local_closest(
    history: RoomHistory, user: UserId, room_id: RoomId, ts: int, direction: str
) -> tuple[Access, Closest | None]:
    """The user's access to the room (403 without) and the closest event they may
    see in our timeline, if any."""
    backwards = check_direction(direction)
    access = history.access(user, room_id)
    shortroomid = history.storage.short.room(str(room_id))
    if shortroomid is None:
        return access, None
    timeline = history.storage.timeline
    for pos, pdu in timeline.scan_at(shortroomid, None, backwards=backwards):
        if access.until is not None and pos.count > access.until:
            continue
        event_ts = int(pdu.get("origin_server_ts", 0))
        if (event_ts <= ts) if backwards else (event_ts >= ts):
            if history.may_see(user, pdu, access):
                return access, Closest(pos, pdu)
    return access, None


def _after_gap(timeline: Timeline, pdu: PduJson) -> bool:
    """Some prev event of ``pdu`` is not in our timeline: history is missing before it."""
    prevs = pdu.get("prev_events")
    return isinstance(prevs, list) and any(
        isinstance(p, str) and timeline.pdu_id(p) is None for p in prevs
    )


def gap_next_to(
    timeline: Timeline, shortroomid: int, found: Closest | None, backwards: bool
) -> bytes | None:
    """The pduid of the event after a gap in which events we never received may lie
    between ``found`` and the wanted time, if there is one: looking forwards,
    missing history right before ``found`` (Synapse's
    ``is_event_next_to_backward_gap``); looking backwards, missing history right
    after it, i.e. the next event of our timeline follows a gap (Synapse's
    ``is_event_next_to_forward_gap`` reads its event graph; our timeline is linear,
    so the next event is where the gap shows), or, with nothing found, before our
    oldest event. The newest event is next to no gap: newer events come by
    federation as usual."""
    if found is None:
        if not backwards:
            return None
        after = timeline.oldest(shortroomid)
    elif not backwards:
        after = (found.position, found.pdu)
    else:
        after = next(iter(timeline.scan_at(shortroomid, found.position, backwards=False)), None)
    if after is None or not _after_gap(timeline, after[1]):
        return None
    return pduid(shortroomid, after[0])


def not_found_error(ts: int, direction: str) -> MatrixError:
    way = "forward" if direction == "f" else "backward"
    return not_found(f"Unable to find event from {ts} in {way} direction")
