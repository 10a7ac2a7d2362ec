"""Purging a room: every row of the room in every map goes (purge_rules.py says which
rows are the room's), after the admin API's shutdown (service/rooms/admin.py).

Bounded: each step deletes at most ``CHUNK`` rows per write batch and yields to the
event loop between batches, so a purge of a large room never stalls the server.

Crash-safe: the intent is written (synced) before the first row goes
(``roomid_purge``), and the steps run so that what finds the remaining rows is deleted
after them. First the room's current state moves into the intent (from then on every
reader finds the room unknown, and none meets a half-deleted snapshot); then the
scanned maps, the state snapshots (found through the events), the events, the maps
keyed by the room, and last the room's short ID with the intent. A purge cut short
resumes from the intent at start-up; every step is idempotent, so running one again
deletes what the first run left.

The whole purge holds the room's lock: an event of the room arriving meanwhile waits,
and then finds the room unknown.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from itertools import islice
from typing import Final

from conduwuit.db import MAPS, Batch, Database, Map
from conduwuit.db.codec import SEP, from_u64, prefix_end, u64
from conduwuit.db.maps import MapSpec
from conduwuit.db.state_diff import decode as decode_diff
from conduwuit.service.rooms.purge_rules import (
    ROW_MATCHES,
    RULES,
    Kind,
    RowMatch,
    json_names_room,
)
from conduwuit.service.rooms.storage import RoomStorage

log = logging.getLogger(__name__)

#: Rows read (and at most deleted) per write batch before yielding to the loop.
CHUNK = 100
#: How long a purge waits for the senders to send the room's queued events.
QUEUE_WAIT_S = 10.0

Deletion = tuple[Map, bytes]


@dataclass(frozen=True, slots=True)
class PurgeIntent:
    """A purge asked for: ``phase`` is ``shutting_down`` until the members are out,
    then ``purging``; ``force`` purges even if some local members could not leave."""

    room_id: str
    delete_id: str
    block: bool
    phase: str
    started_ts: int
    force: bool = False
    #: The room's current state snapshot, moved here when the purge begins (the
    #: room then looks unknown to readers; the snapshot is still found to delete).
    current: int = 0


class RoomPurger:
    def __init__(self, db: Database, storage: RoomStorage) -> None:
        self._db = db
        self._storage = storage
        self._maps = {spec.name: db.map(spec) for spec in MAPS.all()}
        self._intents = db.map(MAPS.roomid_purge)
        #: Chunks written so far (tests and logs; a purge's size).
        self.batches = 0

    def _map(self, spec: MapSpec) -> Map:
        return self._maps[spec.name]

    # -- the durable intent ----------------------------------------------------------
    def intents(self) -> list[PurgeIntent]:
        """Purges not finished, e.g. cut short by a crash (resumed at start-up)."""
        return [
            PurgeIntent(room_id=k.decode(), **json.loads(v))
            for k, v in self._intents.iter_prefix(b"")
            # Keys with a part after the room ID are history purges'
            # (service/rooms/purge_history.py).
            if SEP not in k
        ]

    def intent(self, room_id: str) -> PurgeIntent | None:
        raw = self._intents.get(room_id.encode())
        return PurgeIntent(room_id=room_id, **json.loads(raw)) if raw is not None else None

    def record(self, intent: PurgeIntent) -> None:
        """Write the intent, synced: it must outlive any crash after this returns."""
        with self._db.batch(sync=True) as b:
            self._stage(b, intent)

    def _stage(self, b: Batch, intent: PurgeIntent) -> None:
        body = asdict(intent)
        del body["room_id"]
        b.put(self._intents, intent.room_id.encode(), json.dumps(body).encode())

    def forget(self, room_id: str) -> None:
        """Drop an intent that will not be carried out (the shutdown was refused)."""
        with self._db.batch(sync=True) as b:
            b.delete(self._intents, room_id.encode())

    # -- the purge -------------------------------------------------------------------
    async def purge(self, room_id: str) -> None:
        """Delete every row of the room (the caller has recorded the intent)."""
        storage = self._storage
        short = storage.short.room(room_id)
        await self._senders_done(room_id, short)
        async with storage.locks.hold(room_id):
            current = self._hide(room_id)
            for spec, match in _row_matches():
                await self._sweep(self._map(spec), _rows(self._map(spec), match, room_id))
            await self._sweep(self._map(MAPS.alias_roomid), self._alias_rows(room_id))
            await self._sweep(self._map(MAPS.delayid_delayedevent), self._delayed_rows(room_id))
            await self._snapshots(room_id, short, current)
            if short is not None:
                await self._timeline(short)
            await self._sweep(self._map(MAPS.eventid_outlierpdu), self._outlier_rows(room_id))
            with self._db.batch() as b:
                for name, rule in RULES.items():
                    spec = _spec(name)
                    if rule.kind is Kind.ROOM and spec not in LAST:
                        start = room_id.encode()
                        b.delete(self._map(spec), start)
                        b.delete_range(self._map(spec), start + SEP, _end(start + SEP))
                    elif rule.kind is Kind.SHORTROOM and short is not None:
                        b.delete_range(self._map(spec), u64(short), _end(u64(short)))
            with self._db.batch(sync=True) as b:
                # A history purge of the room (its intent under the room ID) ends too.
                start = room_id.encode() + SEP
                b.delete_range(self._intents, start, _end(start))
                for spec in LAST:
                    b.delete(self._map(spec), room_id.encode())
        storage.state.forget(room_id)
        if short is not None:
            storage.extremities.forget(short)
        log.info("room %s purged in %d batches", room_id, self.batches)

    def _hide(self, room_id: str) -> int:
        """Move the room's current state into the intent, in one batch: from here on
        the room is unknown to every reader (none reads a snapshot being deleted).
        The snapshot's ID, also when it was moved before a crash."""
        intent = self.intent(room_id)
        current = self._storage.state.current_hash(room_id)
        if intent is None or not current:
            return intent.current if intent is not None else current
        with self._db.batch(sync=True) as b:
            self._stage(b, replace(intent, current=current))
            b.delete(self._map(MAPS.roomid_shortstatehash), room_id.encode())
        return current

    async def _sweep(self, m: Map, doomed: Callable[[bytes, bytes], Iterable[Deletion]]) -> None:
        """Scan all of ``m`` in chunks, deleting what ``doomed`` says for each row."""
        cursor: bytes | None = None
        while True:
            rows = list(islice(m.iter_range(cursor, None), CHUNK))
            deletions = [d for k, v in rows for d in doomed(k, v)]
            self._delete(deletions)
            if len(rows) < CHUNK:
                return
            cursor = rows[-1][0] + b"\x00"
            await asyncio.sleep(0)

    def _delete(self, deletions: Iterable[Deletion]) -> None:
        pending = list(deletions)
        if not pending:
            return
        with self._db.batch() as b:
            for m, k in pending:
                b.delete(m, k)
        self.batches += 1

    # -- rows found by a scan ----------------------------------------------------------
    def _alias_rows(self, room_id: str) -> Callable[[bytes, bytes], Iterable[Deletion]]:
        def rows(k: bytes, v: bytes) -> Iterable[Deletion]:
            if v == room_id.encode():
                yield self._map(MAPS.alias_roomid), k
                yield self._map(MAPS.alias_userid), k

        return rows

    def _delayed_rows(self, room_id: str) -> Callable[[bytes, bytes], Iterable[Deletion]]:
        def rows(k: bytes, v: bytes) -> Iterable[Deletion]:
            if not json_names_room(v, room_id):
                return
            record = json.loads(v)
            due = int(record["running_since"]) + int(record["delay"])
            yield self._map(MAPS.delayid_delayedevent), k
            yield self._map(MAPS.userid_delayid), record["user_id"].encode() + SEP + k
            yield self._map(MAPS.duets_delayid), u64(due) + SEP + k

        return rows

    async def _senders_done(self, room_id: str, short: int | None) -> None:
        """Wait (at most ``QUEUE_WAIT_S``) until the senders have sent the room's
        queued events, the shutdown's leaves above all: the other servers must learn
        that our members left. One still queued after is skipped when its turn
        comes (the senders skip an event they cannot read), so the queues, whose
        sizes the senders count in memory, are left to them."""
        in_room = self._event_test(room_id, short)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + QUEUE_WAIT_S
        queues = (self._map(MAPS.servername_outgoing), self._map(MAPS.appserviceid_outgoing))
        while any(
            (event_id := _queued_event(v)) is not None and in_room(event_id)
            for queue in queues
            for _, v in queue.iter_prefix(b"")
        ):
            if loop.time() >= deadline:
                log.warning("purging %s with events of it still queued", room_id)
                return
            await asyncio.sleep(0.25)

    def _event_test(self, room_id: str, short: int | None) -> Callable[[str], bool]:
        """Whether an event ID is one of the room's events (timeline or outlier)."""
        pdu_ids = self._map(MAPS.eventid_pduid)
        outliers = self._map(MAPS.eventid_outlierpdu)

        def in_room(event_id: str) -> bool:
            pdu_id = pdu_ids.get(event_id.encode())
            if pdu_id is not None:
                return short is not None and pdu_id[:8] == u64(short)
            raw = outliers.get(event_id.encode())
            return raw is not None and json_names_room(raw, room_id)

        return in_room

    def _outlier_rows(self, room_id: str) -> Callable[[bytes, bytes], Iterable[Deletion]]:
        def rows(k: bytes, v: bytes) -> Iterable[Deletion]:
            if json_names_room(v, room_id):
                yield from self.event_rows(k.decode())

        return rows

    # -- events ----------------------------------------------------------------------
    @property
    def outliers(self) -> Map:
        return self._map(MAPS.eventid_outlierpdu)

    def event_rows(self, event_id: str) -> Iterable[Deletion]:
        """Every row of one event, in every map keyed by it."""
        eid = event_id.encode()
        for spec in BY_EVENT_ID:
            yield self._map(spec), eid
        short = self._map(MAPS.eventid_shorteventid).get(eid)
        if short is None:
            return
        for spec in BY_SHORT_EVENT:
            yield self._map(spec), short
        relations = self._map(MAPS.tofrom_relation)
        yield from ((relations, k) for k, _ in relations.iter_prefix(short))

    async def _timeline(self, short: int) -> None:
        pdus = self._map(MAPS.pduid_pdu)
        while True:
            rows = list(islice(pdus.iter_prefix(u64(short)), CHUNK))
            if not rows:
                return
            deletions: list[Deletion] = []
            for k, raw in rows:
                deletions.extend(self.event_rows(json.loads(raw)["event_id"]))
                deletions.append((pdus, k))
            self._delete(deletions)
            await asyncio.sleep(0)

    def _event_ids(self, short: int | None, room_id: str) -> Iterable[str]:
        if short is not None:
            for _, raw in self._map(MAPS.pduid_pdu).iter_prefix(u64(short)):
                yield json.loads(raw)["event_id"]
        for k, raw in self._map(MAPS.eventid_outlierpdu).iter_prefix(b""):
            if json_names_room(raw, room_id):
                yield k.decode()

    # -- state snapshots -------------------------------------------------------------
    async def _snapshots(self, room_id: str, short: int | None, current: int) -> None:
        """The room's snapshots (the current state's, and each event's state before,
        with their parents), their digests, then the diffs, roots first: a snapshot
        left by a crash is still reached from an event, and its deleted parents are
        skipped."""
        diffs = self._map(MAPS.shortstatehash_statediff)
        before = self._map(MAPS.shorteventid_shortstatehash)
        seen: dict[int, int] = {}  # shortstatehash -> depth in its chain
        heads = [current]
        for n, event_id in enumerate(self._event_ids(short, room_id), 1):
            se = self._map(MAPS.eventid_shorteventid).get(event_id.encode())
            found = before.get(se) if se is not None else None
            if found is not None:
                heads.append(from_u64(found))
            if n % CHUNK == 0:
                await asyncio.sleep(0)
        for head in heads:
            self._depth(head, diffs, seen)
        if not seen:
            return
        ids = {u64(h) for h in seen}
        by_hash = self._map(MAPS.statehash_shortstatehash)
        await self._sweep(by_hash, lambda k, v: [(by_hash, k)] if v in ids else [])
        ordered = sorted(seen, key=lambda h: seen[h])
        for at in range(0, len(ordered), CHUNK):
            self._delete((diffs, u64(h)) for h in ordered[at : at + CHUNK])
            await asyncio.sleep(0)

    def _depth(self, shortstatehash: int, diffs: Map, seen: dict[int, int]) -> int:
        """Depth of a snapshot in its chain (1 = a root); 0 if gone or not the room's
        own (the empty state, which every room may share)."""
        if not shortstatehash:
            return 0
        if shortstatehash in seen:
            return seen[shortstatehash]
        raw = diffs.get(u64(shortstatehash))
        if raw is None:
            return 0
        parent, added, _ = decode_diff(raw)
        if not parent and not added:
            return 0
        depth = self._depth(parent, diffs, seen) + 1
        seen[shortstatehash] = depth
        return depth


def _queued_event(value: bytes) -> str | None:
    """The event ID of a queue entry: federation marks it b"p", appservices queue the
    bare ID (it starts with "$")."""
    if value[:1] == b"p":
        return value[1:].decode()
    return value.decode() if value[:1] == b"$" else None


def _rows(
    m: Map, match: Callable[[bytes, bytes, str], bool], room_id: str
) -> Callable[[bytes, bytes], Iterable[Deletion]]:
    def rows(k: bytes, v: bytes) -> Iterable[Deletion]:
        if match(k, v, room_id):
            yield m, k

    return rows


_SPECS: Final = {s.name: s for s in MAPS.all()}


def _spec(name: str) -> MapSpec:
    return _SPECS[name]


def _row_matches() -> list[tuple[MapSpec, RowMatch]]:
    return [(_spec(name), match) for name, match in ROW_MATCHES.items()]


def _end(start: bytes) -> bytes:
    end = prefix_end(start)
    assert end is not None  # room IDs and short IDs are never all 0xFF
    return end


#: Deleted last, together: they find the rest.
LAST = (MAPS.roomid_shortroomid, MAPS.roomid_purge)
#: Maps of the ``SCANNED`` rule with their own sweep (more than a row test).
SWEPT = (MAPS.alias_roomid, MAPS.delayid_delayedevent)
#: Maps of the ``EVENT`` rule: keyed by event ID, by short event ID, by it as a
#: prefix (relations), or found by a scan of the room's timeline.
BY_EVENT_ID = (
    MAPS.eventid_pduid,
    MAPS.eventid_shorteventid,
    MAPS.eventid_outlierpdu,
    MAPS.softfailedeventids,
    MAPS.eventid_rejection,
    MAPS.eventid_devicetxnid,
    MAPS.threadroot_latest,
)
BY_SHORT_EVENT = (
    MAPS.shorteventid_eventid,
    MAPS.shorteventid_authchain,
    MAPS.shorteventid_shortstatehash,
)
BY_EVENT_OTHER = (MAPS.tofrom_relation, MAPS.pduid_pdu)

__all__ = [
    "BY_EVENT_ID",
    "BY_EVENT_OTHER",
    "BY_SHORT_EVENT",
    "CHUNK",
    "LAST",
    "SWEPT",
    "PurgeIntent",
    "RoomPurger",
]
