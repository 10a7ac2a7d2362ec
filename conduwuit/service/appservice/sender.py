"""The appservice sender: events to the application services interested in them
(Application Service API, "Pushing events"), in ``PUT
/_matrix/app/v1/transactions/{txnId}`` transactions.

**Queue** (:mod:`conduwuit.service.outgoing_queue`, shared with the federation sender,
over the ``appserviceid_outgoing`` map): an event is queued *in its own batch* (a
persist listener), so a committed event is delivered even across a restart; one task
per service sends its queue oldest first, one transaction at a time, with a
transaction ID derived from the queue keys so a retry (also after a restart) carries
the same ID and the service can de-duplicate. A transaction carries at most
``MAX_EVENTS`` events (Synapse's limit). Any failure (unreachable, timeout, non-2xx
answer) is retried after a backoff doubling from ``retry_base_s`` to ``retry_max_s``:
the spec asks the homeserver to retry until the service acknowledges. A queue keeps at
most ``queue_limit`` entries; beyond, the oldest are dropped and logged. Unregistering
a service drops its queue.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from conduwuit.core.appservice import AppserviceRegistration, interested_in_event
from conduwuit.core.client_event import to_client
from conduwuit.db import MAPS, Batch, Database
from conduwuit.service.appservice.client import AppserviceClient, AppserviceUnreachable, app_path
from conduwuit.service.appservice.registry import Appservices
from conduwuit.service.backoff import Backoff
from conduwuit.service.clock import Clock, monotonic_clock
from conduwuit.service.outgoing_queue import Outcome, OutgoingQueue, QueueItem
from conduwuit.service.rooms.aliases import Aliases
from conduwuit.service.rooms.member_index import MemberIndex
from conduwuit.service.rooms.timeline import PduJson, Timeline

log = logging.getLogger(__name__)

#: Events per transaction (Synapse sends up to 100).
MAX_EVENTS = 100
QUEUE_LIMIT = 10_000
#: The queue entry kind (a value's first byte) of an event: an entry is the event ID,
#: whose first byte is always ``$``.
_EVENT = b"$"


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
        self._backoff = Backoff(monotonic_clock)
        self._queue = OutgoingQueue(
            db,
            MAPS.appserviceid_outgoing,
            "appservice",
            self,
            {_EVENT: MAX_EVENTS},
            settings.queue_limit,
        )
        appservices.registered_listeners.append(self._queue.wake)
        appservices.unregistered_listeners.append(self._drop)

    # -- who gets what -----------------------------------------------------------------
    def _senders(self) -> list[AppserviceRegistration]:
        return [reg for reg in self._appservices.all() if reg.url is not None]

    # -- staging (in the batch of what is sent) ----------------------------------------
    def stage_event(self, b: Batch, pdu: PduJson, count: int, before: int) -> None:
        """Persist listener: queue the event for every interested service with a url."""
        room_id = str(pdu.get("room_id", ""))
        wanted = [
            reg.id
            for reg in self._senders()
            if interested_in_event(
                reg,
                pdu,
                lambda: self._aliases.of_room(room_id),
                lambda: self._members.members(room_id),
            )
        ]
        self._queue.stage(b, wanted, str(pdu["event_id"]).encode(), count)

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        """Count each service's queue and send what a previous run left."""
        self._backoff = Backoff(
            monotonic_clock,
            base_ms=int(self.settings.retry_base_s * 1000),
            max_ms=int(self.settings.retry_max_s * 1000),
        )
        self._queue.limit = self.settings.queue_limit
        for as_id in self._queue.start():
            if self._appservices.get(as_id) is None:
                self._drop(as_id)
            else:
                self._queue.wake(as_id)

    async def stop(self) -> None:
        await self._queue.stop()
        await self._client.close()

    def pending(self, as_id: str) -> int:
        return self._queue.pending(as_id)

    def _drop(self, as_id: str) -> None:
        self._queue.trim(as_id, 0)
        self._backoff.succeeded(as_id)

    # -- the transport of the queue ----------------------------------------------------
    def build(self, destination: str, items: Sequence[QueueItem]) -> dict[str, Any]:
        now = self._clock()
        events: list[dict[str, Any]] = []
        for item in items:
            pdu = self._timeline.get((item.kind + item.payload).decode())
            if pdu is not None:
                events.append(to_client(pdu, now))
        return {"events": events}

    def retry_in_s(self, destination: str) -> float:
        return self._backoff.retry_in_s(destination)

    async def deliver(self, destination: str, txn_id: str, body: Any) -> Outcome:
        reg = self._appservices.get(destination)
        if reg is None or reg.url is None:
            return Outcome.ABANDON
        path = app_path("transactions", txn_id)
        try:
            status, _ = await self._client.request(reg, "PUT", path, body)
        except AppserviceUnreachable as exc:
            log.info("transaction %s to appservice %s failed: %s", txn_id, reg.id, exc)
            self._backoff.failed(destination)
            return Outcome.RETRY
        if not 200 <= status < 300:
            log.info("appservice %s answered %d to transaction %s", reg.id, status, txn_id)
            self._backoff.failed(destination)
            return Outcome.RETRY
        self._backoff.succeeded(destination)
        return Outcome.SENT
