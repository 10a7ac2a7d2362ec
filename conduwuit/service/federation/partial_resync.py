"""The background resync of rooms joined with partial state (MSC3706, Synapse's
``_sync_partial_state_room``).

For each marked room (``PartialStateRooms``): the state after each prev event of our
join, from ``GET /state_ids`` of one of the room's servers (the resident first, then
the servers its answer listed), each unknown event fetched with ``GET /event`` a few
at a time and checked (``RemoteEvents.state_after``); then
``PartialStateCompletion`` takes the full state in and clears the mark. A server that
fails is followed by the next; when all fail, the round is tried again after a
growing pause (up to an hour), as the mark stays. Marks survive restarts:
``start`` resumes every marked room.

Giving up, bounded. Synapse's resync gives up once every server has failed for one
event (it logs "giving up!", the room stays partial-state until a restart resumes
it or another join restarts it; it neither leaves nor purges the room: its own
TODO, synapse#13000, says neither giving up nor retrying for ever is right). We
retry longer, since a resident that is down for a while is the usual cause, but not
for ever:

- when a round fails and none of our users is joined to the room any more (they
  left, or were kicked, during the resync: the servers may then refuse us, as
  Synapse refuses ``/state_ids`` to a server not in the room), nothing of ours waits
  for the full state: the mark is cleared at once and the resync ends (a later join
  of one of our users is a new join, with a new answer);
- otherwise after ``max_failed_rounds`` rounds in which every server failed (about
  a day with the pauses) the resync ends and logs an error; the mark stays, as
  Synapse's, so the room is resumed at the next start-up, and an admin can delete
  and purge it meanwhile (the Delete Room admin API, ``service/rooms/admin_delete.py``).
"""

from __future__ import annotations

import asyncio
import logging

from conduwuit.core.ids import server_of
from conduwuit.core.membership import MembershipState
from conduwuit.service.federation.remote_events import RemoteEvents
from conduwuit.service.rooms.pipeline import StateIds
from conduwuit.service.rooms.storage import RoomStorage
from conduwuit.service.tasks import BackgroundTasks

log = logging.getLogger(__name__)

#: Unknown events of one state fetched at most: a whole room's state and auth chain.
MAX_STATE_EVENTS = 200_000
#: Prev events of our join whose state is fetched (a join made here cites a few).
MAX_PREVS = 10
#: Pauses between rounds when no server answered, in seconds.
FIRST_RETRY_S = 2.0
MAX_RETRY_S = 3600.0
#: Rounds in which every server failed before the resync gives up: with the pauses
#: above (2 s doubling to an hour) 32 rounds are about a day.
MAX_FAILED_ROUNDS = 32


class PartialStateResync:
    def __init__(self, storage: RoomStorage, remote: RemoteEvents, server_name: str) -> None:
        self._storage = storage
        self._remote = remote
        self._server_name = server_name
        self._tasks = BackgroundTasks()
        self._running: set[str] = set()
        self.first_retry_s = FIRST_RETRY_S
        self.max_failed_rounds = MAX_FAILED_ROUNDS

    def start(self) -> None:
        """Resume the resync of every room still marked (after a restart)."""
        for room in self._storage.partial.all():
            self.resync_soon(room.room_id)

    async def stop(self) -> None:
        await self._tasks.stop()

    def running(self, room_id: str) -> bool:
        """Whether the room's resync is under way (or waiting for its next round)."""
        return room_id in self._running

    def resync_soon(self, room_id: str) -> None:
        if room_id in self._running:
            return
        self._running.add(room_id)
        _ = self._tasks.spawn(f"partial-state resync {room_id}", self._resync(room_id))

    async def _resync(self, room_id: str) -> None:
        try:
            delay = self.first_retry_s
            failed = 0
            while not await self._round(room_id):
                failed += 1
                if not self._ours_joined(room_id):
                    self._abandon(room_id)
                    return
                if failed >= self.max_failed_rounds:
                    log.error(
                        "no server gave the state of %s in %d rounds: giving up; the room "
                        "stays partial-state until the next start-up",
                        room_id,
                        failed,
                    )
                    return
                log.info("no server gave the state of %s; again in %.0f s", room_id, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_S)
        finally:
            self._running.discard(room_id)

    def _ours_joined(self, room_id: str) -> bool:
        members = self._storage.member_index.members(room_id, MembershipState.JOIN)
        return any(server_of(user) == self._server_name for user in members)

    def _abandon(self, room_id: str) -> None:
        """None of our users is in the room any more: its full state is of no use to
        us, and the servers may refuse it to a server that is not in the room."""
        log.info(
            "%s: none of our users is joined and no server gave its state: resync ended",
            room_id,
        )
        storage = self._storage
        with storage.db.batch() as b:
            storage.partial.clear(b, room_id)

    async def _round(self, room_id: str) -> bool:
        """One try through the room's servers; True once the room is complete (or
        no longer marked)."""
        storage = self._storage
        room = storage.partial.get(room_id)
        if room is None:
            return True
        rv = storage.state.room_version(room_id)
        join = storage.timeline.get(room.join_event_id)
        if rv is None or join is None:
            # The join is gone (the room was purged): nothing is left to complete.
            with storage.db.batch() as b:
                storage.partial.clear(b, room_id)
            return True
        prevs = [p for p in join.get("prev_events") or [] if isinstance(p, str)][:MAX_PREVS]
        for server in room.servers:
            states: dict[str, StateIds] = {}
            for prev in prevs:
                state = await self._remote.state_after(
                    server, room_id, prev, rv, max_events=MAX_STATE_EVENTS
                )
                if state is None:
                    break
                states[prev] = state
            else:
                refused = await storage.completion.complete(room_id, rv, states)
                log.info(
                    "%s has its full state (from %s; %d events refused now)",
                    room_id,
                    server,
                    refused,
                )
                return True
            log.info("%s could not give the state of %s", server, room_id)
        return False
