"""Purging a room's history up to an event (Synapse's Purge History API,
docs/admin_api/purge_history_api.md): the timeline events before the cut go, the cut
event and everything after stay, and the room goes on.

As Synapse's ``_purge_history_txn``: of the timeline events before the cut, state
events (the room's state is always kept) and, unless ``delete_local_events``, events
our own users sent are kept but leave the timeline (they become outliers: still
fetched by ID, read as state, never paginated); the rest are deleted, with every row
the room purge would delete for them (service/rooms/purge.py ``event_rows``), their
relations to other events, their search index entries, and their thread-list entry
when they were a thread's root. A thread that loses replies is moved in the thread
list to its newest reply left in the timeline, or leaves the list when none is
left (its summary, bundled from the replies in the timeline, follows by itself).
Notifications of the purged span are no longer unread. The room's forward
extremities are never touched (new events refer to them), so the room is never left
without its latest events.

Where Synapse cuts by depth, this server cuts by timeline position (the order
``/messages`` pages in), so pagination stops exactly at the cut; events sharing the
cut's depth but placed before it are purged here and kept by Synapse.

Bounded and crash-safe like the room purge: ``CHUNK`` events per write batch, each
event's rows in one batch (an event is whole or gone), the room's lock held per
batch only (new messages wait at most one batch), the loop yielded to between
batches. The intent is recorded (synced) in ``roomid_purge`` under the room ID and
``history`` before the first batch; a purge cut short resumes at start-up, and
running it again finds only what is left.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from itertools import islice
from typing import Any

from conduwuit.core.errors import invalid_param, not_found
from conduwuit.core.ids import EventId, RoomId, server_of
from conduwuit.db import MAPS, Batch, Database
from conduwuit.db.codec import key, split, u64
from conduwuit.service.clock import Clock
from conduwuit.service.rooms.aggregations import Aggregations, thread_root
from conduwuit.service.rooms.purge import CHUNK, Deletion, RoomPurger
from conduwuit.service.rooms.search_index import SearchIndex
from conduwuit.service.rooms.storage import RoomStorage
from conduwuit.service.rooms.timeline import PduJson, encode, pduid
from conduwuit.service.tasks import BackgroundTasks

log = logging.getLogger(__name__)

#: The suffix of a history purge's key in ``roomid_purge`` (room ID, 0xFF, this).
HISTORY = "history"
#: How many purge outcomes the status endpoint remembers (Synapse: until a restart).
KEPT_STATUSES = 1000

ACTIVE = "active"
COMPLETE = "complete"
FAILED = "failed"

#: ``(batch, room_id, upto)``: the room's events up to stream position ``upto`` left
#: the timeline (the notifications service marks them read).
PurgedListener = Callable[[Batch, str, int], None]


@dataclass(frozen=True, slots=True)
class HistoryPurge:
    """A history purge asked for: timeline events below position ``before`` (the
    cut event's) go."""

    room_id: str
    purge_id: str
    before: int
    delete_local_events: bool
    started_ts: int


@dataclass(slots=True)
class PurgeStatus:
    status: str = ACTIVE
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status}
        if self.error is not None:
            body["error"] = self.error
        return body


def _intent_key(room_id: str) -> bytes:
    return key(room_id, HISTORY)


class HistoryPurges:
    def __init__(
        self,
        db: Database,
        storage: RoomStorage,
        purger: RoomPurger,
        server_name: str,
        clock: Clock,
    ) -> None:
        self._db = db
        self._storage = storage
        self._purger = purger
        self._server_name = server_name
        self._clock = clock
        self._intents = db.map(MAPS.roomid_purge)
        self._search = SearchIndex(db)
        self._pdus = db.map(MAPS.pduid_pdu)
        self._ids = db.map(MAPS.eventid_pduid)
        self._relations = db.map(MAPS.tofrom_relation)
        self._threads = db.map(MAPS.roomid_threads)
        self._latest = db.map(MAPS.threadroot_latest)
        self._aggregations = Aggregations(storage)
        self._tasks = BackgroundTasks()
        self._statuses: OrderedDict[str, PurgeStatus] = OrderedDict()
        #: Told, in the last batch, that the purged span left the timeline.
        self.listeners: list[PurgedListener] = []
        #: Events written per purge so far (tests and logs).
        self.batches = 0

    # -- start and stop: purges cut short resume -------------------------------------
    def intents(self) -> list[HistoryPurge]:
        found = []
        for k, v in self._intents.iter_prefix(b""):
            parts = split(k)
            if len(parts) == 2 and parts[1] == HISTORY.encode():
                found.append(HistoryPurge(room_id=parts[0].decode(), **json.loads(v)))
        return found

    def start(self) -> None:
        for intent in self.intents():
            log.info("resuming the history purge of %s", intent.room_id)
            self._spawn(intent)

    async def stop(self) -> None:
        await self._tasks.stop()

    @property
    def running(self) -> int:
        return len(self._tasks)

    # -- the API ---------------------------------------------------------------------
    async def start_purge(
        self,
        room_id: RoomId,
        *,
        event_id: EventId | None,
        before_ts: int | None,
        delete_local_events: bool,
    ) -> str:
        """Record and start a purge; its ``purge_id``. Refused unchanged: an unknown
        room or event (404), an event of another room, a room with a purge running
        (400), a timestamp before every event of the room (404, Synapse's)."""
        rid = str(room_id)
        short = self._storage.short.room(rid)
        if short is None or not self._storage.state.exists(rid):
            raise not_found("Room not found")
        self._none_running(rid)
        before = (
            self._cut_at_event(rid, str(event_id))
            if event_id is not None
            else await self._cut_at_ts(short, before_ts or 0)
        )
        self._none_running(rid)  # again: the scan for a time yields to the loop
        intent = HistoryPurge(
            room_id=rid,
            purge_id=secrets.token_urlsafe(12),
            before=before,
            delete_local_events=delete_local_events,
            started_ts=self._clock(),
        )
        body = asdict(intent)
        del body["room_id"]
        with self._db.batch(sync=True) as b:
            b.put(self._intents, _intent_key(rid), json.dumps(body).encode())
        self._spawn(intent)
        return intent.purge_id

    def status(self, purge_id: str) -> dict[str, Any]:
        found = self._statuses.get(purge_id)
        if found is None:
            raise not_found(f"purge id '{purge_id}' not found")
        return found.to_json()

    def _none_running(self, room_id: str) -> None:
        """One purge of a room at a time, of its history or of the whole room."""
        if self._purger.intent(room_id) is not None or self._intents.contains(_intent_key(room_id)):
            raise invalid_param(f"History purge already in progress for {room_id}")

    def _cut_at_event(self, room_id: str, event_id: str) -> int:
        pdu = self._storage.timeline.get(event_id)
        if pdu is None:
            raise not_found("Event not found")
        if pdu.get("room_id") != room_id:
            raise invalid_param("Event is for wrong room.")
        located = self._storage.timeline.get_timeline(event_id)
        if located is None:
            # An outlier (e.g. state from a join) has no place in the timeline.
            raise invalid_param("Event is not in the room's timeline")
        return located[0]

    async def _cut_at_ts(self, short: int, ts: int) -> int:
        """The position of the room's newest event sent before ``ts`` (Synapse takes
        the last event received before it; this server keeps no receipt time, so the
        event's ``origin_server_ts``): that event stays, those before it go. Yields
        to the loop every ``CHUNK`` events read."""
        scan = self._storage.timeline.scan(short, None, backwards=True)
        for n, (count, pdu) in enumerate(scan, 1):
            sent = pdu.get("origin_server_ts")
            if isinstance(sent, int) and sent < ts:
                return count
            if n % CHUNK == 0:
                await asyncio.sleep(0)
        raise not_found("there is no event to be purged")

    # -- the job ---------------------------------------------------------------------
    def _spawn(self, intent: HistoryPurge) -> None:
        self._statuses[intent.purge_id] = PurgeStatus()
        while len(self._statuses) > KEPT_STATUSES:
            self._statuses.popitem(last=False)
        _ = self._tasks.spawn(f"purge history {intent.room_id}", self._job(intent))

    async def _job(self, intent: HistoryPurge) -> None:
        status = self._statuses[intent.purge_id]
        try:
            await self.purge(intent)
            status.status = COMPLETE
        except Exception as exc:
            # The intent stays: a failure here (a database error) is retried at the
            # next start.
            log.exception("history purge of %s failed", intent.room_id)
            status.status = FAILED
            status.error = f"{type(exc).__name__}: {exc}"

    async def purge(self, intent: HistoryPurge) -> None:
        """Purge the room's timeline below ``intent.before`` (the intent recorded)."""
        rid = intent.room_id
        short = self._storage.short.room(rid)
        cursor = intent.before
        while short is not None:
            async with self._storage.locks.hold(rid):
                rows = list(islice(self._storage.timeline.scan(short, cursor, True), CHUNK))
                if not rows:
                    break
                keep = set(self._storage.extremities.get(short))
                gone = [(c, pdu) for c, pdu in rows if pdu["event_id"] not in keep]
                with self._db.batch() as b:
                    for count, pdu in gone:
                        self._stage(b, short, count, pdu, intent.delete_local_events)
                    self._stage_threads(b, rid, short, [pdu for _, pdu in gone])
                self.batches += 1
                cursor = rows[-1][0]
            await asyncio.sleep(0)
        with self._db.batch(sync=True) as b:
            for listener in self.listeners:
                listener(b, rid, intent.before - 1)
            b.delete(self._intents, _intent_key(rid))
        log.info("history of %s purged up to position %d", rid, intent.before)

    def _stage(self, b: Batch, short: int, count: int, pdu: PduJson, delete_local: bool) -> None:
        """One event of the purged span, whole, into ``b``."""
        event_id = pdu["event_id"]
        pdu_id = pduid(short, count)
        self._search.unindex(b, short, pdu_id, pdu)
        kept = "state_key" in pdu or (
            not delete_local and server_of(str(pdu.get("sender", ""))) == self._server_name
        )
        if kept:
            # Out of the timeline, kept by ID (Synapse marks them outliers).
            b.delete(self._pdus, pdu_id)
            b.delete(self._ids, event_id.encode())
            b.put(self._purger.outliers, event_id.encode(), encode(pdu))
            return
        for m, k in self._deletions(event_id, pdu):
            b.delete(m, k)
        b.delete(self._pdus, pdu_id)

    def _stage_threads(self, b: Batch, room_id: str, short: int, gone: list[PduJson]) -> None:
        """The thread list after ``gone`` left the timeline, into the same batch (a
        purge cut short never leaves a thread placed at a reply it removed): each
        thread that lost a reply moves to its newest reply left in the timeline, or
        leaves the list when none is left; a root that left the timeline itself
        leaves the list (``/threads`` lists timeline events only)."""
        gone_ids = {str(pdu["event_id"]) for pdu in gone}
        roots = {root for pdu in gone if (root := thread_root(pdu)) is not None}
        for root in roots | self._thread_roots(gone_ids):
            old = self._latest.get(root.encode())
            if old is not None:
                b.delete(self._threads, u64(short) + old + root.encode())
            newest = None
            if root not in gone_ids:
                newest = max(
                    (
                        count
                        for count, child in self._aggregations.children(root, room_id, None)
                        if count > 0
                        and child["event_id"] not in gone_ids
                        and thread_root(child) == root
                    ),
                    default=None,
                )
            if newest is None:
                b.delete(self._latest, root.encode())
            else:
                b.put(self._threads, u64(short) + u64(newest) + root.encode(), b"")
                b.put(self._latest, root.encode(), u64(newest))

    def _thread_roots(self, event_ids: set[str]) -> set[str]:
        """Those of ``event_ids`` that have a place in the thread list."""
        return {e for e in event_ids if self._latest.contains(e.encode())}

    def _deletions(self, event_id: str, pdu: PduJson) -> Iterator[Deletion]:
        yield from self._purger.event_rows(event_id)
        # Its relation to an event that stays.
        own = self._storage.short.event(event_id)
        relates = (pdu.get("content") or {}).get("m.relates_to")
        target = relates.get("event_id") if isinstance(relates, dict) else None
        target_short = self._storage.short.event(target) if isinstance(target, str) else None
        if own is not None and target_short is not None:
            yield self._relations, u64(target_short) + u64(own)
        # Its place in the thread list, when it was a thread's root: _stage_threads.
