"""Gaps in a room's timeline: where history is missing between two held events.

A timeline event some of whose prev events are not in the timeline (neither placed
nor hidden as rejected or soft-failed) follows a gap: the events sent while this
server was out of the room (a re-join: the join's prev events), before it joined
(the oldest event), or before events pulled with ``/get_missing_events`` whose own
prev events could not be had. Synapse calls these backward extremities. Each is
recorded when the event is written, keyed by its pduid, so a backwards ``/messages``
finds the gap it is about to cross with one seek and backfills it
(``service.federation.backfill``). A gap is closed lazily: when read, prev events
placed since are dropped from it, and the record with them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from itertools import islice

from conduwuit.db import MAPS, Batch, Database
from conduwuit.db.codec import u64

#: Missing prev events remembered per gap (an event has at most 20 prev events in
#: every room version's limits; this bounds a forged one).
MAX_MISSING = 20


class Gaps:
    def __init__(
        self,
        db: Database,
        pdu_id: Callable[[str], bytes | None],
        is_hidden: Callable[[str], bool],
    ) -> None:
        self._db = db
        self._gaps = db.map(MAPS.pduid_missingprevs)
        self._pdu_id = pdu_id
        self._is_hidden = is_hidden

    def _missing(self, prevs: Iterable[object]) -> list[str]:
        return [
            p
            for p in prevs
            if isinstance(p, str) and self._pdu_id(p) is None and not self._is_hidden(p)
        ][:MAX_MISSING]

    def note(self, batch: Batch, pdu_id: bytes, prev_events: object) -> None:
        """Record a gap before the event at ``pdu_id`` if its prev events are missing
        (into the batch that writes the event)."""
        missing = self._missing(prev_events if isinstance(prev_events, list) else [])
        if missing:
            batch.put(self._gaps, pdu_id, json.dumps(missing).encode())

    def missing(self, pdu_id: bytes) -> list[str]:
        """The prev events still missing before the event at ``pdu_id`` (empty: no
        gap there, or it has closed, and its record is dropped)."""
        raw = self._gaps.get(pdu_id)
        if raw is None:
            return []
        try:
            recorded = json.loads(raw)
        except ValueError:
            recorded = []
        missing = self._missing(recorded if isinstance(recorded, list) else [])
        if not missing:
            with self._db.batch() as b:
                b.delete(self._gaps, pdu_id)
        return missing

    def is_gap(self, pdu_id: bytes) -> bool:
        """A gap is recorded before this event (maybe closed since: see ``missing``)."""
        return self._gaps.contains(pdu_id)

    def of_room(self, shortroomid: int, limit: int) -> Iterator[bytes]:
        """The pduids of (up to ``limit``) events of a room a gap is recorded before
        (some maybe closed since), in key order."""
        keys = (k for k, _ in self._gaps.iter_prefix(u64(shortroomid)))
        return islice(keys, limit)
