"""Reading room state: current state, the state before/after an event, single keys,
and the room version, over the short ids and the layered snapshots.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from conduwuit.core.event_types import EventType
from conduwuit.core.events import Event
from conduwuit.core.room_versions import RoomVersion
from conduwuit.core.room_versions import get as get_room_version
from conduwuit.db import MAPS, Batch, Database
from conduwuit.db.codec import from_u64, u64
from conduwuit.service.rooms.short import ShortIds, StateKey
from conduwuit.service.rooms.state_store import StateStore
from conduwuit.service.rooms.timeline import PduJson, Timeline


def to_event(pdu: PduJson, room_version: RoomVersion) -> Event:
    """An ``Event`` over a stored PDU (its stored ``event_id`` is trusted)."""
    return Event(pdu, room_version, event_id=str(pdu["event_id"]))


class RoomState:
    def __init__(self, db: Database, short: ShortIds, store: StateStore, timeline: Timeline):
        self.short = short
        self.store = store
        self.timeline = timeline
        self._current = db.map(MAPS.roomid_shortstatehash)
        self._before = db.map(MAPS.shorteventid_shortstatehash)
        self._versions: dict[str, RoomVersion] = {}

    # -- snapshots -------------------------------------------------------------------
    def current_hash(self, room_id: str) -> int:
        raw = self._current.get(room_id.encode())
        return from_u64(raw) if raw else 0

    def set_current(self, batch: Batch, room_id: str, shortstatehash: int) -> None:
        batch.put(self._current, room_id.encode(), u64(shortstatehash))

    def hash_before(self, event_id: str) -> int | None:
        short = self.short.event(event_id)
        if short is None:
            return None
        raw = self._before.get(u64(short))
        return from_u64(raw) if raw else None

    def set_hash_before(self, batch: Batch, shorteventid: int, shortstatehash: int) -> None:
        batch.put(self._before, u64(shorteventid), u64(shortstatehash))

    def changes_after(self, event: Event) -> dict[int, int]:
        """What ``event`` sets over the state before it (requires its state key
        interned): ``{shortstatekey: shorteventid}``, empty for a non-state event."""
        if event.state_key is None:
            return {}
        sk = self.short.statekey(event.type, event.state_key)
        se = self.short.event(event.event_id)
        return {sk: se} if sk is not None and se is not None else {}

    # -- lookups ---------------------------------------------------------------------
    def event_id_at(self, shortstatehash: int, event_type: str, state_key: str) -> str | None:
        sk = self.short.statekey(event_type, state_key)
        if sk is None or not shortstatehash:
            return None
        se = self.store.get(shortstatehash, sk)
        return self.short.event_id(se) if se is not None else None

    def pdu_at(self, shortstatehash: int, event_type: str, state_key: str) -> PduJson | None:
        event_id = self.event_id_at(shortstatehash, event_type, state_key)
        return self.timeline.get(event_id) if event_id else None

    def event_at(
        self, shortstatehash: int, event_type: str, state_key: str, rv: RoomVersion
    ) -> Event | None:
        pdu = self.pdu_at(shortstatehash, event_type, state_key)
        return to_event(pdu, rv) if pdu is not None else None

    def content_at(self, shortstatehash: int, event_type: str, state_key: str = "") -> Any:
        pdu = self.pdu_at(shortstatehash, event_type, state_key)
        return pdu.get("content", {}) if pdu is not None else None

    def auth_state(
        self, shortstatehash: int, keys: Iterable[StateKey], rv: RoomVersion
    ) -> dict[StateKey, Event]:
        """Only the state the auth rules ask for (never the whole room)."""
        out: dict[StateKey, Event] = {}
        for event_type, state_key in keys:
            found = self.event_at(shortstatehash, event_type, state_key, rv)
            if found is not None:
                out[(event_type, state_key)] = found
        return out

    def state_ids(self, shortstatehash: int) -> dict[StateKey, str]:
        """The whole state as ``(type, state_key) -> event_id`` (for /state and state res)."""
        out: dict[StateKey, str] = {}
        for sk, se in self.store.full(shortstatehash).items():
            event_id = self.short.event_id(se)
            if event_id is not None:
                out[self.short.statekey_of(sk)] = event_id
        return out

    def state_ids_of_type(self, shortstatehash: int, event_type: str) -> Mapping[str, str]:
        return {k[1]: v for k, v in self.state_ids(shortstatehash).items() if k[0] == event_type}

    # -- room version ----------------------------------------------------------------
    def room_version(self, room_id: str) -> RoomVersion | None:
        cached = self._versions.get(room_id)
        if cached is not None:
            return cached
        content = self.content_at(self.current_hash(room_id), EventType.CREATE, "")
        if content is None:
            return None
        rv = get_room_version(str(content.get("room_version", "1")))
        if rv is not None:
            self._versions[room_id] = rv
        return rv

    def forget(self, room_id: str) -> None:
        """Drop what is cached of a purged room."""
        self._versions.pop(room_id, None)

    def exists(self, room_id: str) -> bool:
        return self.current_hash(room_id) != 0
