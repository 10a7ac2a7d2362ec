"""Rooms joined with partial state (MSC3706, spec v1.19 send_join v2 ``omit_members``).

A room we joined through a resident that left its member events out of the
``send_join`` answer is marked here, in the join's own batch; the background resync
(``service/federation/partial_resync.py``) fetches the full state and clears the
mark. The mark is in RocksDB, so a resync cut short by a restart resumes at start-up.

While a room is marked, what needs the whole membership waits for the resync, as
Synapse's: ``/members`` and ``/joined_members`` (Synapse's ``await_full_state``),
and an eager (not lazy-loading) ``/sync`` leaves the room out until it is complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from conduwuit.db import MAPS, Batch, Database

log = logging.getLogger(__name__)

#: How often a waiter looks at the mark again without being woken.
RECHECK_S = 5.0


@dataclass(frozen=True, slots=True)
class PartialRoom:
    room_id: str
    #: Our join: the resync fetches the state before it (at its prev events).
    join_event_id: str
    #: The servers to ask, the resident first (its ``servers_in_room`` after it).
    servers: tuple[str, ...]


class PartialStateRooms:
    def __init__(self, db: Database) -> None:
        self._map = db.map(MAPS.roomid_partialstate)
        self._waiters: dict[str, asyncio.Event] = {}
        #: Told the room ID once a room's mark is cleared (committed).
        self.cleared_listeners: list[Callable[[str], None]] = []
        #: Rooms whose mark is being cleared (staged, its listeners not told yet).
        self._completing: set[str] = set()

    def is_partial(self, room_id: str) -> bool:
        return self._map.contains(room_id.encode())

    def get(self, room_id: str) -> PartialRoom | None:
        raw = self._map.get(room_id.encode())
        return _decode(room_id, raw) if raw is not None else None

    def any(self) -> bool:
        return next(self._map.iter_range(None, None), None) is not None

    def all(self) -> Iterator[PartialRoom]:
        for key, raw in self._map.iter_range(None, None):
            yield _decode(key.decode(), raw)

    def mark(self, batch: Batch, room: PartialRoom) -> None:
        value = {"join": room.join_event_id, "servers": list(room.servers)}
        batch.put(self._map, room.room_id.encode(), json.dumps(value).encode())

    def clear(self, batch: Batch, room_id: str) -> None:
        """Unmark in ``batch``; waiters are woken once it is committed."""
        batch.delete(self._map, room_id.encode())
        self._completing.add(room_id)
        batch.after_commit(lambda: self._wake(room_id))

    def completing(self, room_id: str) -> bool:
        """Whether the room's mark is being cleared: the membership changes committed
        with it (the resync's) are members found, not members who just came or went."""
        return room_id in self._completing

    def _wake(self, room_id: str) -> None:
        self._completing.discard(room_id)
        waiter = self._waiters.pop(room_id, None)
        if waiter is not None:
            waiter.set()
        for listener in self.cleared_listeners:
            try:
                listener(room_id)
            except Exception:  # one listener's fault must not keep the others from it
                log.exception("partial-state completion listener failed for %s", room_id)

    async def wait_full(self, room_id: str) -> None:
        """Return once the room has its full state (at once if it has). Woken by
        ``clear``; the mark is looked at again every few seconds too, since a room
        purge deletes it with the rest of the room's rows."""
        while self.is_partial(room_id):
            waiter = self._waiters.get(room_id)
            if waiter is None:
                waiter = self._waiters[room_id] = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.wait(), RECHECK_S)


def _decode(room_id: str, raw: bytes) -> PartialRoom:
    value = json.loads(raw)
    return PartialRoom(room_id, str(value["join"]), tuple(str(s) for s in value["servers"]))
