"""PDU storage: timeline events by (shortroomid, position), outliers by event ID.

A position (``core.timeline_pos``) is the event's stream count (the global counter,
positive) or, for history fetched from other servers (backfill), a negative count
below every other event of the room (as conduwuit's backfilled PDU counts): such
events are older than anything a /sync token reaches. History fetched into a gap
between two held events takes a sub-position ``(count, sub)`` between them. In keys
a count is its 64-bit two's complement, so negative counts sort after the positive
ones (``scan`` walks both segments in order); a sub-position appends ``u64 sub``, so
it sorts after its count's own event and before the next count.

``gaps``: where the timeline misses history (``service.rooms.gaps``).

The stored JSON is the PDU plus ``event_id`` (so a scan yields IDs without
hashing) and the server-computed ``unsigned``; ``client_event`` and the federation
serialiser choose the fields they show. (Records written before the client
transaction moved beside the event, see ``transactions``, also hold ``_txn``.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from conduwuit.core.timeline_pos import AFTER_ALL, TimelinePos
from conduwuit.db import MAPS, Batch, Database
from conduwuit.db.codec import U64_MAX, from_u64, u64
from conduwuit.service.rooms.gaps import Gaps

PduJson = dict[str, Any]

#: The first key value of negative (backfilled) counts.
_NEGATIVE = 1 << 63


def _count_key(count: int) -> bytes:
    return u64(count & U64_MAX)


def pduid(shortroomid: int, count: int | TimelinePos) -> bytes:
    """The key of a position: 16 bytes, 24 with a sub-position."""
    if isinstance(count, TimelinePos):
        head = u64(shortroomid) + _count_key(count.count)
        return head + u64(count.sub) if count.sub else head
    return u64(shortroomid) + _count_key(count)


def count_of(pdu_id: bytes) -> int:
    value = from_u64(pdu_id[8:16])
    return value - (1 << 64) if value >= _NEGATIVE else value


def position_of(pdu_id: bytes) -> TimelinePos:
    return TimelinePos(count_of(pdu_id), from_u64(pdu_id[16:24]) if len(pdu_id) > 16 else 0)


def _first_after(token: TimelinePos) -> TimelinePos:
    """The lowest event position after ``token`` (sub 0 when it is a count's own)."""
    if token.sub >= AFTER_ALL - 1:
        return TimelinePos(token.count + 1)
    return TimelinePos(token.count, token.sub + 1)


def encode(pdu: PduJson) -> bytes:
    return json.dumps(pdu, ensure_ascii=False, separators=(",", ":")).encode()


def decode(raw: bytes) -> PduJson:
    value: PduJson = json.loads(raw)
    return value


class Timeline:
    def __init__(self, db: Database) -> None:
        self._pdus = db.map(MAPS.pduid_pdu)
        self._ids = db.map(MAPS.eventid_pduid)
        self._outliers = db.map(MAPS.eventid_outlierpdu)
        self._softfailed = db.map(MAPS.softfailedeventids)
        self._rejected = db.map(MAPS.eventid_rejection)
        self.gaps = Gaps(db, self.pdu_id, self.is_hidden)

    def pdu_id(self, event_id: str) -> bytes | None:
        return self._ids.get(event_id.encode())

    def get(self, event_id: str) -> PduJson | None:
        """A timeline event, or an outlier, by ID."""
        pdu_id = self._ids.get(event_id.encode())
        if pdu_id is not None:
            raw = self._pdus.get(pdu_id)
        else:
            raw = self._outliers.get(event_id.encode())
        return decode(raw) if raw is not None else None

    def get_timeline(self, event_id: str) -> tuple[int, PduJson] | None:
        """A timeline event with its stream count (a sub-position's count)."""
        pdu_id = self._ids.get(event_id.encode())
        if pdu_id is None:
            return None
        raw = self._pdus.get(pdu_id)
        return (count_of(pdu_id), decode(raw)) if raw is not None else None

    def position(self, event_id: str) -> TimelinePos | None:
        """A timeline event's exact position."""
        pdu_id = self._ids.get(event_id.encode())
        return position_of(pdu_id) if pdu_id is not None else None

    def token_before(self, first: tuple[int, PduJson]) -> str:
        """The pagination token right before a timeline event (``(count, pdu)``, as
        /sync's timelines hold them), where ``prev_batch`` points."""
        pos = self.position(str(first[1].get("event_id")))
        return (pos or TimelinePos(first[0])).before().token()

    def get_timeline_by_pduid(self, pdu_id: bytes) -> PduJson | None:
        raw = self._pdus.get(pdu_id)
        return decode(raw) if raw is not None else None

    def exists(self, event_id: str) -> bool:
        return self._ids.contains(event_id.encode()) or self._outliers.contains(event_id.encode())

    def is_soft_failed(self, event_id: str) -> bool:
        return self._softfailed.contains(event_id.encode())

    def scan(
        self, shortroomid: int, from_count: int | None, backwards: bool
    ) -> Iterator[tuple[int, PduJson]]:
        """``(count, pdu)`` of a room's timeline from ``from_count`` (exclusive) on.

        Backwards yields counts below ``from_count``; forwards, counts above it (the
        sub-positions of a count count as it). ``None`` starts at the newest
        (backwards) or oldest (forwards) event.
        """
        if from_count is None:
            boundary = None
        else:
            boundary = TimelinePos(from_count if backwards else from_count + 1)
        for pos, pdu in self._scan(shortroomid, boundary, backwards):
            yield pos.count, pdu

    def scan_at(
        self, shortroomid: int, token: TimelinePos | None, backwards: bool
    ) -> Iterator[tuple[TimelinePos, PduJson]]:
        """``(position, pdu)`` from a token: backwards the events at or before it,
        forwards those after it; ``None``: from the newest or the oldest."""
        boundary = None if token is None else _first_after(token)
        return self._scan(shortroomid, boundary, backwards)

    def _scan(
        self, shortroomid: int, boundary: TimelinePos | None, backwards: bool
    ) -> Iterator[tuple[TimelinePos, PduJson]]:
        """Backwards the positions below ``boundary``, forwards those at or above it."""
        room = u64(shortroomid)
        negatives = (room + u64(_NEGATIVE), u64(shortroomid + 1))
        positives = (room, room + u64(_NEGATIVE))
        segments: list[tuple[bytes, bytes]] = []
        if boundary is None:
            segments += [positives, negatives] if backwards else [negatives, positives]
        else:
            key = pduid(shortroomid, boundary)
            if backwards and boundary.count >= 0:
                segments += [(positives[0], key), negatives]
            elif backwards:
                segments.append((negatives[0], key))
            elif boundary.count < 0:
                segments += [(key, negatives[1]), positives]
            else:
                segments.append((key, positives[1]))
        for start, end in segments:
            for k, raw in self._pdus.iter_range(start, end, reverse=backwards):
                yield position_of(k), decode(raw)

    def oldest(self, shortroomid: int) -> tuple[TimelinePos, PduJson] | None:
        """The room's first timeline event (the lowest position)."""
        return next(iter(self.scan_at(shortroomid, None, backwards=False)), None)

    # -- writes (into the caller's batch) ----------------------------------------------
    def put_timeline(self, batch: Batch, pdu_id: bytes, pdu: PduJson) -> None:
        """The event at ``pdu_id``, and the gap before it if its prev events are
        missing."""
        batch.put(self._pdus, pdu_id, encode(pdu))
        batch.put(self._ids, pdu["event_id"].encode(), pdu_id)
        self.gaps.note(batch, pdu_id, pdu.get("prev_events"))

    def replace(self, batch: Batch, event_id: str, pdu: PduJson) -> None:
        pdu_id = self._ids.get(event_id.encode())
        if pdu_id is not None:
            batch.put(self._pdus, pdu_id, encode(pdu))
        else:
            batch.put(self._outliers, event_id.encode(), encode(pdu))

    def is_rejected(self, event_id: str) -> bool:
        """Refused by the auth rules: kept to place and refuse other events, never
        served (neither is a soft-failed event)."""
        return self._rejected.contains(event_id.encode())

    def rejection(self, event_id: str) -> str | None:
        raw = self._rejected.get(event_id.encode())
        return raw.decode() if raw is not None else None

    def is_hidden(self, event_id: str) -> bool:
        """Soft-failed or rejected: never served to clients or servers."""
        return self.is_soft_failed(event_id) or self.is_rejected(event_id)

    def unplace(self, batch: Batch, event_id: str) -> None:
        """Take an event out of the timeline (it stays as an outlier or rejected)."""
        pdu_id = self._ids.get(event_id.encode())
        if pdu_id is not None:
            batch.delete(self._pdus, pdu_id)
            batch.delete(self._ids, event_id.encode())

    def unreject(self, batch: Batch, event_id: str) -> None:
        """Drop an event's rejection and outlier rows (the caller places it)."""
        batch.delete(self._rejected, event_id.encode())
        batch.delete(self._outliers, event_id.encode())

    def put_rejected(self, batch: Batch, pdu: PduJson, reason: str) -> None:
        batch.put(self._outliers, pdu["event_id"].encode(), encode(pdu))
        batch.put(self._rejected, pdu["event_id"].encode(), reason.encode())

    def put_outlier(self, batch: Batch, pdu: PduJson, soft_failed: bool = False) -> None:
        batch.put(self._outliers, pdu["event_id"].encode(), encode(pdu))
        if soft_failed:
            batch.put(self._softfailed, pdu["event_id"].encode(), b"")
