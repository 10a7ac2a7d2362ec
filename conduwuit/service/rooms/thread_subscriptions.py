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

Every change has a stream position (its ``bump_stamp``), indexed per user so MSC4308's
sliding-sync extension and list endpoint read the latest changes in a range of
positions; a change wakes the user's waiting syncs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from conduwuit.core.errors import MatrixError, not_found
from conduwuit.core.ids import RoomId, UserId
from conduwuit.db import Database
from conduwuit.db.codec import from_u64, key, prefix, prefix_end, split
from conduwuit.db.maps import MAPS
from conduwuit.service.notifier import Notifier
from conduwuit.service.rooms.history import RoomHistory

NOT_IN_THREAD = "IO.ELEMENT.MSC4306.M_NOT_IN_THREAD"
CONFLICTING_UNSUBSCRIPTION = "IO.ELEMENT.MSC4306.M_CONFLICTING_UNSUBSCRIPTION"


@dataclass(frozen=True)
class Subscription:
    automatic: bool


@dataclass(frozen=True)
class Change:
    """A thread's latest subscription change (MSC4308)."""

    position: int
    room_id: str
    root: str
    subscribed: bool
    automatic: bool


def thread_root_of(pdu: Mapping[str, Any]) -> str | None:
    """The root of the thread ``pdu`` is in (its ``m.thread`` relation), if any."""
    content = pdu.get("content")
    relates = content.get("m.relates_to") if isinstance(content, dict) else None
    if isinstance(relates, dict) and relates.get("rel_type") == "m.thread":
        root = relates.get("event_id")
        return root if isinstance(root, str) else None
    return None


#: MSC4308's token for a position in a user's thread subscription changes (Synapse's).
TOKEN_PREFIX = "ts"


def parse_token(value: str) -> int | None:
    """The position of a ``ts<position>`` token, or None if it is not one."""
    digits = value.removeprefix(TOKEN_PREFIX)
    if digits == value or not (digits.isascii() and digits.isdigit()) or len(digits) > 18:
        return None
    return int(digits)


def changes_json(changes: list[Change], limit: int, gap_key: str) -> dict[str, Any]:
    """MSC4308's ``subscribed``/``unsubscribed`` maps (room -> thread root -> change,
    ``bump_stamp`` the change's position), and under ``gap_key`` a token to page back
    from when ``limit`` was reached (older changes may remain)."""
    subscribed: dict[str, dict[str, Any]] = {}
    unsubscribed: dict[str, dict[str, Any]] = {}
    for change in changes:
        if change.subscribed:
            entry = {"automatic": change.automatic, "bump_stamp": change.position}
            subscribed.setdefault(change.room_id, {})[change.root] = entry
        else:
            unsubscribed.setdefault(change.room_id, {})[change.root] = {
                "bump_stamp": change.position
            }
    out: dict[str, Any] = {}
    if subscribed:
        out["subscribed"] = subscribed
    if unsubscribed:
        out["unsubscribed"] = unsubscribed
    if changes and len(changes) >= limit:
        # The bound nearer the stream's end is inclusive: page on from just before
        # the oldest change sent.
        out[gap_key] = f"{TOKEN_PREFIX}{changes[0].position - 1}"
    return out


class ThreadSubscriptions:
    def __init__(
        self, db: Database, history: RoomHistory, notifier: Notifier | None = None
    ) -> None:
        self._db = db
        self._history = history
        self._notifier = notifier
        self._map = db.map(MAPS.userroomthread_threadsubscription)
        self._by_position = db.map(MAPS.userposition_threadsubscription)

    def _stored(self, user: UserId, room_id: RoomId, root: str) -> dict[str, Any] | None:
        raw = self._map.get(key(str(user), str(room_id), root))
        return json.loads(raw) if raw is not None else None

    def _write(
        self, user: UserId, room_id: RoomId, root: str, subscribed: bool, **value: Any
    ) -> None:
        previous = self._stored(user, room_id, root)
        with self._db.batch() as b:
            position = b.next_count()
            value.update(subscribed=subscribed, position=position)
            if not subscribed:
                # Every event given a position before now, in this room or any, was
                # sent before the user left: an automatic subscription it causes is stale.
                value["unsubscribed_at"] = position
            b.put(self._map, key(str(user), str(room_id), root), json.dumps(value).encode())
            if previous is not None and isinstance(previous.get("position"), int):
                b.delete(self._by_position, key(str(user), previous["position"]))
            b.put(self._by_position, key(str(user), position), key(str(room_id), root))
            notifier = self._notifier
            if notifier is not None:
                b.after_commit(lambda: notifier.notify(position, users=[str(user)]))

    def get(self, user: UserId, room_id: RoomId, root: str) -> Subscription:
        """The user's subscription; 404 if the root cannot be seen or none is set."""
        self._history.visible_event(user, room_id, root)
        stored = self._stored(user, room_id, root)
        if stored is None or not stored.get("subscribed"):
            raise not_found("Not subscribed to this thread")
        return Subscription(bool(stored.get("automatic")))

    def is_subscribed(self, user_id: str, room_id: str, root: str) -> bool:
        """Whether the user follows the thread, unchecked (push rules' condition)."""
        raw = self._map.get(key(user_id, room_id, root))
        return raw is not None and bool(json.loads(raw).get("subscribed"))

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

    def latest_position(self) -> int:
        """The stream position now: no change is later."""
        return self._db.current_count()

    def changes(self, user_id: str, after: int, upto: int, limit: int) -> list[Change]:
        """The newest ``limit`` of the user's threads whose latest change is in
        ``(after, upto]``, oldest first (Synapse's
        ``get_latest_updated_thread_subscriptions_for_user``)."""
        out: list[Change] = []
        if upto <= after or limit <= 0:
            return out
        scan = self._by_position.iter_range(
            key(user_id, after + 1), key(user_id, upto + 1), reverse=True
        )
        start = len(prefix(user_id))
        for k, v in scan:
            room_id, root = (p.decode() for p in split(v))
            stored = self._map.get(key(user_id, room_id, root))
            if stored is None:
                continue
            value = json.loads(stored)
            subscribed = bool(value.get("subscribed"))
            automatic = subscribed and bool(value.get("automatic"))
            position = from_u64(k[start:])
            out.append(Change(position, room_id, root, subscribed, automatic))
            if len(out) >= limit:
                break
        out.reverse()
        return out

    def user_deactivated(self, user_id: str) -> None:
        """Drop all of a deactivated user's subscriptions (as Synapse does)."""
        start = prefix(user_id)
        end = prefix_end(start)
        assert end is not None  # a user ID is never empty
        with self._db.batch() as b:
            b.delete_range(self._map, start, end)
            b.delete_range(self._by_position, start, end)
