"""Short ids: rooms, events and (type, state_key) pairs interned to u64s (conduwuit's
``short`` service), so timeline, state and relation keys stay 8 or 16 bytes.

A short id is taken from the global counter and written in the caller's batch, so
it exists exactly when the change that needed it does. Ids handed out but not yet
committed are remembered for the rest of that batch (``Batch.staged``): asking
twice for the same new room, event or state key in one batch gives one id.
"""

from __future__ import annotations

from conduwuit.db import MAPS, Batch, Database, Map
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
    @property
    def cached_entries(self) -> int:
        """State keys (type, state_key) held by their short ID."""
        return len(self._statekey_cache)

    def room(self, room_id: str) -> int | None:
        raw = self._room.get(room_id.encode())
        return from_u64(raw) if raw else None

    def room_ids(self) -> list[str]:
        """Every room this server knows, in room ID order (admin listings)."""
        return [k.decode() for k, _ in self._room.iter_prefix(b"")]

    def get_or_create_room(self, room_id: str, batch: Batch) -> int:
        found = self.room(room_id)
        if found is not None:
            return found
        return self._intern(batch, self._room, None, room_id.encode())

    def _intern(self, batch: Batch, forward: Map, reverse: Map | None, raw: bytes) -> int:
        """The id ``raw`` got earlier in ``batch``, or a new one written into it."""
        staged = batch.staged(forward)
        hit = staged.get(raw)
        if hit is not None:
            return from_u64(hit)
        value = u64(batch.next_count())
        batch.put(forward, raw, value)
        if reverse is not None:
            batch.put(reverse, value, raw)
        staged[raw] = value
        return from_u64(value)

    # -- events --------------------------------------------------------------------
    def event(self, event_id: str) -> int | None:
        raw = self._event.get(event_id.encode())
        return from_u64(raw) if raw else None

    def event_id(self, short: int) -> str | None:
        raw = self._event_rev.get(u64(short))
        return raw.decode() if raw else None

    def event_in(self, event_id: str, batch: Batch) -> int | None:
        """The event's short id, including one created earlier in ``batch``."""
        hit = batch.staged(self._event).get(event_id.encode())
        return from_u64(hit) if hit is not None else self.event(event_id)

    def get_or_create_event(self, event_id: str, batch: Batch) -> int:
        found = self.event(event_id)
        if found is not None:
            return found
        return self._intern(batch, self._event, self._event_rev, event_id.encode())

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
        short = self._intern(batch, self._statekey, self._statekey_rev, key(event_type, state_key))
        # Cached once committed: the batch may still be discarded.
        batch.after_commit(lambda: self._remember(short, (event_type, state_key)))
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
