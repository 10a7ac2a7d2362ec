"""Older history of a room from other servers (server-server API: "Backfilling and
retrieving missing events"), when a client paginates past the oldest event here or
across a gap in the middle of the timeline (``service.rooms.gaps``: a re-join, the
oldest of events pulled with ``/get_missing_events``).

``Backfill.fill`` asks a server of the room for the events before a gap
(``GET /backfill/{roomId}?v=&limit=``, ``v`` the gap's missing prev events, as
Synapse asks from its backward extremities; the oldest event's own ID when no gap is
recorded there), trying up to ``MAX_SERVERS`` servers until one gives something
new, each within ``REQUEST_TIMEOUT`` s and all within ``FILL_DEADLINE`` s. Of a gap
in the middle, only events reached from the missing ones through prev events not
held here are taken (a server's answer goes on past the gap into history held
already, or never held, which belongs elsewhere). The events, hashes and
signatures checked, go oldest first (by depth) through the one receive path
(``EventPipeline.receive`` with a position): auth against their auth events and
the state before them, which comes from their prev events or, for the oldest of a
batch whose prev events are older still, from the server's ``/state_ids`` at those
(``RemoteEvents.states_after``). Each takes a timeline position below the oldest
one (negative counts), or, in a gap, a sub-position between the two events around it
(``core.timeline_pos.between``), so a batch keeps its order; backfilled events
change no current state and reach no /sync as new events
(``Persister.persist_backfilled``). An event the auth rules refuse is kept as
rejected and never served. Backfill stops at the room's create event.

A gap whose servers all fail or give nothing new is not asked again for a while
(``BACKOFF_START`` s, doubling to ``BACKOFF_MAX``; Synapse backs off its backfill
points too): pagination then goes on past it with what is here.
"""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.parse
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from conduwuit.core.errors import AuthError, MatrixError
from conduwuit.core.event_hashing import compute_event_id
from conduwuit.core.event_types import EventType
from conduwuit.core.events import Event, EventFormatError
from conduwuit.core.ids import server_of
from conduwuit.core.room_versions import RoomVersion
from conduwuit.core.signing import SignatureError
from conduwuit.core.timeline_pos import TimelinePos, between
from conduwuit.service.federation.client import FederationClient, FederationError
from conduwuit.service.federation.remote_events import RemoteEvents
from conduwuit.service.rooms.locks import RoomLocks
from conduwuit.service.rooms.pipeline import MissingEventsError
from conduwuit.service.rooms.timeline import PduJson, pduid, position_of

log = logging.getLogger(__name__)

#: Servers asked for one backfill at most (Synapse tries a handful too).
MAX_SERVERS = 5
#: Events asked for per request (the most a Synapse server hands out at once).
BACKFILL_LIMIT = 100
#: Seconds one server may take to answer; seconds one fill may take in all.
REQUEST_TIMEOUT = 15.0
FILL_DEADLINE = 30.0
#: A gap that gave nothing is asked again after this many seconds, doubling.
BACKOFF_START = 10.0
BACKOFF_MAX = 3600.0
#: Gaps whose failures are remembered (the oldest forgotten first).
MAX_BACKOFFS = 10_000


def depth_of(pdu: dict[str, Any]) -> int:
    depth = pdu.get("depth")
    return depth if isinstance(depth, int) else 0


def _no_verify(_pdu: dict[str, Any]) -> None:
    """Hashes and signatures were checked before the room lock was taken."""


def is_create(pdu: PduJson) -> bool:
    return pdu.get("type") == EventType.CREATE and pdu.get("state_key") == ""


Checked = list[tuple[str, dict[str, Any]]]


def reachable(events: Checked, wanted: list[str], held: Callable[[str], bool]) -> Checked:
    """The events of ``events`` reached from ``wanted`` through prev events that are
    not ``held``, in their order: the history of one gap, not what lies past it."""
    by_id = dict(events)
    todo = list(wanted)
    keep: set[str] = set()
    while todo:
        event_id = todo.pop()
        if event_id in keep or event_id not in by_id:
            continue
        keep.add(event_id)
        prevs = by_id[event_id].get("prev_events")
        if isinstance(prevs, list):
            todo.extend(p for p in prevs if isinstance(p, str) and not held(p))
    return [(i, p) for i, p in events if i in keep]


class Backfill:
    def __init__(self, remote: RemoteEvents, client: FederationClient, server_name: str) -> None:
        self.remote = remote
        self.storage = remote.storage
        self.client = client
        self.server_name = server_name
        # One backfill of a room at a time: the second caller then finds the first's
        # events (and its positions are taken below them).
        self._running = RoomLocks()
        #: (room, pduid after the gap) -> (failures, monotonic time to ask again).
        self._backoff: OrderedDict[tuple[str, bytes], tuple[int, float]] = OrderedDict()

    def servers(self, room_id: str, oldest: PduJson) -> list[str]:
        """Whom to ask: the oldest event's sender's server (it had that history), the
        room ID's server, then the servers of the joined members, most members first;
        never this server; at most ``MAX_SERVERS``."""
        members = Counter(
            server_of(m) for m in self.storage.member_index.members(room_id) if ":" in m
        )
        ordered = [server_of(str(oldest.get("sender", ""))), room_id.partition(":")[2]]
        ordered += [s for s, _ in members.most_common()]
        found: list[str] = []
        for server in ordered:
            if server and server != self.server_name and server not in found:
                found.append(server)
        return found[:MAX_SERVERS]

    def _backing_off(self, key: tuple[str, bytes]) -> bool:
        found = self._backoff.get(key)
        return found is not None and time.monotonic() < found[1]

    def _failed(self, key: tuple[str, bytes]) -> None:
        failures = self._backoff.pop(key, (0, 0.0))[0] + 1
        wait = min(BACKOFF_START * 2 ** (failures - 1), BACKOFF_MAX)
        self._backoff[key] = (failures, time.monotonic() + wait)
        while len(self._backoff) > MAX_BACKOFFS:
            self._backoff.popitem(last=False)

    async def fill(self, room_id: str, before: bytes | None = None) -> bool:
        """Fetch the history missing right before the timeline event at pduid
        ``before`` (a gap a backwards pagination is about to cross), or, without it,
        before the room's oldest event; whether the timeline changed there."""
        rv = self.storage.state.room_version(room_id)
        shortroomid = self.storage.short.room(room_id)
        if rv is None or shortroomid is None:
            return False
        timeline = self.storage.timeline
        async with self._running.hold(room_id):
            if before is None:
                oldest = timeline.oldest(shortroomid)
                if oldest is None:
                    return False
                upper_pos, upper = oldest
            else:
                found = timeline.get_timeline_by_pduid(before)
                if found is None:
                    return False
                upper_pos, upper = position_of(before), found
            if is_create(upper):
                return False
            key = pduid(shortroomid, upper_pos)
            missing = timeline.gaps.missing(key)
            if before is not None and not missing:
                return True  # the gap closed meanwhile (its record is gone): read again
            if self._backing_off((room_id, key)):
                return False
            lower = next(iter(timeline.scan_at(shortroomid, upper_pos.before(), True)), None)
            gap = Gap(room_id, rv, upper_pos, lower[0] if lower else None, missing)
            if await self._ask(gap, upper):
                self._backoff.pop((room_id, key), None)
                timeline.gaps.missing(key)  # drops the record if the gap closed
                return True
            self._failed((room_id, key))
            return False

    async def place(self, room_id: str, server: str, pdu: dict[str, Any], before: bytes) -> bool:
        """One event fetched alone (the answer of a timestamp lookup) into the gap
        right before the timeline event at pduid ``before``, just below it: the rest
        of that gap is later filled between the two (newer history is packed right
        below the event after a gap), the history before it below it (its own gap).
        Whether it is in the timeline now."""
        rv = self.storage.state.room_version(room_id)
        shortroomid = self.storage.short.room(room_id)
        timeline = self.storage.timeline
        if rv is None or shortroomid is None:
            return False
        event_id = compute_event_id(pdu, rv)
        async with self._running.hold(room_id):
            if timeline.pdu_id(event_id) is not None:
                return True
            if timeline.get_timeline_by_pduid(before) is None:
                return False
            upper = position_of(before)
            lower = next(iter(timeline.scan_at(shortroomid, upper.before(), True)), None)
            positions = Gap(room_id, rv, upper, lower[0] if lower else None, []).positions(1)
            if not positions:
                return False
            try:
                await self._one(server, room_id, rv, pdu, positions[0])
            except (AuthError, MissingEventsError, MatrixError, EventFormatError) as exc:
                log.info("%s not placed in %s: %s", event_id, room_id, exc)
            return timeline.pdu_id(event_id) is not None

    async def _ask(self, gap: Gap, upper: PduJson) -> bool:
        """Ask the servers in turn until one gives something new for ``gap``."""
        wanted = gap.missing or [str(upper["event_id"])]
        query = [("v", e) for e in wanted] + [("limit", str(BACKFILL_LIMIT))]
        path = "/_matrix/federation/v1/backfill/" + urllib.parse.quote(gap.room_id, safe="")
        path += "?" + urllib.parse.urlencode(query)
        deadline = time.monotonic() + FILL_DEADLINE
        for server in self.servers(gap.room_id, upper):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                async with asyncio.timeout(min(REQUEST_TIMEOUT, left)):
                    answer = await self.client.get(server, path)
            except (FederationError, TimeoutError) as exc:
                log.info("backfill of %s from %s failed: %r", gap.room_id, server, exc)
                continue
            pdus = answer.get("pdus") if isinstance(answer, dict) else None
            if not isinstance(pdus, list):
                continue
            if await self._take(server, gap, pdus[:BACKFILL_LIMIT]) > 0:
                return True
        return False

    async def _checked(
        self, server: str, room_id: str, rv: RoomVersion, pdus: list[Any]
    ) -> Checked:
        """The events of the answer not in the timeline yet, of the room, with good
        signatures (redacted on a content hash mismatch), with their IDs, oldest
        first."""
        timeline = self.storage.timeline
        checked: dict[str, dict[str, Any]] = {}
        for pdu in pdus:
            if not isinstance(pdu, dict):
                continue
            try:
                event_id = compute_event_id(pdu, rv)
                if pdu.get("room_id", "!" + event_id[1:]) != room_id:
                    continue
                if event_id in checked or timeline.pdu_id(event_id) is not None:
                    continue
                checked[event_id] = await self.remote.signatures.check(pdu, rv)
            except SignatureError as exc:
                log.info("backfilled event from %s: bad signatures: %s", server, exc)
            except (ValueError, KeyError, TypeError) as exc:
                log.info("backfilled event from %s is invalid: %s", server, exc)
        return sorted(checked.items(), key=lambda item: depth_of(item[1]))

    async def _take(self, server: str, gap: Gap, pdus: list[Any]) -> int:
        """Take the answer's events in at positions in the gap; how many were."""
        timeline = self.storage.timeline
        events = await self._checked(server, gap.room_id, gap.rv, pdus)
        if gap.missing:
            events = reachable(events, gap.missing, lambda e: timeline.pdu_id(e) is not None)
        positions = gap.positions(len(events))
        events = events[len(events) - len(positions) :]
        added = 0
        for (event_id, pdu), position in zip(events, positions, strict=True):
            try:
                await self._one(server, gap.room_id, gap.rv, pdu, position)
            except AuthError as exc:
                log.info("backfilled event of %s rejected: %s", gap.room_id, exc)
                continue
            except (MissingEventsError, MatrixError, EventFormatError) as exc:
                log.info("backfilled event of %s not taken: %s", gap.room_id, exc)
                continue
            # Placed now (a soft-failed event known already stays out of the timeline).
            added += timeline.pdu_id(event_id) is not None
        return added

    async def _one(
        self, server: str, room_id: str, rv: RoomVersion, pdu: dict[str, Any], position: TimelinePos
    ) -> None:
        pipeline = self.storage.pipeline
        event = Event(pdu, rv)
        try:
            await pipeline.receive(pdu, rv, _no_verify, position=position)
            return
        except MissingEventsError as exc:
            auth = [e for e in exc.event_ids if e in set(event.auth_event_ids)]
            if auth:
                await self.remote.fetch_outliers(server, room_id, auth, rv)
        # Its prev events are older than anything here: the state after them from the
        # server (the oldest event of a batch; the next ones build on it).
        unplaced = [e for e in event.prev_event_ids if self.storage.state.hash_before(e) is None]
        prev_states = await self.remote.states_after(server, room_id, unplaced, rv)
        await pipeline.receive(pdu, rv, _no_verify, position=position, prev_states=prev_states)


@dataclass(frozen=True)
class Gap:
    """Missing history right before the event at ``upper``: after ``lower`` (the
    held event before it), or below everything when ``lower`` is None."""

    room_id: str
    rv: RoomVersion
    upper: TimelinePos
    lower: TimelinePos | None
    #: Its missing prev events (empty: the oldest event, with no gap recorded).
    missing: list[str]

    def positions(self, n: int) -> list[TimelinePos]:
        """Positions for ``n`` events, oldest first (fewer when the gap is full)."""
        if self.lower is None:
            base = min(self.upper.count, 0) - n
            return [TimelinePos(base + i) for i in range(n)]
        return between(self.lower, self.upper, n)
