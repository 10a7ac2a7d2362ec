"""Short ids: rooms, events and (type, state_key) pairs interned to u64s (conduwuit's
``short`` service), so timeline, state and relation keys stay 8 or 16 bytes.

A short id is taken from the global counter and written in the caller's batch, so
it exists exactly when the change that needed it does. Ids handed out but not yet
committed are remembered for the rest of that batch (``pending``).
"""

from __future__ import annotations

from conduwuit.db import MAPS, Batch, Database
from conduwuit.db.codec import from_u64, key, split, u64

StateKey = tuple[str, str]


class ShortIds:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._room = db.map(MAPS.roomid_shortroomid)
        self._event = db.map(MAPS.eventid_shorteventid)
        self._event_rev = db.map(MAPS.shorteventid_eventid)
        self._statekey = db.map(MAPS.statekey_shortstatekey)
        self._statekey_rev = db.map(MAPS.shortstatekey_statekey)
        # Decoded (type, state_key) of short state keys: few and immutable.
        self._statekey_cache: dict[int, StateKey] = {}
        self._statekey_ids: dict[StateKey, int] = {}

    # -- rooms ---------------------------------------------------------------------
    def room(self, room_id: str) -> int | None:
        raw = self._room.get(room_id.encode())
        return from_u64(raw) if raw else None

    def get_or_create_room(self, room_id: str, batch: Batch) -> int:
        found = self.room(room_id)
        if found is not None:
            return found
        short = batch.next_count()
        batch.put(self._room, room_id.encode(), u64(short))
        return short

    # -- events --------------------------------------------------------------------
    def event(self, event_id: str) -> int | None:
        raw = self._event.get(event_id.encode())
        return from_u64(raw) if raw else None

    def event_id(self, short: int) -> str | None:
        raw = self._event_rev.get(u64(short))
        return raw.decode() if raw else None

    def get_or_create_event(
        self, event_id: str, batch: Batch, pending: dict[str, int] | None = None
    ) -> int:
        if pending is not None and event_id in pending:
            return pending[event_id]
        found = self.event(event_id)
        if found is not None:
            return found
        short = batch.next_count()
        batch.put(self._event, event_id.encode(), u64(short))
        batch.put(self._event_rev, u64(short), event_id.encode())
        if pending is not None:
            pending[event_id] = short
        return short

    # -- state keys ----------------------------------------------------------------
    def statekey(self, event_type: str, state_key: str) -> int | None:
        pair = (event_type, state_key)
        cached = self._statekey_ids.get(pair)
        if cached is not None:
            return cached
        raw = self._statekey.get(key(event_type, state_key))
        if raw is None:
            return None
        short = from_u64(raw)
        self._remember(short, pair)
        return short

    def get_or_create_statekey(self, event_type: str, state_key: str, batch: Batch) -> int:
        found = self.statekey(event_type, state_key)
        if found is not None:
            return found
        short = batch.next_count()
        raw = key(event_type, state_key)
        batch.put(self._statekey, raw, u64(short))
        batch.put(self._statekey_rev, u64(short), raw)
        # Not cached until read back: the batch may still be discarded.
        return short

    def statekey_of(self, short: int) -> StateKey:
        cached = self._statekey_cache.get(short)
        if cached is not None:
            return cached
        raw = self._statekey_rev.get(u64(short))
        if raw is None:
            raise KeyError(f"unknown shortstatekey {short}")
        event_type, state_key = (p.decode() for p in split(raw))
        self._remember(short, (event_type, state_key))
        return (event_type, state_key)

    def _remember(self, short: int, pair: StateKey) -> None:
        self._statekey_cache[short] = pair
        self._statekey_ids[pair] = short
