"""Our users' device list updates sent while a room was partial-state, corrected once
its resync ends (Synapse's ``handle_room_un_partial_stated`` for outbound updates).

While a room joined with partial state is incomplete, a local user's update goes to
the servers its members are known to be on plus the join answer's
``servers_in_room`` (``FederationSender.partial_servers_of``). Either may be wrong:
``servers_in_room`` may leave a server out, and an event accepted on the partial
state (a kick the full state refuses) may have hidden a member. So each update
staged for a user joined to a partial-state room is noted per room
(``roomid_partialdevicelistout``) with the servers it went to. When the room's mark
is cleared, each note is checked against the room's full state at the time of the
update — the state before the room's next timeline event after it, else the current
state — and the servers joined then that did not get it get it now (the same EDU,
so its ``prev_id`` chain holds). A server we sent to that was not in the room gets
nothing more: later updates follow the membership alone. The notes then go.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from conduwuit.core.event_types import EventType
from conduwuit.core.ids import server_of
from conduwuit.db import MAPS, Batch
from conduwuit.db.codec import from_u64, key, prefix
from conduwuit.service.federation.sender import FederationSender
from conduwuit.service.rooms.storage import RoomStorage

log = logging.getLogger(__name__)


def note_key(room_id: str, at: int, user_id: str) -> bytes:
    return key(room_id, at, user_id)


def note_position(note: bytes, room_id: str) -> int:
    """The stream position of a note's key (its 8 bytes may hold 0xFF: cut, not
    split)."""
    start = len(prefix(room_id))
    return from_u64(note[start : start + 8])


class PartialDeviceListCatchUp:
    def __init__(self, storage: RoomStorage, sender: FederationSender, server_name: str) -> None:
        self._storage = storage
        self._sender = sender
        self._server_name = server_name
        self._notes = storage.db.map(MAPS.roomid_partialdevicelistout)

    def stage_sent(
        self,
        b: Batch,
        user_id: str,
        edu_type: str,
        content: Mapping[str, Any],
        servers: Iterable[str],
    ) -> None:
        """Note an update of a local user staged in ``b`` for ``servers``, once per
        partial-state room the user is joined to."""
        rooms = [
            room.room_id
            for room in self._storage.partial.all()
            if self._storage.member_index.is_joined(user_id, room.room_id)
        ]
        if not rooms:
            return
        at = b.next_count()
        value = json.dumps({"type": edu_type, "content": content, "servers": sorted(servers)})
        for room_id in rooms:
            b.put(self._notes, note_key(room_id, at, user_id), value.encode())

    def room_completed(self, room_id: str) -> None:
        """The room's full state is in (its mark cleared): send what was missed."""
        storage = self._storage
        shortroomid = storage.short.room(room_id)
        notes = list(self._notes.iter_prefix(prefix(room_id)))
        if not notes:
            return
        joined_at: dict[int, frozenset[str]] = {}
        with storage.db.batch() as b:
            for k, raw in notes:
                b.delete(self._notes, k)
                at = note_position(k, room_id)
                if shortroomid is None:
                    continue
                if at not in joined_at:
                    joined_at[at] = self._servers_at(room_id, shortroomid, at)
                note = json.loads(raw)
                missed = joined_at[at] - set(note["servers"]) - {self._server_name}
                if missed:
                    log.info("%s: a device list update missed by %s sent now", room_id, missed)
                    self._sender.stage_edu(b, missed, note["type"], note["content"])

    def _servers_at(self, room_id: str, shortroomid: int, at: int) -> frozenset[str]:
        """The servers with a joined member at stream position ``at``: in the state
        before the room's first timeline event after it, else the current state."""
        storage = self._storage
        following = next(storage.timeline.scan(shortroomid, at, backwards=False), None)
        shortstatehash = None
        if following is not None:
            shortstatehash = storage.state.hash_before(str(following[1].get("event_id", "")))
        if shortstatehash is None:
            shortstatehash = storage.state.current_hash(room_id)
        servers: set[str] = set()
        members = storage.state.state_ids_of_type(shortstatehash, EventType.MEMBER)
        for user_id, event_id in members.items():
            pdu = storage.timeline.get(event_id)
            if pdu is not None and (pdu.get("content") or {}).get("membership") == "join":
                servers.add(server_of(user_id))
        return frozenset(servers)
