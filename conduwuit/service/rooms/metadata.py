"""Rooms the admins have blocked (conduwuit's ``rooms.metadata``): *banned* rooms
(no local user may join, knock or be invited; admins excepted as in conduwuit) and
rooms whose incoming federation is *disabled* (every room-scoped federation request
for them is refused). Banning a room disables its federation too.
"""

from __future__ import annotations

from conduwuit.db import MAPS, Database


class RoomMetadata:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._banned = db.map(MAPS.bannedroomids)
        self._disabled = db.map(MAPS.disabledroomids)

    def is_banned(self, room_id: str) -> bool:
        return self._banned.contains(room_id.encode())

    def is_disabled(self, room_id: str) -> bool:
        return self._disabled.contains(room_id.encode())

    def set_banned(self, room_id: str, banned: bool) -> None:
        """Ban (and disable federation) or unban (and enable it) in one batch."""
        with self._db.batch() as b:
            for m in (self._banned, self._disabled):
                if banned:
                    b.put(m, room_id.encode(), b"")
                else:
                    b.delete(m, room_id.encode())

    def set_disabled(self, room_id: str, disabled: bool) -> None:
        if disabled:
            self._disabled.put(room_id.encode(), b"")
        else:
            self._disabled.delete(room_id.encode())

    def banned(self) -> list[str]:
        return [k.decode() for k, _ in self._banned.iter_prefix(b"")]

    def disabled(self) -> list[str]:
        return [k.decode() for k, _ in self._disabled.iter_prefix(b"")]
