"""Notifications: which events notified which local user, and how many are unread.

Push rules are evaluated for every accepted event inside the event's own write
batch (``stage_event``, a persist listener of the room storage), so the
notification records are atomic with the event: a refused event never reaches
the batch, a soft-failed one is kept out of the timeline before the listeners
run, and the sender is never a recipient (``PushEvaluator.recipients``).

For each user an event notifies (a matched rule with ``notify``) three maps
change (layouts in ``conduwuit.db.maps``):

- ``usercount_notification``: the record GET /notifications lists, kept;
- ``userroomthreadcount_unread``: the unread index, one key per unread
  notification under (user, room, thread); receipts delete from it;
- ``userroomthread_notificationcounts``: running counts per (user, room,
  thread), so /sync reads one short prefix per room, never the notifications.

Receipts (``stage_receipt``, staged in the receipt's batch) delete the index
entries at or before the event they point at: an unthreaded receipt in every
thread of the room, a threaded one (``main`` or a thread root) in its thread
(client-server API "Receipts", "Threaded read receipts"). Since both ``m.read``
and ``m.read.private`` delete, the receipt that is further ahead wins, as
"Marking notifications as read" asks. The user's own event counts as a receipt
of its thread ("When the user updates their read receipt (either by using the
API or by sending an event)"; conduwuit resets the counts on send too).

After commit, each listener (pushers) hears of each notifying event:
``listener(user_id, room_id, event_id, actions, counts)``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from conduwuit.core.event_types import EventType
from conduwuit.core.invite_permission import InviteRule
from conduwuit.core.membership import MEMBERSHIPS, MembershipState
from conduwuit.core.push import Actions
from conduwuit.db import MAPS, Batch, Database
from conduwuit.db.codec import SEP, from_u64, prefix, prefix_end, u64
from conduwuit.service.push.evaluator import PushEvaluator
from conduwuit.service.rooms.member_index import MemberIndex
from conduwuit.service.rooms.timeline import PduJson, Timeline

log = logging.getLogger(__name__)

#: The main timeline as a thread (receipts' ``thread_id: "main"``); stored as "".
MAIN = ""
#: Relations followed to find an event's thread (push module: "a maximum of 3 hops").
THREAD_HOPS = 3


class NotificationListener(Protocol):
    def __call__(
        self,
        user_id: str,
        room_id: str,
        event_id: str,
        actions: list[Any],
        counts: dict[str, int],
    ) -> None: ...


@dataclass(frozen=True)
class Counts:
    """Unread counts of a room or a thread; ``changed``: stream position of the last change."""

    notifications: int = 0
    highlights: int = 0
    changed: int = 0

    def to_json(self) -> dict[str, int]:
        return {"notification_count": self.notifications, "highlight_count": self.highlights}

    def encode(self) -> bytes:
        return u64(self.notifications) + u64(self.highlights) + u64(self.changed)

    @classmethod
    def decode(cls, raw: bytes | None) -> Counts:
        if raw is None:
            return cls()
        return cls(from_u64(raw[:8]), from_u64(raw[8:16]), from_u64(raw[16:24]))


@dataclass(frozen=True)
class RoomCounts:
    """A room's counts for a user: the whole room, the main timeline, each thread."""

    total: Counts
    main: Counts
    threads: dict[str, Counts]
    changed: int


@dataclass(frozen=True)
class Notification:
    """One record of GET /notifications."""

    count: int
    room_id: str
    event_id: str
    actions: list[Any]
    highlight: bool
    thread_id: str
    ts: int
    read: bool


class Notifications:
    def __init__(
        self,
        db: Database,
        evaluator: PushEvaluator,
        timeline: Timeline,
        members: MemberIndex,
        clock: Callable[[], int],
        ignored_by: Callable[[str], frozenset[str]] = lambda _: frozenset(),
        invite_rule: Callable[[str, str], InviteRule] = lambda invitee, inviter: InviteRule.ALLOW,
    ) -> None:
        self._db = db
        self._evaluator = evaluator
        self._timeline = timeline
        self._members = members
        self._clock = clock
        # Who a user ignores: their non-state events notify nobody who ignores them
        # (as Synapse's bulk push rule evaluator; the module hides the events too).
        self._ignored_by = ignored_by
        # An invite the invitee's invite permission ignores or blocks never notifies
        # them (Synapse's bulk push rule evaluator).
        self._invite_rule = invite_rule
        self._records = db.map(MAPS.usercount_notification)
        self._unread = db.map(MAPS.userroomthreadcount_unread)
        self._counts = db.map(MAPS.userroomthread_notificationcounts)
        #: Called after commit for each user an event notifies (pushers register here).
        self.listeners: list[NotificationListener] = []
        #: Called after commit with a user and their new total unread count when a
        #: receipt read some of their notifications (pushers' badge updates).
        self.badge_listeners: list[Callable[[str, int], None]] = []

    # -- writes: staged in the batch of the event or the receipt ------------------------
    def stage_event(self, b: Batch, pdu: PduJson, count: int, before: int) -> None:
        """Evaluate push rules for an event being persisted (not soft-failed) at
        ``count`` on the state snapshot ``before``, and stage what it changes."""
        event_id = str(pdu["event_id"])
        room_id = str(pdu.get("room_id", ""))
        sender = str(pdu.get("sender", ""))
        thread = self.thread_of(pdu)
        matched = self._evaluator.evaluate(pdu, event_id, snapshot=before, thread=thread)
        notified = {user: actions for user, actions in matched.items() if actions.notify}
        if notified and "state_key" not in pdu:
            notified = {u: a for u, a in notified.items() if sender not in self._ignored_by(u)}
        invitee = pdu.get("state_key")
        if (
            invitee in notified
            and pdu.get("type") == EventType.MEMBER
            and isinstance(content := pdu.get("content"), dict)
            and content.get("membership") == MembershipState.INVITE
            and self._invite_rule(str(invitee), sender) != InviteRule.ALLOW
        ):
            notified = {u: a for u, a in notified.items() if u != invitee}
        # The sender's own event reads their thread up to it (nothing is stored for
        # remote senders, so the scan is empty for them).
        self._clear(b, sender, room_id, thread, count, count)
        if not notified:
            return
        # Hot path (every recipient of every notifying event): keys are concatenated
        # by hand and a record is encoded once per distinct set of actions.
        ts = self._clock()
        position = u64(count)
        room_part = SEP + room_id.encode() + SEP
        thread_part = thread.encode() + SEP
        # By identity: users with the same compiled rules share their Actions (and the
        # objects live as long as ``notified``); a miss only costs an encoding.
        encoded: dict[int, bytes] = {}
        for user_id, actions in notified.items():
            record = encoded.get(id(actions.actions))
            if record is None:
                record = encoded[id(actions.actions)] = json.dumps(
                    {
                        "room_id": room_id,
                        "event_id": event_id,
                        "actions": list(actions.actions),
                        "highlight": actions.highlight,
                        "thread_id": thread,
                        "ts": ts,
                    }
                ).encode()
            user = user_id.encode()
            b.put(self._records, user + SEP + position, record)
            b.put(
                self._unread,
                user + room_part + thread_part + position,
                b"\x01" if actions.highlight else b"\x00",
            )
            self._add(b, user_id, room_id, thread, 1, int(actions.highlight), count)
        b.after_commit(lambda: self._tell_listeners(room_id, event_id, notified))

    def stage_receipt(
        self, b: Batch, user_id: str, room_id: str, thread_id: str | None, event_id: str, at: int
    ) -> None:
        """A receipt of ``user_id`` on ``event_id``, written in ``b`` at stream position
        ``at``: its notifications up to that event are read."""
        located = self._timeline.get_timeline(event_id)
        if located is None:
            return
        threads = None if thread_id is None else (MAIN if thread_id == "main" else thread_id)
        if self._clear(b, user_id, room_id, threads, located[0], at) and self.badge_listeners:
            b.after_commit(lambda: self._tell_badge(user_id))

    def stage_purged_history(self, b: Batch, room_id: str, upto: int) -> None:
        """The room's events up to stream position ``upto`` left the timeline (an
        admin purged its history): their notifications are unread no more, for every
        member of the room, whatever their membership now (the records stay; GET
        /notifications skips those whose event is gone)."""
        at: int | None = None
        for membership in MEMBERSHIPS:
            for user_id in self._members.members(room_id, membership):
                if next(self._unread.iter_prefix(prefix(user_id, room_id)), None) is None:
                    continue
                at = at if at is not None else b.next_count()
                self._clear(b, user_id, room_id, None, upto, at)

    def _clear(
        self, b: Batch, user_id: str, room_id: str, thread: str | None, upto: int, at: int
    ) -> bool:
        """Delete unread notifications at or before ``upto`` in ``thread`` (None: every
        thread of the room) and lower the counts, recording the change at ``at``;
        whether any was unread."""
        room_prefix = prefix(user_id, room_id)
        scan = room_prefix + thread.encode() + SEP if thread is not None else room_prefix
        cleared: dict[str, tuple[int, int]] = {}
        for k, flag in self._unread_upto(scan, upto):
            their_thread = k[len(room_prefix) : -9].decode()
            b.delete(self._unread, k)
            n, h = cleared.get(their_thread, (0, 0))
            cleared[their_thread] = (n + 1, h + (flag == b"\x01"))
        # The main entry last: a thread's change rewrites the main entry from its stored
        # value (a batch is write-only), which must not undo the main's own change.
        for their_thread in sorted(cleared, key=lambda t: t == MAIN):
            n, h = cleared[their_thread]
            self._add(b, user_id, room_id, their_thread, -n, -h, at)
        return bool(cleared)

    def _unread_upto(self, scan: bytes, upto: int) -> Iterator[tuple[bytes, bytes]]:
        """The unread entries under ``scan`` at or before stream position ``upto``.
        One thread's keys are in stream order, so the scan leaves a thread at its
        first later entry: a receipt costs what it clears, not the room's unread."""
        start: bytes | None = scan
        end = prefix_end(scan)
        while start is not None:
            for k, flag in self._unread.iter_range(start, end):
                if from_u64(k[-8:]) <= upto:
                    yield k, flag
                    continue
                start = prefix_end(k[:-8])  # past this thread (its key up to the count)
                break
            else:
                return

    def _add(
        self, b: Batch, user_id: str, room_id: str, thread: str, n: int, h: int, at: int
    ) -> None:
        """Change one thread's running counts; the main entry records the room's change.

        Read-modify-write without a lock is safe: staging runs synchronously on the
        event loop (persist and receipts never await inside their batch), and each
        (user, room, thread) entry changes at most once per batch.
        """
        room_key = user_id.encode() + SEP + room_id.encode() + SEP
        thread_key = room_key + thread.encode()
        raw = self._counts.get(thread_key)
        notifications = max(0, (from_u64(raw[:8]) if raw else 0) + n)
        highlights = max(0, (from_u64(raw[8:16]) if raw else 0) + h)
        if thread != MAIN and notifications == 0:
            b.delete(self._counts, thread_key)
        else:
            b.put(self._counts, thread_key, u64(notifications) + u64(highlights) + u64(at))
        if thread != MAIN:
            main = self._counts.get(room_key)
            b.put(self._counts, room_key, (main[:16] if main else bytes(16)) + u64(at))

    def _tell_listeners(self, room_id: str, event_id: str, notified: Mapping[str, Actions]) -> None:
        for user_id, actions in notified.items():
            if not self.listeners:
                return
            counts = {"unread": self.total_unread(user_id), "missed_calls": 0}
            for listener in self.listeners:
                try:
                    listener(user_id, room_id, event_id, list(actions.actions), dict(counts))
                except Exception:
                    # One failing pusher must not stop the others, nor the event path.
                    log.exception("notification listener failed for %s", user_id)

    def _tell_badge(self, user_id: str) -> None:
        unread = self.total_unread(user_id)
        for listener in self.badge_listeners:
            try:
                listener(user_id, unread)
            except Exception:
                log.exception("badge listener failed for %s", user_id)

    # -- threads -----------------------------------------------------------------------
    def thread_of(self, pdu: PduJson) -> str:
        """The thread root an event belongs to, or ``MAIN``: an ``m.thread`` relation,
        found directly or through at most ``THREAD_HOPS`` other relations (a reaction
        to a thread reply is in the thread; one to the root is in the main timeline)."""
        content: Any = pdu.get("content")
        for _ in range(THREAD_HOPS):
            relates = content.get("m.relates_to") if isinstance(content, dict) else None
            if not isinstance(relates, dict) or not isinstance(relates.get("event_id"), str):
                return MAIN
            if relates.get("rel_type") == "m.thread":
                return str(relates["event_id"])
            parent = self._timeline.get(relates["event_id"])
            if parent is None or parent.get("room_id") != pdu.get("room_id"):
                return MAIN
            content = parent.get("content")
        return MAIN

    # -- reads -------------------------------------------------------------------------
    def room_counts(self, user_id: str, room_id: str) -> RoomCounts:
        """The user's unread counts in a room (one prefix of running counts)."""
        room_prefix = prefix(user_id, room_id)
        main = Counts()
        threads: dict[str, Counts] = {}
        for k, raw in self._counts.iter_prefix(room_prefix):
            thread = k[len(room_prefix) :].decode()
            if thread == MAIN:
                main = Counts.decode(raw)
            else:
                threads[thread] = Counts.decode(raw)
        total = Counts(
            main.notifications + sum(c.notifications for c in threads.values()),
            main.highlights + sum(c.highlights for c in threads.values()),
        )
        return RoomCounts(total, main, threads, main.changed)

    def total_unread(self, user_id: str) -> int:
        """Unread notifications over every room the user is joined to (a pusher's
        ``counts.unread``): one prefix of running counts, O(rooms + threads)."""
        user_prefix = prefix(user_id)
        total = 0
        joined: dict[str, bool] = {}
        for k, raw in self._counts.iter_prefix(user_prefix):
            room_id = k[len(user_prefix) :].split(SEP, 1)[0].decode()
            if room_id not in joined:
                joined[room_id] = self._members.is_joined(user_id, room_id)
            if joined[room_id]:
                total += Counts.decode(raw).notifications
        return total

    def page(
        self, user_id: str, before: int | None, limit: int, only_highlight: bool
    ) -> tuple[list[Notification], int | None]:
        """Up to ``limit`` notifications older than ``before`` (None: from the newest),
        newest first, and the position to continue from when there are more."""
        user_prefix = prefix(user_id)
        end = user_prefix + u64(before) if before is not None else prefix_end(user_prefix)
        found: list[Notification] = []
        for k, raw in self._records.iter_range(user_prefix, end, reverse=True):
            record = json.loads(raw)
            if only_highlight and not record.get("highlight"):
                continue
            if len(found) >= limit:
                return found, found[-1].count
            count = from_u64(k[-8:])
            thread = str(record.get("thread_id", MAIN))
            unread_key = prefix(user_id, record["room_id"], thread) + u64(count)
            found.append(
                Notification(
                    count=count,
                    room_id=str(record["room_id"]),
                    event_id=str(record["event_id"]),
                    actions=list(record.get("actions", [])),
                    highlight=bool(record.get("highlight")),
                    thread_id=thread,
                    ts=int(record.get("ts", 0)),
                    read=not self._unread.contains(unread_key),
                )
            )
        return found, None

    def records(self, user_id: str) -> Iterator[tuple[int, dict[str, Any]]]:
        """Every notification record of a user, oldest first (tests, admin)."""
        user_prefix = prefix(user_id)
        for k, raw in self._records.iter_prefix(user_prefix):
            yield from_u64(k[-8:]), json.loads(raw)
