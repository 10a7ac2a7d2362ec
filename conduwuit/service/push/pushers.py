"""Pushers: POST /pushers/set and GET /pushers, and delivery to push gateways.

Setting a pusher checks the request (:mod:`conduwuit.core.push.pushers`) and that
the gateway's host resolves to addresses ``ip_range_denylist`` allows, then writes
it in one batch with the removal of other users' pushers of the same app ID and
pushkey (unless ``append``). A refused request writes nothing. Pushers belong to
the device whose access token created them: deleting the device (logout, device
deletion, a password change that logs other devices out) deletes them in the
device deletion's batch; deactivation deletes all of a user's pushers (Synapse).

Delivery: ``on_notification`` (a listener of the notification counts, called after
commit for notifying actions) and ``on_badge`` (after a read receipt lowered the
user's unread count: a badge-only update with the new count, as Synapse sends)
append to a bounded in-memory queue per pusher, the oldest dropped when full, and
wake that pusher's task; they never await, so the event path never waits on a
gateway. Each pusher's task sends its queue in order;
a failure (connection error, timeout, non-2xx) retries the same notification with
exponential backoff, and after ``give_up_s`` of failing the notification is
dropped (Synapse: 1 s doubling to 1 h, giving up after a day). Pushkeys the gateway
answers as ``rejected`` lose their pusher.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from conduwuit.core.errors import invalid_param
from conduwuit.core.push.pushers import (
    HTTP,
    EventInfo,
    PusherKey,
    badge_notification,
    check_set_request,
    check_url,
    notification,
)
from conduwuit.db import Database
from conduwuit.db.batch import Batch
from conduwuit.service.clock import Clock
from conduwuit.service.ip_denylist import DeniedHost, IpDenylist, UnresolvedHost
from conduwuit.service.push.gateway import GatewayClient, GatewayError
from conduwuit.service.push.pusher_store import Pusher, PusherStore
from conduwuit.service.rooms.state import RoomState
from conduwuit.service.rooms.timeline import Timeline
from conduwuit.service.tasks import BackgroundTasks

log = logging.getLogger(__name__)

#: Notifications waiting per pusher; beyond it the oldest is dropped.
QUEUE_SIZE = 100


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff of a failing gateway, in seconds."""

    initial_s: float = 1.0
    max_s: float = 3600.0
    give_up_s: float = 24 * 3600.0

    def delay(self, failures: int) -> float:
        """The wait after the ``failures``-th failure in a row (1-based)."""
        return float(min(self.initial_s * 2 ** min(failures - 1, 64), self.max_s))


@dataclass(frozen=True, slots=True)
class _Pending:
    """A notification to push; ``event_id`` None: a badge-only update."""

    room_id: str
    event_id: str | None
    actions: tuple[Any, ...]
    counts: Mapping[str, int]


QueueKey = tuple[str, PusherKey]


@dataclass
class _Queue:
    items: deque[_Pending]
    task: asyncio.Task[None] | None = field(default=None)


class NotificationEvents:
    """What a notification says about an event: the event and a little room state
    (the sender's display name, the room's name or canonical alias), as now."""

    def __init__(self, timeline: Timeline, state: RoomState) -> None:
        self._timeline = timeline
        self._state = state

    def info(self, event_id: str) -> EventInfo | None:
        pdu = self._timeline.get(event_id)
        if pdu is None:
            return None
        room_id, sender = str(pdu.get("room_id", "")), str(pdu.get("sender", ""))
        snapshot = self._state.current_hash(room_id)
        member = self._state.content_at(snapshot, "m.room.member", sender) or {}
        name = (self._state.content_at(snapshot, "m.room.name") or {}).get("name")
        if not isinstance(name, str) or not name:
            name = (self._state.content_at(snapshot, "m.room.canonical_alias") or {}).get("alias")
        displayname = member.get("displayname") if isinstance(member, dict) else None
        content = pdu.get("content")
        state_key = pdu.get("state_key")
        return EventInfo(
            event_id=event_id,
            room_id=room_id,
            type=str(pdu.get("type", "")),
            sender=sender,
            content=content if isinstance(content, dict) else {},
            state_key=state_key if isinstance(state_key, str) else None,
            sender_display_name=displayname if isinstance(displayname, str) else sender,
            room_name=name if isinstance(name, str) else None,
        )


class Pushers:
    def __init__(
        self,
        db: Database,
        store: PusherStore,
        events: NotificationEvents,
        denylist: IpDenylist,
        gateway: GatewayClient,
        clock: Clock,
        *,
        retry: RetryPolicy | None = None,
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        self._db = db
        self.store = store
        self._events = events
        self._denylist = denylist
        self._gateway = gateway
        self._clock = clock
        #: Backoff of failing gateways; tests set a short one before ``start``.
        self.retry = retry or RetryPolicy()
        self._queue_size = queue_size
        self._queues: dict[QueueKey, _Queue] = {}
        self._tasks = BackgroundTasks()
        self._running = False

    # -- the API ----------------------------------------------------------------------
    def of_user(self, user_id: str) -> list[Pusher]:
        return self.store.of_user(user_id)

    async def set(self, user_id: str, device_id: str | None, body: Mapping[str, Any]) -> None:
        """POST /pushers/set for the user, from one of their devices."""
        request = check_set_request(body)
        if request.kind is None:
            self.store.delete(user_id, request.key)
            self._forget(user_id, request.key)
            return
        host, port = check_url(request.url)
        try:
            await self._denylist.check(host, port)
        except UnresolvedHost as exc:
            # Accepted, as Synapse does (it checks nothing of the host when a pusher is
            # set; Complement's pushers use https://dummy.url): DNS may answer later, and
            # every delivery resolves and checks the address again.
            log.info("pusher for %s: %s; accepted, delivery will check again", user_id, exc)
        except DeniedHost as exc:
            raise invalid_param(f"Push gateway URL refused: {exc}") from None
        existing = self.store.get(user_id, request.key)
        pusher = Pusher(
            user_id=user_id,
            kind=request.kind,
            app_id=request.key.app_id,
            pushkey=request.key.pushkey,
            app_display_name=request.app_display_name,
            device_display_name=request.device_display_name,
            profile_tag=request.profile_tag,
            lang=request.lang,
            data=dict(request.data or {}),
            # Updating a pusher keeps the device it belongs to (Synapse).
            device_id=existing.device_id if existing is not None else device_id,
            pushkey_ts=self._clock(),
        )
        others = [] if request.append else list(self.store.users_of(request.key))
        others = [u for u in others if u != user_id]
        with self._db.batch() as b:
            for other in others:
                self.store.stage_delete(b, other, request.key)
            self.store.stage_put(b, pusher)
        for other in others:
            log.info("pusher %s of %s replaced by %s's", request.key.app_id, other, user_id)
            self._forget(other, request.key)

    # -- listeners ----------------------------------------------------------------------
    def stage_device_deleted(self, b: Batch, user_id: str, device_id: str) -> None:
        """A device deletion's listener: its pushers go in the same batch."""
        gone = self.store.stage_delete_device(b, user_id, device_id)
        if gone:
            b.after_commit(lambda: self._forget_all(user_id, gone))

    def user_deactivated(self, user_id: str) -> None:
        self._forget_all(user_id, self.store.delete_user(user_id))

    def on_notification(
        self,
        user_id: str,
        room_id: str,
        event_id: str,
        actions: list[Any],
        counts: dict[str, int],
    ) -> None:
        """Queue a push of a committed event to each of the user's pushers."""
        if "notify" not in actions:
            return
        self._enqueue(user_id, _Pending(room_id, event_id, tuple(actions), dict(counts)))

    def on_badge(self, user_id: str, unread: int) -> None:
        """Queue a badge-only update (a receipt changed the user's unread count)."""
        self._enqueue(user_id, _Pending("", None, (), {"unread": unread}))

    def _enqueue(self, user_id: str, pending: _Pending) -> None:
        for pusher in self.store.of_user(user_id):
            if pusher.kind != HTTP:
                continue
            queue_key = (user_id, pusher.key)
            queue = self._queues.get(queue_key)
            if queue is None:
                queue = self._queues[queue_key] = _Queue(deque(maxlen=self._queue_size))
            if len(queue.items) == queue.items.maxlen:
                log.warning("push queue of %s/%s full: oldest dropped", user_id, pusher.app_id)
            queue.items.append(pending)
            self._wake(queue_key, queue)

    # -- the worker -------------------------------------------------------------------
    def start(self) -> None:
        """Start delivering (also what was queued before)."""
        self._running = True
        for queue_key, queue in list(self._queues.items()):
            self._wake(queue_key, queue)

    async def stop(self) -> None:
        """Cancel deliveries in flight (their notifications are lost) and close the client."""
        self._running = False
        await self._tasks.stop()
        await self._gateway.close()

    @property
    def running(self) -> bool:
        """Delivering: started and not stopped."""
        return self._running

    @property
    def deliveries(self) -> int:
        """Pusher tasks alive now."""
        return len(self._tasks)

    def pending(self, user_id: str, pusher_key: PusherKey) -> int:
        """Notifications waiting for a pusher (for tests and the admin)."""
        queue = self._queues.get((user_id, pusher_key))
        return len(queue.items) if queue is not None else 0

    def _wake(self, queue_key: QueueKey, queue: _Queue) -> None:
        if not self._running or (queue.task is not None and not queue.task.done()):
            return
        user_id, pusher_key = queue_key
        name = f"pusher {user_id} {pusher_key.app_id}"
        queue.task = self._tasks.spawn(name, self._drain(queue_key, queue))

    def _forget(self, user_id: str, pusher_key: PusherKey) -> None:
        queue = self._queues.pop((user_id, pusher_key), None)
        if queue is not None and queue.task is not None:
            queue.task.cancel()

    def _forget_all(self, user_id: str, keys: Sequence[PusherKey]) -> None:
        for pusher_key in keys:
            self._forget(user_id, pusher_key)

    async def _drain(self, queue_key: QueueKey, queue: _Queue) -> None:
        user_id, pusher_key = queue_key
        loop = asyncio.get_running_loop()
        failures, failing_since, gone = 0, 0.0, False
        while queue.items:
            item = queue.items[0]
            pusher = self.store.get(user_id, pusher_key)
            if pusher is None:
                gone = True
                break
            try:
                rejected = await self._send(pusher, item)
            except GatewayError as exc:
                now = loop.time()
                if failures == 0:
                    failing_since = now
                failures += 1
                if now - failing_since >= self.retry.give_up_s:
                    log.warning("giving up on a push to %s/%s: %s", user_id, pusher.app_id, exc)
                    _done(queue, item)
                    failures = 0
                    continue
                delay = self.retry.delay(failures)
                log.info("push to %s failed (%s): retrying in %.3g s", pusher.app_id, exc, delay)
                await asyncio.sleep(delay)
                continue
            failures = 0
            _done(queue, item)
            if pusher.pushkey in rejected:
                log.info("gateway rejected the pushkey of %s/%s", user_id, pusher.app_id)
                self.store.delete(user_id, pusher_key)
                gone = True
                break
        if self._queues.get(queue_key) is queue and (gone or not queue.items):
            del self._queues[queue_key]

    async def _send(self, pusher: Pusher, item: _Pending) -> list[str]:
        data = {k: v for k, v in pusher.data.items() if k != "url"}
        device = {
            "app_id": pusher.app_id,
            "pushkey": pusher.pushkey,
            "pushkey_ts": pusher.pushkey_ts // 1000,
            "data": data,
        }
        if item.event_id is None:
            badge = badge_notification(item.counts.get("unread", 0), device)
            return await self._gateway.notify(str(pusher.data["url"]), badge)
        event = self._events.info(item.event_id)
        if event is None or event.sender == pusher.user_id:
            return []  # gone, or the user's own event: nothing to push
        body = notification(
            event,
            pusher.user_id,
            item.actions,
            item.counts,
            device,
            event_id_only=data.get("format") == "event_id_only",
        )
        return await self._gateway.notify(str(pusher.data["url"]), body)


def _done(queue: _Queue, item: _Pending) -> None:
    """Take ``item`` off the queue unless it was dropped meanwhile (queue full)."""
    if queue.items and queue.items[0] is item:
        queue.items.popleft()
