"""Building a local event from what a client asked for (server-server API: "Auth
events selection"; rooms/: event format): prev_events from the forward extremities,
depth, auth_events from the state before, then the content hash and our signature.

The built event then takes the same check-and-persist path as a received one.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conduwuit.core import base64 as b64
from conduwuit.core.auth_rules import auth_types_for_event
from conduwuit.core.event_hashing import reference_hash, room_id_for_create_event
from conduwuit.core.event_signing import hash_and_sign_event
from conduwuit.core.events import MAX_DEPTH, MAX_PREV_EVENTS, Event
from conduwuit.core.room_versions import EventFormat, RoomVersion
from conduwuit.core.signing import Keypair
from conduwuit.db import MAPS, Batch, Database
from conduwuit.db.codec import key, prefix, u64
from conduwuit.service.rooms.state import RoomState


@dataclass(frozen=True)
class NewEvent:
    """An event a local user asks to send."""

    type: str
    content: dict[str, Any]
    state_key: str | None = None
    redacts: str | None = None
    # Extra top-level or unsigned fields are never taken from clients.
    timestamp: int | None = None
    unsigned: dict[str, Any] = field(default_factory=dict)


class Extremities:
    """The forward extremities (``roomid_pduleaves``) of each room, cached in memory
    (a prefix scan over many deleted leaves is the slow part of a send)."""

    def __init__(self, db: Database) -> None:
        self._leaves = db.map(MAPS.roomid_pduleaves)
        self._cache: dict[int, list[str]] = {}

    def get(self, shortroomid: int) -> list[str]:
        cached = self._cache.get(shortroomid)
        if cached is not None:
            return list(cached)
        start = prefix(u64(shortroomid))
        leaves = [k[len(start) :].decode() for k, _ in self._leaves.iter_prefix(start)]
        self._cache[shortroomid] = leaves
        return list(leaves)

    def replace(
        self, batch: Batch, shortroomid: int, remove: list[str] | tuple[str, ...], add: str
    ) -> list[str]:
        """Stage the change; the caller passes the result to ``remember`` after commit."""
        for event_id in remove:
            batch.delete(self._leaves, key(u64(shortroomid), event_id))
        batch.put(self._leaves, key(u64(shortroomid), add), b"")
        return sorted({*self.get(shortroomid), add} - set(remove))

    def remember(self, shortroomid: int, leaves: list[str]) -> None:
        self._cache[shortroomid] = list(leaves)

    def forget(self, shortroomid: int) -> None:
        """Drop the cached leaves of a purged room."""
        self._cache.pop(shortroomid, None)


class EventBuilder:
    def __init__(
        self,
        server_name: str,
        keypair: Callable[[], Keypair],
        state: RoomState,
        extremities: Extremities,
        clock: Callable[[], int],
    ) -> None:
        self._server_name = server_name
        self._keypair = keypair
        self._state = state
        self._extremities = extremities
        self._clock = clock

    def _ref(self, event_id: str, rv: RoomVersion) -> Any:
        if rv.event_format is not EventFormat.V1:
            return event_id
        # The reference hash redacts first, which drops "_txn" of old records too.
        stored = self._state.timeline.get(event_id) or {}
        return [event_id, {"sha256": b64.encode(reference_hash(stored, rv))}]

    def build(
        self, new: NewEvent, sender: str, room_id: str | None, rv: RoomVersion, before: int
    ) -> Event:
        """Build, hash and sign ``new`` on top of the room's forward extremities.

        ``room_id`` is ``None`` only for a v12 create event (the ID derives from it).
        ``before`` is the snapshot the auth events are chosen from.
        """
        pdu: dict[str, Any] = {
            "type": new.type,
            "content": new.content,
            "sender": sender,
            "origin_server_ts": new.timestamp if new.timestamp is not None else self._clock(),
        }
        if new.state_key is not None:
            pdu["state_key"] = new.state_key
        if room_id is not None:
            pdu["room_id"] = room_id
        if new.redacts is not None:
            # v11+ carries it in content; older versions at the top level.
            if rv.updated_redaction_rules:
                pdu["content"] = {**new.content, "redacts": new.redacts}
            else:
                pdu["redacts"] = new.redacts

        prev: list[str] = []
        depth = 1
        if room_id is not None:
            shortroomid = self._state.short.room(room_id)
            if shortroomid is not None:
                leaves = self._extremities.get(shortroomid)
                depths = {
                    e: int((self._state.timeline.get(e) or {}).get("depth", 0)) for e in leaves
                }
                prev = sorted(leaves, key=lambda e: -depths[e])[:MAX_PREV_EVENTS]
                depth = min(max(depths.values(), default=0) + 1, MAX_DEPTH)
        pdu["prev_events"] = [self._ref(e, rv) for e in prev]
        pdu["depth"] = depth

        auth: list[str] = []
        if before:
            for event_type, state_key in auth_types_for_event(pdu, rv):
                found = self._state.event_id_at(before, event_type, state_key)
                if found is not None and found not in auth:
                    auth.append(found)
        pdu["auth_events"] = [self._ref(e, rv) for e in auth]
        if new.unsigned:
            pdu["unsigned"] = dict(new.unsigned)
        if rv.event_format is EventFormat.V1:
            pdu["event_id"] = f"${secrets.token_urlsafe(18)}:{self._server_name}"

        signed = hash_and_sign_event(pdu, self._server_name, self._keypair(), rv)
        return Event(signed, rv)


def room_id_of(event: Event) -> str:
    """The event's room; a v12 create event's room ID derives from its own hash."""
    if event.room_id is not None:
        return event.room_id
    return room_id_for_create_event(dict(event.pdu), event.room_version)
