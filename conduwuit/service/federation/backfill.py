"""Older history of a room from other servers (server-server API: "Backfilling and
retrieving missing events"), when a client paginates past the oldest event here.

``Backfill.fill`` asks a server of the room for the events before the room's oldest
timeline event (``GET /backfill/{roomId}?v=&limit=``), trying up to
``MAX_SERVERS`` servers until one gives something new. The events, hashes and
signatures checked, go oldest first (by depth) through the one receive path
(``EventPipeline.receive`` with a position): auth against their auth events and
the state before them, which comes from their prev events or, for the oldest of a
batch whose prev events are older still, from the server's ``/state_ids`` at those
(``RemoteEvents.states_after``). Each takes a timeline position below the oldest one, so a batch
keeps its order; backfilled events change no current state and reach no /sync
(``Persister.persist_backfilled``). An event the auth rules refuse is kept as
rejected and never served. Backfill stops at the room's create event.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections import Counter
from typing import Any

from conduwuit.core.errors import AuthError, MatrixError
from conduwuit.core.event_hashing import compute_event_id
from conduwuit.core.event_types import EventType
from conduwuit.core.events import Event, EventFormatError
from conduwuit.core.ids import server_of
from conduwuit.core.room_versions import RoomVersion
from conduwuit.core.signing import SignatureError
from conduwuit.service.federation.client import FederationClient, FederationError
from conduwuit.service.federation.remote_events import RemoteEvents
from conduwuit.service.rooms.locks import RoomLocks
from conduwuit.service.rooms.pipeline import MissingEventsError
from conduwuit.service.rooms.timeline import PduJson

log = logging.getLogger(__name__)

#: Servers asked for one backfill at most (Synapse tries a handful too).
MAX_SERVERS = 5
#: Events asked for per request (the most a Synapse server hands out at once).
BACKFILL_LIMIT = 100


def _depth(pdu: dict[str, Any]) -> int:
    depth = pdu.get("depth")
    return depth if isinstance(depth, int) else 0


def _no_verify(_pdu: dict[str, Any]) -> None:
    """Hashes and signatures were checked before the room lock was taken."""


def _is_create(pdu: PduJson) -> bool:
    return pdu.get("type") == EventType.CREATE and pdu.get("state_key") == ""


class Backfill:
    def __init__(self, remote: RemoteEvents, client: FederationClient, server_name: str) -> None:
        self.remote = remote
        self.storage = remote.storage
        self.client = client
        self.server_name = server_name
        # One backfill of a room at a time: the second caller then finds the first's
        # events (and its positions are taken below them).
        self._running = RoomLocks()

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

    async def fill(self, room_id: str) -> bool:
        """Fetch history older than the room's oldest event here; whether any was
        added."""
        rv = self.storage.state.room_version(room_id)
        shortroomid = self.storage.short.room(room_id)
        if rv is None or shortroomid is None:
            return False
        async with self._running.hold(room_id):
            oldest = self.storage.timeline.oldest(shortroomid)
            if oldest is None or _is_create(oldest[1]):
                return False
            position, pdu = oldest
            for server in self.servers(room_id, pdu):
                path = "/_matrix/federation/v1/backfill/" + urllib.parse.quote(room_id, safe="")
                query = {"v": str(pdu["event_id"]), "limit": str(BACKFILL_LIMIT)}
                try:
                    answer = await self.client.get(server, path, query=query)
                except FederationError as exc:
                    log.info("backfill of %s from %s failed: %s", room_id, server, exc)
                    continue
                pdus = answer.get("pdus") if isinstance(answer, dict) else None
                if not isinstance(pdus, list):
                    continue
                if await self._take(server, room_id, rv, pdus[:BACKFILL_LIMIT], position) > 0:
                    return True
            return False

    async def _checked(
        self, server: str, room_id: str, rv: RoomVersion, pdus: list[Any]
    ) -> list[dict[str, Any]]:
        """The events of the answer not in the timeline yet, of the room, with good
        signatures (redacted on a content hash mismatch), oldest first."""
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
        return sorted(checked.values(), key=_depth)

    async def _take(
        self, server: str, room_id: str, rv: RoomVersion, pdus: list[Any], oldest: int
    ) -> int:
        """Take the answer's events in at positions below ``oldest``; how many were."""
        events = await self._checked(server, room_id, rv, pdus)
        base = min(oldest, 0) - len(events)
        added = 0
        for offset, pdu in enumerate(events):
            try:
                await self._one(server, room_id, rv, pdu, base + offset)
            except AuthError as exc:
                log.info("backfilled event of %s rejected: %s", room_id, exc)
                continue
            except (MissingEventsError, MatrixError, EventFormatError) as exc:
                log.info("backfilled event of %s not taken: %s", room_id, exc)
                continue
            # Placed now (a soft-failed event known already stays out of the timeline).
            added += self.storage.timeline.pdu_id(Event(pdu, rv).event_id) is not None
        return added

    async def _one(
        self, server: str, room_id: str, rv: RoomVersion, pdu: dict[str, Any], position: int
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
