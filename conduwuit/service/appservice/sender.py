"""The appservice sender: events to the application services interested in them
(Application Service API, "Pushing events"), in ``PUT
/_matrix/app/v1/transactions/{txnId}`` transactions of at most ``MAX_EVENTS``.

It follows the federation sender (service/federation/sender.py): an event is queued
in ``appserviceid_outgoing`` *in its own batch* (a persist listener), so a committed
event is delivered even across a restart; one task per service sends its queue oldest
first, one transaction at a time, with a transaction ID derived from the queue keys so
a retry (also after a restart) carries the same ID and the service can de-duplicate.
Any failure (unreachable, timeout, non-2xx answer) is retried after a wait doubling
from ``retry_base_s`` to ``retry_max_s``: the spec asks the homeserver to retry until
the service acknowledges. A queue keeps at most ``queue_limit`` events; beyond, the
oldest are dropped and logged. Unregistering a service drops its queue.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from conduwuit.core.appservice import AppserviceRegistration, interested_in_event
from conduwuit.core.client_event import to_client
from conduwuit.db import MAPS, Batch, Database
from conduwuit.db.codec import key, prefix, u64
from conduwuit.service.appservice.client import AppserviceClient, AppserviceUnreachable, app_path
from conduwuit.service.appservice.registry import Appservices
from conduwuit.service.clock import Clock
from conduwuit.service.federation.sender import txn_id_for
from conduwuit.service.rooms.aliases import Aliases
from conduwuit.service.rooms.member_index import MemberIndex
from conduwuit.service.rooms.timeline import PduJson, Timeline
from conduwuit.service.tasks import BackgroundTasks

log = logging.getLogger(__name__)

#: Events per transaction (Synapse sends up to 100).
MAX_EVENTS = 100
QUEUE_LIMIT = 10_000


@dataclass(frozen=True)
class AppserviceSenderSettings:
    retry_base_s: float = 1.0
    retry_max_s: float = 300.0
    queue_limit: int = QUEUE_LIMIT


class AppserviceSender:
    def __init__(
        self,
        db: Database,
        appservices: Appservices,
        timeline: Timeline,
        members: MemberIndex,
        aliases: Aliases,
        client: AppserviceClient,
        clock: Clock,
        settings: AppserviceSenderSettings,
    ) -> None:
        self._db = db
        self._appservices = appservices
        self._timeline = timeline
        self._members = members
        self._aliases = aliases
        self._client = client
        self._clock = clock
        self.settings = settings
        self._queue = db.map(MAPS.appserviceid_outgoing)
        self._sizes: dict[str, int] = {}
        self._busy: set[str] = set()
        self._tasks = BackgroundTasks()
        self._running = False
        appservices.registered_listeners.append(self._wake)
        appservices.unregistered_listeners.append(self._drop)

    # -- staging (in the batch of the event) -------------------------------------------
    def stage_event(self, b: Batch, pdu: PduJson, count: int, before: int) -> None:
        """Persist listener: queue the event for every interested service with a url."""
        room_id = str(pdu.get("room_id", ""))
        wanted = [
            reg.id
            for reg in self._appservices.all()
            if reg.url is not None
            and interested_in_event(
                reg,
                pdu,
                lambda: self._aliases.of_room(room_id),
                lambda: self._members.members(room_id),
            )
        ]
        if not wanted:
            return
        for as_id in wanted:
            b.put(self._queue, key(as_id, u64(count)), str(pdu["event_id"]).encode())
        b.after_commit(lambda: self._queued(wanted))

    def _queued(self, ids: list[str]) -> None:
        for as_id in ids:
            self._sizes[as_id] = self._sizes.get(as_id, 0) + 1
            if self._sizes[as_id] > self.settings.queue_limit:
                self._trim(as_id, self.settings.queue_limit)
            self._wake(as_id)

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        """Count each service's queue and send what a previous run left."""
        self._running = True
        sizes: dict[str, int] = {}
        for k, _ in self._queue.iter_prefix(b""):
            as_id = k[:-9].decode()
            sizes[as_id] = sizes.get(as_id, 0) + 1
        self._sizes = sizes
        for as_id in sizes:
            if self._appservices.get(as_id) is None:
                self._drop(as_id)
            else:
                self._wake(as_id)

    async def stop(self) -> None:
        self._running = False
        await self._tasks.stop()
        self._busy.clear()
        await self._client.close()

    def pending(self, as_id: str) -> int:
        return self._sizes.get(as_id, 0)

    # -- the queue ---------------------------------------------------------------------
    def _trim(self, as_id: str, keep: int) -> None:
        entries = [k for k, _ in self._queue.iter_prefix(prefix(as_id))]
        drop = entries[: max(0, len(entries) - keep)]
        if not drop:
            return
        with self._db.batch() as b:
            for k in drop:
                b.delete(self._queue, k)
        self._sizes[as_id] = len(entries) - len(drop)
        log.warning("appservice queue of %s over its bound: %d oldest dropped", as_id, len(drop))

    def _drop(self, as_id: str) -> None:
        self._trim(as_id, 0)
        self._sizes.pop(as_id, None)

    def _next_batch(self, as_id: str) -> list[tuple[bytes, str]]:
        out: list[tuple[bytes, str]] = []
        for k, v in self._queue.iter_prefix(prefix(as_id)):
            out.append((k, v.decode()))
            if len(out) == MAX_EVENTS:
                break
        return out

    def _acknowledged(self, as_id: str, keys: list[bytes]) -> None:
        with self._db.batch() as b:
            for k in keys:
                b.delete(self._queue, k)
        self._sizes[as_id] = max(0, self._sizes.get(as_id, 0) - len(keys))

    def _transaction(self, items: list[tuple[bytes, str]]) -> dict[str, Any]:
        now = self._clock()
        events = []
        for _, event_id in items:
            pdu = self._timeline.get(event_id)
            if pdu is not None:
                events.append(to_client(pdu, now))
        return {"events": events}

    # -- delivery ----------------------------------------------------------------------
    def _wake(self, as_id: str) -> None:
        if not self._running or as_id in self._busy or not self._sizes.get(as_id):
            return
        self._busy.add(as_id)
        _ = self._tasks.spawn(f"appservice-sender {as_id}", self._drain(as_id))

    async def _drain(self, as_id: str) -> None:
        try:
            await self._send_all(as_id)
        finally:
            self._busy.discard(as_id)

    async def _send_all(self, as_id: str) -> None:
        delay = self.settings.retry_base_s
        while self._running:
            reg = self._appservices.get(as_id)
            items = self._next_batch(as_id)
            if reg is None or not items:
                return
            if await self._send(reg, items):
                self._acknowledged(as_id, [k for k, _ in items])
                delay = self.settings.retry_base_s
                continue
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.settings.retry_max_s)

    async def _send(self, reg: AppserviceRegistration, items: list[tuple[bytes, str]]) -> bool:
        txn_id = txn_id_for([k for k, _ in items])
        path = app_path("transactions", txn_id)
        try:
            status, _ = await self._client.request(reg, "PUT", path, self._transaction(items))
        except AppserviceUnreachable as exc:
            log.info("transaction %s to appservice %s failed: %s", txn_id, reg.id, exc)
            return False
        if not 200 <= status < 300:
            log.info("appservice %s answered %d to transaction %s", reg.id, status, txn_id)
            return False
        return True
