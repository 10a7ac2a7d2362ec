"""Presence of local users (client-server API "Presence"): what they set, with
``unavailable`` after ``presence_idle_timeout_s`` and ``offline`` after
``presence_offline_timeout_s`` of inactivity worked out when read, so no timers
run. A change takes a stream position and wakes the users who share a room.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from typing import Any

from conduwuit.core.errors import forbidden, invalid_param, not_found
from conduwuit.core.event_types import EventType
from conduwuit.core.ids import UserId
from conduwuit.core.membership import MembershipState
from conduwuit.db import MAPS, Batch, Database
from conduwuit.service.notifier import Notifier
from conduwuit.service.rooms.member_index import MemberIndex

STATES = ("online", "unavailable", "offline")


class Presence:
    def __init__(
        self,
        db: Database,
        members: MemberIndex,
        notifier: Notifier,
        clock: Callable[[], int],
        *,
        enabled: bool = True,
        idle_ms: int = 300_000,
        offline_ms: int = 1_800_000,
    ) -> None:
        self._db = db
        self._map = db.map(MAPS.userid_presence)
        self._members = members
        self._notifier = notifier
        self._clock = clock
        self.enabled = enabled
        self._idle = idle_ms
        self._offline = offline_ms
        #: Staged in the batch of a change of a user's presence or status message:
        #: ``(batch, user ID, m.presence content)`` (the federation and appservice senders).
        self.listeners: list[Callable[[Batch, str, dict[str, Any]], None]] = []

    def _watchers(self, user_id: str) -> set[str]:
        """The user and everyone they share a joined room with."""
        out = {user_id}
        for room in self._members.rooms_of(user_id, (MembershipState.JOIN,)):
            out.update(self._members.members(room.room_id, MembershipState.JOIN))
        return out

    def may_see(self, viewer: str, user_id: str) -> bool:
        return viewer == user_id or viewer in self._watchers(user_id)

    def set(self, user: UserId, presence: str, status_msg: str | None = None) -> None:
        if not self.enabled:
            raise forbidden("Presence is disabled on this server")
        if presence not in STATES:
            raise invalid_param(f"Unknown presence state {presence!r}")
        record: dict[str, Any] = {"presence": presence, "last_active_ts": self._clock()}
        if status_msg is not None:
            record["status_msg"] = status_msg
        with self._db.batch() as b:
            raw = self._map.get(str(user).encode())
            old = json.loads(raw) if raw is not None else {}
            record["count"] = b.next_count()
            b.put(self._map, str(user).encode(), json.dumps(record).encode())
            changed = (old.get("presence"), old.get("status_msg")) != (presence, status_msg)
            if changed:
                for listener in self.listeners:
                    listener(b, str(user), self._content(record))
        self._notifier.notify(record["count"], users=self._watchers(str(user)))

    def get(self, viewer: UserId, user: UserId) -> dict[str, Any]:
        if not self.enabled:
            raise forbidden("Presence is disabled on this server")
        if not self.may_see(str(viewer), str(user)):
            raise forbidden("You do not share a room with this user")
        raw = self._map.get(str(user).encode())
        if raw is None:
            if str(viewer) != str(user) and not self._members.rooms_of(str(user)):
                raise not_found("Presence information not found")
            return {"presence": "offline"}
        return self._content(json.loads(raw))

    def current(self, user_id: str) -> str | None:
        """The presence the user last set, or None if never."""
        raw = self._map.get(user_id.encode())
        return None if raw is None else str(json.loads(raw)["presence"])

    def changes_since(
        self, viewer: str, since: int, also: Collection[str] = ()
    ) -> list[dict[str, Any]]:
        """``m.presence`` events of users the viewer shares a room with (and the viewer),
        changed after stream position ``since``; and of the users in ``also`` (who just
        started sharing a room with the viewer) whether changed or not."""
        if not self.enabled:
            return []
        events = []
        for user_id in sorted(self._watchers(viewer)):
            raw = self._map.get(user_id.encode())
            if raw is None:
                continue
            record = json.loads(raw)
            if int(record.get("count", 0)) > since or user_id in also:
                events.append(
                    {
                        "type": EventType.PRESENCE,
                        "sender": user_id,
                        "content": self._content(record),
                    }
                )
        return events

    def _content(self, record: dict[str, Any]) -> dict[str, Any]:
        ago = max(0, self._clock() - int(record["last_active_ts"]))
        presence = record["presence"]
        if presence == "online" and ago >= self._idle:
            presence = "unavailable"
        if presence != "offline" and ago >= self._offline:
            presence = "offline"
        out: dict[str, Any] = {"presence": presence, "last_active_ago": ago}
        if presence == "online":
            out["currently_active"] = ago < self._idle
        if "status_msg" in record:
            out["status_msg"] = record["status_msg"]
        return out
