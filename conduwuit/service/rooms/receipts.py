"""Receipts (client-server API "Receipts", threaded receipts): ``m.read`` is shared
with the room; ``m.read.private`` is only for the user. Each receipt takes a stream
position; the previous receipt of the same user, type and thread is replaced.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from conduwuit.core.errors import forbidden, invalid_param, not_found
from conduwuit.core.ids import RoomId, UserId
from conduwuit.db import MAPS, Batch, Database
from conduwuit.db.codec import from_u64, key, prefix, prefix_end, u64
from conduwuit.service.notifier import Notifier
from conduwuit.service.rooms.member_index import MemberIndex
from conduwuit.service.rooms.timeline import Timeline

RECEIPT_TYPES = ("m.read", "m.read.private")
#: Relations followed from a threaded receipt's event to its thread root (the spec's
#: "a maximum of 3 hops" for finding an event's thread).
RELATION_HOPS = 3

#: Stages what a receipt changes in its own batch: ``(batch, user ID, room ID, thread
#: ID or None, event ID, stream position of the receipt)`` (notification counts).
ReceiptListener = Callable[[Batch, str, str, "str | None", str, int], None]


class Receipts:
    def __init__(
        self,
        db: Database,
        members: MemberIndex,
        timeline: Timeline,
        notifier: Notifier,
        clock: Callable[[], int],
    ) -> None:
        self._db = db
        self._members = members
        self._timeline = timeline
        self._notifier = notifier
        self._clock = clock
        self._public = db.map(MAPS.readreceiptid_readreceipt)
        self._latest = db.map(MAPS.roomuserid_receipt)
        self.listeners: list[ReceiptListener] = []
        #: Like ``listeners``, for public (``m.read``) receipts only (federation).
        self.public_listeners: list[ReceiptListener] = []
        #: Like ``listeners``, for private (``m.read.private``) receipts only.
        self.private_listeners: list[ReceiptListener] = []

    def set_receipt(
        self,
        user: UserId,
        room_id: RoomId,
        receipt_type: str,
        event_id: str,
        thread_id: str | None = None,
        *,
        member_unknown_ok: bool = False,
        event_unknown_ok: bool = False,
        ts: int | None = None,
    ) -> None:
        """``member_unknown_ok``: as ``Typing.set_typing``'s (partial-state rooms).
        ``event_unknown_ok``: a receipt received over federation may point at an event
        we do not hold (yet, or ever: a room joined with partial state, a gap in the
        timeline). The spec asks no such check of the receiving server and Synapse
        stores such receipts as they are, so we do; an event we do hold must still be
        of the room, and a threaded receipt's relation is checked only when we can.
        ``ts``: the time the receipt's sender gave (federation; Synapse keeps it), else
        now."""
        room = str(room_id)
        if receipt_type not in RECEIPT_TYPES:
            raise invalid_param(f"Unknown receipt type {receipt_type}")
        target = self.check_target(
            user,
            room_id,
            event_id,
            member_unknown_ok=member_unknown_ok,
            event_unknown_ok=event_unknown_ok,
        )
        if thread_id is not None and thread_id != "main" and target is not None:
            if event_id != thread_id and not self._related_to(target, thread_id):
                raise invalid_param("Event is not related to that thread")
        stamp = ts if ts is not None else self._clock()
        receipt: dict[str, Any] = {"event_id": event_id, "type": receipt_type, "ts": stamp}
        if thread_id is not None:
            receipt["thread_id"] = thread_id
        latest_key = key(room, str(user), receipt_type, thread_id or "")
        with self._db.batch() as b:
            old = self._latest.get(latest_key)
            count = b.next_count()
            value = json.dumps(receipt).encode()
            if old is not None and receipt_type == "m.read":
                b.delete(self._public, prefix(room) + old[:8] + str(user).encode())
            if receipt_type == "m.read":
                b.put(self._public, prefix(room) + u64(count) + str(user).encode(), value)
            b.put(self._latest, latest_key, u64(count) + value)
            for listener in self.listeners:
                listener(b, str(user), room, thread_id, event_id, count)
            by_type = self.public_listeners if receipt_type == "m.read" else self.private_listeners
            for listener in by_type:
                listener(b, str(user), room, thread_id, event_id, count)
        if receipt_type == "m.read":
            self._notifier.notify(count, rooms=[room])
        else:
            self._notifier.notify(count, users=[str(user)])

    def _related_to(self, event: dict[str, Any], root: str) -> bool:
        """Whether ``event`` relates to ``root`` directly or through at most
        ``RELATION_HOPS`` relations of any type: the spec refuses a threaded receipt
        whose event "is not related to the thread_id". A reaction to a reference to the
        root is related, as in Synapse (Complement TestThreadedReceipts marks a thread
        read with one); the receipt then reads the thread up to that event."""
        for _ in range(RELATION_HOPS):
            relates = (event.get("content") or {}).get("m.relates_to")
            parent_id = relates.get("event_id") if isinstance(relates, dict) else None
            if not isinstance(parent_id, str):
                return False
            if parent_id == root:
                return True
            parent = self._timeline.get(parent_id)
            if parent is None or parent.get("room_id") != event.get("room_id"):
                return False
            event = parent
        return False

    def check_target(
        self,
        user: UserId,
        room_id: RoomId,
        event_id: str,
        *,
        member_unknown_ok: bool = False,
        event_unknown_ok: bool = False,
    ) -> dict[str, Any] | None:
        """The event a receipt or marker points at: in the room, with the user joined;
        None for an event we do not hold when ``event_unknown_ok``."""
        room = str(room_id)
        if not member_unknown_ok and not self._members.is_joined(str(user), room):
            raise forbidden("You are not in this room")
        target = self._timeline.get(event_id)
        if target is None and event_unknown_ok:
            return None
        if target is None or target.get("room_id") != room:
            raise not_found("Event not found")
        return target

    def since(
        self, room_id: str, position: int, until: int | None = None, user: str | None = None
    ) -> dict[str, Any]:
        """The ``m.receipt`` content of public receipts after ``position`` (and at or
        before ``until`` when given), with ``user``'s own private receipts when given:
        "m.read.private" is sent to the user who sent it, to no one else (spec,
        "Private read receipts")."""
        content: dict[str, Any] = {}
        start = prefix(room_id) + u64(position + 1)
        end = prefix_end(prefix(room_id)) if until is None else prefix(room_id) + u64(until + 1)
        for k, raw in self._public.iter_range(start, end):
            _add(content, k[len(prefix(room_id)) + 8 :].decode(), json.loads(raw))
        if user is not None:
            for _, raw in self._latest.iter_prefix(prefix(room_id, user, "m.read.private")):
                count = from_u64(raw[:8])
                if position < count and (until is None or count <= until):
                    _add(content, user, json.loads(raw[8:]))
        return content

    def latest(
        self, user: UserId, room_id: str, receipt_type: str, thread_id: str | None = None
    ) -> tuple[int, dict[str, Any]] | None:
        raw = self._latest.get(key(room_id, str(user), receipt_type, thread_id or ""))
        if raw is None:
            return None
        return from_u64(raw[:8]), json.loads(raw[8:])


def _add(content: dict[str, Any], user: str, receipt: dict[str, Any]) -> None:
    """One receipt into ``m.receipt`` content (event ID → type → user → data)."""
    entry: dict[str, Any] = {"ts": receipt["ts"]}
    if "thread_id" in receipt:
        entry["thread_id"] = receipt["thread_id"]
    by_user = content.setdefault(receipt["event_id"], {}).setdefault(receipt["type"], {})
    # The content has room for one receipt per event, type and user: when a user has
    # both an unthreaded and a threaded receipt on the same event, the unthreaded one is
    # shown, whichever came later (MSC4102).
    if "thread_id" not in entry or "thread_id" in by_user.get(user, entry):
        by_user[user] = entry
