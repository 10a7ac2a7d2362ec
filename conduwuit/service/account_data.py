"""Account data: per-user JSON by type, global or per room, with stream positions.

Each write takes a position from the global counter, so sync can deliver what
changed since a token by scanning ``roomuserdataid_accountdata`` from it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from conduwuit.core.event_types import EventType
from conduwuit.core.invite_permission import InvitePermission
from conduwuit.core.invite_permission import parse as parse_invite_permission
from conduwuit.db import Database
from conduwuit.db.batch import Batch
from conduwuit.db.codec import SEP, from_u64, key, prefix, prefix_end, u64
from conduwuit.db.maps import MAPS
from conduwuit.service.notifier import Notifier

GLOBAL = ""
#: MSC3890: a device's local notification settings are global account data of this
#: type followed by the device ID; deleting the device deletes them.
LOCAL_NOTIFICATION_SETTINGS_PREFIX = "org.matrix.msc3890.local_notification_settings."


class AccountData:
    def __init__(self, db: Database, notifier: Notifier | None = None) -> None:
        self._db = db
        self._notifier = notifier
        self._events = db.map(MAPS.roomuserdataid_accountdata)
        self._index = db.map(MAPS.roomusertype_roomuserdataid)
        #: Users' ignore lists, read on the event path (push) for every recipient:
        #: cached, and dropped when that user's account data is written.
        self._ignored: dict[str, frozenset[str]] = {}
        #: Users' invite permission configs (read for every invite and invited room
        #: in /sync): cached the same way.
        self._invite_permissions: dict[str, InvitePermission] = {}

    def get(self, user_id: str, event_type: str, room_id: str = GLOBAL) -> dict[str, Any] | None:
        """The content, or None if never set or deleted (content ``{}``)."""
        where = self._index.get(key(room_id, user_id, event_type))
        if where is None:
            return None
        raw = self._events.get(where)
        if raw is None:
            return None
        content: dict[str, Any] = json.loads(raw)["content"]
        return content or None

    def ignored_users(self, user_id: str) -> frozenset[str]:
        """The users ``user_id`` ignores (``m.ignored_user_list``, module "Ignoring Users")."""
        cached = self._ignored.get(user_id)
        if cached is not None:
            return cached
        content = self.get(user_id, EventType.IGNORED_USER_LIST) or {}
        ignored = content.get("ignored_users")
        found = (
            frozenset(u for u in ignored if isinstance(u, str))
            if isinstance(ignored, dict)
            else frozenset()
        )
        if len(self._ignored) >= 10_000:
            self._ignored.clear()
        self._ignored[user_id] = found
        return found

    def invite_permission(self, user_id: str) -> InvitePermission:
        """Who may invite ``user_id`` (``m.invite_permission_config`` and MSC4155's)."""
        cached = self._invite_permissions.get(user_id)
        if cached is not None:
            return cached
        found = parse_invite_permission(
            self.get(user_id, EventType.INVITE_PERMISSION_CONFIG),
            self.get(user_id, EventType.MSC4155_INVITE_PERMISSION_CONFIG),
        )
        if len(self._invite_permissions) >= 10_000:
            self._invite_permissions.clear()
        self._invite_permissions[user_id] = found
        return found

    def put(
        self, user_id: str, event_type: str, content: dict[str, Any], room_id: str = GLOBAL
    ) -> int:
        """Store (``{}`` deletes, per MSC3391) and return the stream position."""
        with self._db.batch() as b:
            position = self.stage_put(b, user_id, event_type, content, room_id)
        return position

    def stage_put(
        self,
        b: Batch,
        user_id: str,
        event_type: str,
        content: dict[str, Any],
        room_id: str = GLOBAL,
    ) -> int:
        """Stage ``put`` in ``b``; the user's syncs wake once ``b`` commits."""
        index_key = key(room_id, user_id, event_type)
        # A batch is write-only: an earlier write of this type in ``b`` is found in
        # its staged record, so the one it replaces is not left behind.
        staged = b.staged(self._index)
        previous = staged.get(index_key) or self._index.get(index_key)
        event = {"type": event_type, "content": content}
        position = b.next_count()
        event_key = key(room_id, user_id, position)
        b.put(self._events, event_key, json.dumps(event, separators=(",", ":")).encode())
        b.put(self._index, index_key, event_key)
        staged[index_key] = event_key
        if previous is not None:
            b.delete(self._events, previous)
        b.after_commit(lambda: self._written(user_id, position))
        return position

    def _written(self, user_id: str, position: int) -> None:
        self._forget(user_id)
        if self._notifier is not None:
            self._notifier.notify(position, users=[user_id])

    def stage_device_deleted(self, b: Batch, user_id: str, device_id: str) -> None:
        """Stage deleting a deleted device's own account data, in the deletion's batch
        (a ``Devices.deletion_listeners`` entry): MSC3890's local notification
        settings, ``org.matrix.msc3890.local_notification_settings.<device_id>``.

        Synapse does this behind ``msc3890_enabled``; conduwuit always does, and so
        does this server. Like any deletion (MSC3391, content ``{}``) it reaches the
        user's other devices in their next incremental sync."""
        event_type = f"{LOCAL_NOTIFICATION_SETTINGS_PREFIX}{device_id}"
        index_key = key(GLOBAL, user_id, event_type)
        if index_key in b.staged(self._index) or self.get(user_id, event_type) is not None:
            self.stage_put(b, user_id, event_type, {})

    def stage_delete_user(self, b: Batch, user_id: str) -> None:
        """Stage deleting all of a user's account data, global and per room (erasure).

        Keys start with the room, so this reads the whole type index: it is for a
        rare, one-off change (deactivation with ``erase``), not a request path.
        """
        self._forget(user_id)
        # Writes staged earlier in ``b`` (a deleted device's settings) go too.
        for index_key, event_key in b.staged(self._index).items():
            if index_key.split(SEP)[1:2] == [user_id.encode()]:
                b.delete(self._index, index_key)
                b.delete(self._events, event_key)
        for index_key, event_key in self._index.iter_prefix(b""):
            parts = index_key.split(SEP)
            if len(parts) >= 3 and parts[1] == user_id.encode():
                b.delete(self._index, index_key)
                b.delete(self._events, event_key)

    def _forget(self, user_id: str) -> None:
        """Drop what is cached from ``user_id``'s account data (next to each write)."""
        self._ignored.pop(user_id, None)
        self._invite_permissions.pop(user_id, None)

    def since(
        self, user_id: str, since: int, room_id: str = GLOBAL
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        """``(position, event)`` changed after ``since``, in stream order (for sync)."""
        base = prefix(room_id, user_id)
        for k, v in self._events.iter_range(base + u64(since + 1), prefix_end(base)):
            yield from_u64(k[len(base) :]), json.loads(v)
