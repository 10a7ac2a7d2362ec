"""Server-side aggregations bundled into ``unsigned.m.relations`` (client-server API
"Aggregations of child events"): the latest edit (``m.replace``, same sender and
type as the original), thread summaries (``m.thread``) and references
(``m.reference``). Children come from the ``tofrom_relation`` prefix of the event.

Relations never cross rooms: a new local relation to another room's event is refused
(``check_new_relation``), and children or thread roots from another room (possible
over federation, when the target arrives later) are never served.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from conduwuit.core.client_event import to_client
from conduwuit.core.errors import ErrCode, MatrixError
from conduwuit.db import MAPS
from conduwuit.db.codec import from_u64, u64
from conduwuit.service.rooms.storage import RoomStorage
from conduwuit.service.rooms.timeline import PduJson


def _rel(pdu: PduJson) -> str | None:
    relates = (pdu.get("content") or {}).get("m.relates_to")
    rel_type = relates.get("rel_type") if isinstance(relates, dict) else None
    return rel_type if isinstance(rel_type, str) else None


def thread_root(pdu: PduJson) -> str | None:
    """The root of the thread ``pdu`` is a reply in, if it is one."""
    relates = (pdu.get("content") or {}).get("m.relates_to")
    if not isinstance(relates, dict) or relates.get("rel_type") != "m.thread":
        return None
    root = relates.get("event_id")
    return root if isinstance(root, str) else None


def check_new_relation(storage: RoomStorage, room_id: str, content: dict[str, Any]) -> None:
    """Refuse a new local event relating to an event of another room, or to an event
    this server has never seen and nothing relates to yet.

    Synapse does exactly this (``_validate_event_relation`` in handlers/message.py)
    with ``SynapseError(400, ...)``, i.e. ``M_UNKNOWN``. Only ``m.relates_to.event_id``
    is a relation; rich replies (``m.in_reply_to``) are not, and the server never
    serves the event they point at (Synapse does not check them either).
    """
    relates = content.get("m.relates_to")
    target = relates.get("event_id") if isinstance(relates, dict) else None
    if not isinstance(target, str):
        return
    parent = storage.timeline.get(target)
    if parent is not None:
        if parent.get("room_id") != room_id:
            raise MatrixError(ErrCode.UNKNOWN, "Relations must be in the same room", status=400)
        return
    short = storage.short.event(target)
    edges = storage.db.map(MAPS.tofrom_relation)
    if short is None or next(iter(edges.iter_prefix(u64(short))), None) is None:
        raise MatrixError(ErrCode.UNKNOWN, "Can't send relation to unknown event", status=400)


# What the reader may see of a child event (history visibility, their leave,
# erasure): the event, a redacted copy, or None.
Visible = Callable[[PduJson], PduJson | None]


class Aggregations:
    def __init__(self, storage: RoomStorage) -> None:
        self.storage = storage
        self._edges = storage.db.map(MAPS.tofrom_relation)

    def children(
        self, event_id: str, room_id: str, until: int | None
    ) -> Iterator[tuple[int, PduJson]]:
        """The events relating to ``event_id`` from its own room ``room_id``."""
        short = self.storage.short.event(event_id)
        if short is None:
            return
        for k, _ in self._edges.iter_prefix(u64(short)):
            child = self.storage.short.event_id(from_u64(k[8:16]))
            located = self.storage.timeline.get_timeline(child) if child else None
            if located is None or located[1].get("room_id") != room_id:
                continue
            if until is None or located[0] <= until:
                yield located

    def bundle(
        self, pdu: PduJson, viewer: str, until: int | None, now: int, visible: Visible
    ) -> dict[str, Any]:
        """``unsigned.m.relations`` of ``pdu`` from the children ``viewer`` may see."""
        edits: list[tuple[int, PduJson]] = []
        thread: list[tuple[int, PduJson]] = []
        references: list[str] = []
        for count, original in self.children(str(pdu["event_id"]), str(pdu.get("room_id")), until):
            child = visible(original)
            if child is None:
                continue
            # The relation is the original's (an erased copy has no m.relates_to but
            # still belongs to its thread); an erased edit replaces nothing.
            rel_type = _rel(original)
            if rel_type == "m.replace" and child is original:
                if child.get("sender") == pdu.get("sender") and child.get("type") == pdu.get(
                    "type"
                ):
                    edits.append((count, child))
            elif rel_type == "m.thread":
                thread.append((count, child))
            elif rel_type == "m.reference":
                references.append(str(child["event_id"]))
        out: dict[str, Any] = {}
        if edits:
            latest = max(edits, key=lambda e: (e[1].get("origin_server_ts", 0), e[0]))
            out["m.replace"] = to_client(latest[1], now)
        if thread:
            latest = max(thread, key=lambda e: e[0])
            out["m.thread"] = {
                "latest_event": to_client(latest[1], now),
                "count": len(thread),
                "current_user_participated": pdu.get("sender") == viewer
                or any(c.get("sender") == viewer for _, c in thread),
            }
        if references:
            out["m.reference"] = {"chunk": [{"event_id": e} for e in references]}
        return out

    def thread_roots(self, room_id: str, from_count: int | None) -> Iterator[tuple[int, str]]:
        """``(latest activity, root event ID)`` newest first, below ``from_count``."""
        shortroomid = self.storage.short.room(room_id)
        if shortroomid is None or (from_count is not None and from_count <= 0):
            return  # no thread's latest activity is a backfilled (negative) position
        threads = self.storage.db.map(MAPS.roomid_threads)
        room = u64(shortroomid)
        end = room + u64(from_count) if from_count is not None else u64(shortroomid + 1)
        for k, _ in threads.iter_range(room, end, reverse=True):
            yield from_u64(k[8:16]), k[16:].decode()
