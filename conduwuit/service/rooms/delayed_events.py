"""Delayed events (MSC4140, as Synapse implements it): a message or state event a
user schedules now and the server sends later, unless it is cancelled first.

Element Call relies on it: a client schedules its own "left the call" membership
state event and keeps restarting its timer; if the client vanishes, the timer runs
out and the server sends the event for it.

- ``schedule`` checks the event as if it were sent now (power levels, membership,
  format) and stores it; the answer is a ``delay_id``, an unguessable string that
  is also the capability of the unauthenticated ``cancel``/``restart``/``send``
  endpoints.
- When it is due, the event goes through the one event pipeline as its user
  (``SendAs``), so auth is checked again then; a refusal is logged and the delayed
  event dropped.
- A state event the same user sends to the same (room, type, state_key) cancels
  their pending delayed state event for it (MSC4140), in the batch of that event.
- Stored in RocksDB (maps ``delayid_delayedevent``, ``userid_delayid``,
  ``duets_delayid``), so scheduled events survive a restart: on ``start``, the
  overdue ones are sent and the rest wait. One task waits for the first due time
  (the first key of ``duets_delayid``); scheduling an earlier one wakes it. Nothing
  polls the database on a timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from conduwuit.core.errors import ErrCode, MatrixError, not_found
from conduwuit.core.ids import RoomId, UserId
from conduwuit.db import MAPS, Batch, Database
from conduwuit.db.codec import from_u64, key, prefix, split, u64
from conduwuit.service.clock import Clock
from conduwuit.service.rooms.timeline import PduJson
from conduwuit.service.rooms.transactions import Txn
from conduwuit.service.tasks import BackgroundTasks

log = logging.getLogger(__name__)

#: Sends (or checks) an event as its user: (user, room, type, state_key, content) ->
#: event ID. The composition root routes member events through Membership and the
#: rest through RoomActions, as the state and send endpoints do.
SendAs = Callable[[UserId, RoomId, str, "str | None", dict[str, Any]], Awaitable[str]]
CheckAs = Callable[[UserId, RoomId, str, "str | None", dict[str, Any]], Awaitable[None]]


def new_delay_id() -> str:
    """An unguessable delay ID (it is the capability of the unauthenticated endpoints)."""
    return secrets.token_urlsafe(18)


def max_delay_exceeded(max_delay_ms: int) -> MatrixError:
    """Synapse's refusal of a delay over the maximum: M_UNKNOWN with the MSC4140
    errcode and the maximum as extra fields (what matrix-js-sdk and Element Call
    read to retry with the allowed maximum)."""
    extra: dict[str, Any] = {
        "org.matrix.msc4140.errcode": "M_MAX_DELAY_EXCEEDED",
        "org.matrix.msc4140.max_delay": max_delay_ms,
    }
    return MatrixError(
        ErrCode.UNKNOWN, "The requested delay exceeds the allowed maximum.", status=400, **extra
    )


@dataclass(frozen=True, slots=True)
class DelayedEvent:
    delay_id: str
    user_id: str
    room_id: str
    type: str
    state_key: str | None
    content: dict[str, Any]
    delay: int
    running_since: int

    @property
    def due(self) -> int:
        return self.running_since + self.delay

    def to_json(self) -> dict[str, Any]:
        """The stored record, and also the listing's entry once ``delay_id`` is added."""
        body: dict[str, Any] = {
            "room_id": self.room_id,
            "type": self.type,
            "content": self.content,
            "delay": self.delay,
            "running_since": self.running_since,
        }
        if self.state_key is not None:
            body["state_key"] = self.state_key
        return {"user_id": self.user_id, **body}

    def listing(self) -> dict[str, Any]:
        """One entry of GET /delayed_events (Synapse's fields)."""
        body = self.to_json()
        del body["user_id"]
        return {"delay_id": self.delay_id, **body}

    @classmethod
    def from_json(cls, delay_id: str, raw: bytes) -> DelayedEvent:
        d = json.loads(raw)
        return cls(
            delay_id=delay_id,
            user_id=d["user_id"],
            room_id=d["room_id"],
            type=d["type"],
            state_key=d.get("state_key"),
            content=d["content"],
            delay=int(d["delay"]),
            running_since=int(d["running_since"]),
        )


class DelayedEvents:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        send_as: SendAs,
        check_as: CheckAs,
        *,
        max_delay_ms: int,
    ) -> None:
        self._db = db
        self._clock = clock
        self._send_as = send_as
        self._check_as = check_as
        self.max_delay_ms = max_delay_ms
        self._events = db.map(MAPS.delayid_delayedevent)
        self._by_user = db.map(MAPS.userid_delayid)
        self._due = db.map(MAPS.duets_delayid)
        self._txns = db.map(MAPS.userdevicetxnid_delayid)
        self._tasks = BackgroundTasks()
        self._wake = asyncio.Event()
        self._running = False
        self._timer: asyncio.Task[None] | None = None

    # -- scheduling ------------------------------------------------------------------
    def for_txn(self, txn: Txn) -> str | None:
        """The delay ID an earlier request of this transaction got, if any."""
        raw = self._txns.get(txn.record_key())
        return raw.decode() if raw is not None else None

    def check_delay(self, delay: int) -> None:
        if delay > self.max_delay_ms:
            raise max_delay_exceeded(self.max_delay_ms)

    async def schedule(
        self,
        user: UserId,
        room: RoomId,
        event_type: str,
        state_key: str | None,
        content: dict[str, Any],
        delay: int,
        txn: Txn | None = None,
    ) -> str:
        """Store a delayed event after checking it as if sent now; its delay ID."""
        self.check_delay(delay)
        if txn is not None and (done := self.for_txn(txn)) is not None:
            return done
        await self._check_as(user, room, event_type, state_key, content)
        if txn is not None and (done := self.for_txn(txn)) is not None:
            return done  # the same transaction, scheduled while this one was checked
        event = DelayedEvent(
            delay_id=new_delay_id(),
            user_id=str(user),
            room_id=str(room),
            type=event_type,
            state_key=state_key,
            content=content,
            delay=delay,
            running_since=self._clock(),
        )
        with self._db.batch() as b:
            b.put(self._events, event.delay_id.encode(), json.dumps(event.to_json()).encode())
            b.put(self._by_user, key(event.user_id, event.delay_id), b"")
            b.put(self._due, key(event.due, event.delay_id), b"")
            if txn is not None:
                b.put(self._txns, txn.record_key(), event.delay_id.encode())
        log.info("delayed event %s of %s due in %d ms", event.delay_id, user, delay)
        self._wake.set()
        return event.delay_id

    # -- reading ---------------------------------------------------------------------
    def get(self, delay_id: str) -> DelayedEvent | None:
        raw = self._events.get(delay_id.encode())
        return DelayedEvent.from_json(delay_id, raw) if raw is not None else None

    def of_user(self, user_id: str) -> list[DelayedEvent]:
        """The user's scheduled events, the soonest due first."""
        found = []
        for k, _ in self._by_user.iter_prefix(prefix(user_id)):
            event = self.get(split(k)[-1].decode())
            if event is not None:
                found.append(event)
        return sorted(found, key=lambda e: (e.due, e.delay_id))

    def next_due(self) -> int | None:
        for k, _ in self._due.iter_prefix(b""):
            return from_u64(k[:8])
        return None

    # -- the actions -----------------------------------------------------------------
    def _owned(self, delay_id: str, user_id: str | None) -> DelayedEvent:
        """The delayed event, if it exists and (for an authenticated request) is the
        user's: someone else's delay ID is as unknown as a made-up one."""
        event = self.get(delay_id)
        if event is None or (user_id is not None and event.user_id != user_id):
            raise not_found("Delayed event not found")
        return event

    def _stage_remove(self, b: Batch, event: DelayedEvent) -> None:
        b.delete(self._events, event.delay_id.encode())
        b.delete(self._by_user, key(event.user_id, event.delay_id))
        b.delete(self._due, key(event.due, event.delay_id))

    def cancel(self, delay_id: str, user_id: str | None = None) -> None:
        event = self._owned(delay_id, user_id)
        with self._db.batch() as b:
            self._stage_remove(b, event)
        log.info("delayed event %s cancelled", delay_id)

    def restart(self, delay_id: str, user_id: str | None = None) -> None:
        """Run its delay again from now (Element Call's heartbeat)."""
        event = self._owned(delay_id, user_id)
        restarted = dataclasses.replace(event, running_since=self._clock())
        with self._db.batch() as b:
            b.delete(self._due, key(event.due, event.delay_id))
            b.put(self._events, delay_id.encode(), json.dumps(restarted.to_json()).encode())
            b.put(self._due, key(restarted.due, delay_id), b"")
        self._wake.set()

    async def send_now(self, delay_id: str, user_id: str | None = None) -> str:
        """Send it now; the pipeline's refusal goes to the caller (the delayed event
        is gone either way, as in Synapse)."""
        event = self._owned(delay_id, user_id)
        self._pop(event)
        return await self._send(event)

    def _pop(self, event: DelayedEvent) -> None:
        with self._db.batch() as b:
            self._stage_remove(b, event)

    async def _send(self, event: DelayedEvent) -> str:
        return await self._send_as(
            UserId.parse(event.user_id),
            RoomId.parse(event.room_id),
            event.type,
            event.state_key,
            event.content,
        )

    # -- state sent by the user cancels their delayed state for it ------------------
    def stage_event(self, b: Batch, pdu: PduJson, count: int, before: int) -> None:
        """Persist listener: a state event cancels its sender's pending delayed
        events for the same (room, type, state_key), in the event's own batch."""
        state_key, sender = pdu.get("state_key"), pdu.get("sender")
        if not isinstance(state_key, str) or not isinstance(sender, str):
            return
        for k, _ in self._by_user.iter_prefix(prefix(sender)):
            event = self.get(split(k)[-1].decode())
            if (
                event is not None
                and event.room_id == pdu.get("room_id")
                and event.type == pdu.get("type")
                and event.state_key == state_key
            ):
                self._stage_remove(b, event)
                log.info("delayed event %s cancelled by %s", event.delay_id, pdu.get("event_id"))

    # -- the timer -------------------------------------------------------------------
    async def fire_due(self) -> int:
        """Send every event due by now, the earliest first; how many were due.

        Each is removed before it is sent: a refusal (the user left, lost the power
        to send it) is logged and the delayed event dropped, as in Synapse.
        """
        fired = 0
        while True:
            now = self._clock()
            due = next(iter(self._due.iter_range(None, u64(now + 1))), None)
            if due is None:
                return fired
            event = self.get(due[0][9:].decode())
            if event is None:  # a stray due row: drop it
                with self._db.batch() as b:
                    b.delete(self._due, due[0])
                continue
            self._pop(event)
            fired += 1
            try:
                event_id = await self._send(event)
            except MatrixError as exc:
                log.warning(
                    "delayed event %s of %s dropped: %s %s",
                    event.delay_id,
                    event.user_id,
                    exc.errcode,
                    exc.message,
                )
            except Exception:
                log.exception("delayed event %s of %s failed", event.delay_id, event.user_id)
            else:
                log.info("delayed event %s sent as %s", event.delay_id, event_id)

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            await self.fire_due()
            due = self.next_due()
            timeout = None if due is None else max(0, due - self._clock()) / 1000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def start(self) -> None:
        """Send what fell due while the server was down, then wait for the next."""
        if not self._running:
            self._running = True
            self._timer = self._tasks.spawn("delayed-events", self._run())

    async def stop(self) -> None:
        self._running = False
        await self._tasks.stop()

    @property
    def running(self) -> bool:
        return self._running
