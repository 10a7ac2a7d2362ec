"""Thread subscriptions (MSC4306): a user subscribes to a thread by hand or their
client does it for them ("automatic", naming the event that caused it).

Rules (MSC4306, as Synapse implements them):

- The thread root must be an event of the room the user may see, else 404; an
  automatic subscription's cause event too, and it must be in that thread (an
  ``m.thread`` relation to the root), else 400 ``IO.ELEMENT.MSC4306.M_NOT_IN_THREAD``.
- A manual subscription replaces an automatic one; an automatic request leaves any
  existing subscription as it is.
- Unsubscribing records the stream position it happened at. An automatic
  subscription caused by an event at or before that position is refused with 409
  ``IO.ELEMENT.MSC4306.M_CONFLICTING_UNSUBSCRIPTION``: the user left the thread after
  seeing that event, so another device's late automatic subscription must not undo it.
  A manual subscription always goes ahead.
- Unsubscribing from a thread one is not subscribed to changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from conduwuit.core.errors import MatrixError, not_found
from conduwuit.core.ids import RoomId, UserId
from conduwuit.db import Database
from conduwuit.db.codec import key, prefix, prefix_end
from conduwuit.db.maps import MAPS
from conduwuit.service.rooms.history import RoomHistory

NOT_IN_THREAD = "IO.ELEMENT.MSC4306.M_NOT_IN_THREAD"
CONFLICTING_UNSUBSCRIPTION = "IO.ELEMENT.MSC4306.M_CONFLICTING_UNSUBSCRIPTION"


@dataclass(frozen=True)
class Subscription:
    automatic: bool


def thread_root_of(pdu: dict[str, Any]) -> str | None:
    """The root of the thread ``pdu`` is in (its ``m.thread`` relation), if any."""
    content = pdu.get("content")
    relates = content.get("m.relates_to") if isinstance(content, dict) else None
    if isinstance(relates, dict) and relates.get("rel_type") == "m.thread":
        root = relates.get("event_id")
        return root if isinstance(root, str) else None
    return None


class ThreadSubscriptions:
    def __init__(self, db: Database, history: RoomHistory) -> None:
        self._db = db
        self._history = history
        self._map = db.map(MAPS.userroomthread_threadsubscription)

    def _stored(self, user: UserId, room_id: RoomId, root: str) -> dict[str, Any] | None:
        raw = self._map.get(key(str(user), str(room_id), root))
        return json.loads(raw) if raw is not None else None

    def _write(
        self, user: UserId, room_id: RoomId, root: str, subscribed: bool, **value: Any
    ) -> None:
        with self._db.batch() as b:
            position = b.next_count()
            value.update(subscribed=subscribed, position=position)
            if not subscribed:
                # Every event given a position before now, in this room or any, was
                # sent before the user left: an automatic subscription it causes is stale.
                value["unsubscribed_at"] = position
            b.put(self._map, key(str(user), str(room_id), root), json.dumps(value).encode())

    def get(self, user: UserId, room_id: RoomId, root: str) -> Subscription:
        """The user's subscription; 404 if the root cannot be seen or none is set."""
        self._history.visible_event(user, room_id, root)
        stored = self._stored(user, room_id, root)
        if stored is None or not stored.get("subscribed"):
            raise not_found("Not subscribed to this thread")
        return Subscription(bool(stored.get("automatic")))

    def subscribe(
        self, user: UserId, room_id: RoomId, root: str, automatic: str | None = None
    ) -> None:
        """Subscribe by hand (``automatic`` None) or automatically, caused by the event
        ``automatic``. Nothing awaits between read and write: concurrent requests for
        one thread apply one after the other."""
        self._history.visible_event(user, room_id, root)
        cause_position = None
        if automatic is not None:
            cause_position, cause = self._history.visible_event(user, room_id, automatic)
            if thread_root_of(cause) != root:
                raise MatrixError(
                    NOT_IN_THREAD,
                    "An automatic subscription must name an event in the thread",
                    status=400,
                )
        stored = self._stored(user, room_id, root)
        if stored is not None and stored.get("subscribed"):
            if automatic is not None or not stored.get("automatic"):
                return  # already subscribed well enough
        elif stored is not None and cause_position is not None:
            if cause_position <= int(stored.get("unsubscribed_at", 0)):
                raise MatrixError(
                    CONFLICTING_UNSUBSCRIPTION,
                    "The thread was unsubscribed from after the event that caused this",
                    status=409,
                )
        self._write(user, room_id, root, True, automatic=automatic is not None)

    def unsubscribe(self, user: UserId, room_id: RoomId, root: str) -> None:
        """Leave the thread; 404 if the root cannot be seen, a no-op if not subscribed."""
        self._history.visible_event(user, room_id, root)
        stored = self._stored(user, room_id, root)
        if stored is None or not stored.get("subscribed"):
            return
        self._write(user, room_id, root, False)

    def user_deactivated(self, user_id: str) -> None:
        """Drop all of a deactivated user's subscriptions (as Synapse does)."""
        start = prefix(user_id)
        end = prefix_end(start)
        assert end is not None  # a user ID is never empty
        with self._db.batch() as b:
            b.delete_range(self._map, start, end)
