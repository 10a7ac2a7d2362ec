"""The appservice sender: events, and ephemeral data for the services that asked for
it, to the application services interested in them (Application Service API,
"Pushing events" and "Pushing ephemeral data"), in ``PUT
/_matrix/app/v1/transactions/{txnId}`` transactions.

**Queue** (:mod:`conduwuit.service.outgoing_queue`, shared with the federation sender,
over the ``appserviceid_outgoing`` map): an event is queued *in its own batch* (a
persist listener), so a committed event is delivered even across a restart; one task
per service sends its queue oldest first, one transaction at a time, with a
transaction ID derived from the queue keys so a retry (also after a restart) carries
the same ID and the service can de-duplicate. A transaction carries at most
``MAX_EVENTS`` events, ``MAX_EPHEMERAL`` ephemeral events and ``MAX_TO_DEVICE``
to-device messages (Synapse's limits). Any failure (unreachable, timeout, non-2xx
answer) is retried after a backoff doubling from ``retry_base_s`` to ``retry_max_s``:
the spec asks the homeserver to retry until the service acknowledges. A queue keeps at
most ``queue_limit`` entries; beyond, the oldest are dropped and logged. Unregistering
a service drops its queue.

**Ephemeral data** (MSC2409, spec v1.13 "Pushing ephemeral data"), only for services
whose registration has ``receive_ephemeral`` (or MSC2409's unstable
``de.sorunome.msc2409.push_ephemeral``), each queued in the batch of the change:

- ``m.typing`` (with the room's typing users, as in /sync, and ``room_id``) and
  ``m.receipt`` (``room_id`` added) for rooms the service is interested in (as for
  events: the room ID, an alias or a member in its namespaces); private read
  receipts only of users in its namespace;
- ``m.presence`` of a user in its namespace, or sharing a room it is interested in
  (Synapse's ``is_interested_in_presence``);
- to-device messages stored for a device of a user in its namespace, with
  ``to_user_id`` and ``to_device_id`` (MSC4203; the messages also stay in the
  device's inbox), as Synapse sends them.

The transaction carries them under ``ephemeral`` and ``de.sorunome.msc2409.to_device``
(for the unstable registration key: ``de.sorunome.msc2409.ephemeral``), as Synapse
does; each is left out when empty (the spec allows it).

**MSC3202** (encrypting bridges), for services whose registration has
``org.matrix.msc3202: true``, with Synapse's unstable keys:

- ``org.matrix.msc3202.device_lists``: ``{"changed": [...], "left": []}``, users
  whose devices or keys changed (queued in the change's batch) if the service is
  interested in them: in its namespace, or in a room it is interested in
  (Synapse's ``_is_appservice_interested_in_device_lists_of_user``). Like Synapse,
  "left" is never filled: a bridge stops tracking on the leaves it sees.
- ``org.matrix.msc3202.device_one_time_key_counts`` (and the older
  ``…device_one_time_keys_count``) and ``…device_unused_fallback_key_types``, read
  when the transaction is built, for every device of the sender, the service's
  users joined to the rooms of the transaction's events and ephemeral events, and
  the recipients of its to-device messages (Synapse's
  ``_compute_msc3202_otk_counts_and_fallback_keys``). As there, a change of counts
  alone sends no transaction.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from conduwuit.core.appservice import (
    AppserviceRegistration,
    interested_in_event,
    interested_in_room,
)
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
from conduwuit.service.rooms.typing import Typing

log = logging.getLogger(__name__)

#: Per transaction (Synapse sends up to 100 of each).
MAX_EVENTS = 100
MAX_EPHEMERAL = 100
MAX_TO_DEVICE = 100
#: Users of MSC3202's ``device_lists.changed`` per transaction.
MAX_DEVICE_LISTS = 100
QUEUE_LIMIT = 10_000
#: Queue entry kinds (a value's first byte). An event entry is its event ID, whose
#: first byte is always ``$`` (so entries written before there were other kinds read
#: as events); the others are a kind byte and the JSON to send.
_EVENT = b"$"
_EPHEMERAL = b"e"
_TO_DEVICE = b"d"
_DEVICE_LIST = b"l"
#: Where the transaction carries them (MSC2409; Synapse's keys).
EPHEMERAL = "ephemeral"
UNSTABLE_EPHEMERAL = "de.sorunome.msc2409.ephemeral"
UNSTABLE_TO_DEVICE = "de.sorunome.msc2409.to_device"
#: MSC3202's (Synapse sends the one-time key counts under both spellings).
MSC3202_DEVICE_LISTS = "org.matrix.msc3202.device_lists"
MSC3202_OTK_COUNTS = (
    "org.matrix.msc3202.device_one_time_key_counts",
    "org.matrix.msc3202.device_one_time_keys_count",
)
MSC3202_FALLBACK_KEYS = "org.matrix.msc3202.device_unused_fallback_key_types"


class DeviceKeyCounts(Protocol):
    """What MSC3202 reads of a device's keys (service/e2ee/device_keys.py)."""

    def one_time_key_counts(self, user_id: str, device_id: str) -> dict[str, int]: ...

    def unused_fallback_key_types(self, user_id: str, device_id: str) -> list[str]: ...


@dataclass(frozen=True)
class KeyCountReader:
    """A user's device IDs and their key counts, for MSC3202 transactions."""

    device_ids: Callable[[str], list[str]]
    keys: DeviceKeyCounts


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
        typing: Typing,
        client: AppserviceClient,
        clock: Clock,
        settings: AppserviceSenderSettings,
        key_counts: KeyCountReader | None = None,
    ) -> None:
        self._db = db
        self._key_counts = key_counts
        self._appservices = appservices
        self._timeline = timeline
        self._members = members
        self._aliases = aliases
        self._typing = typing
        self._client = client
        self._clock = clock
        self.settings = settings
        self._backoff = Backoff(monotonic_clock)
        self._queue = OutgoingQueue(
            db,
            MAPS.appserviceid_outgoing,
            "appservice",
            self,
            {
                _EVENT: MAX_EVENTS,
                _EPHEMERAL: MAX_EPHEMERAL,
                _TO_DEVICE: MAX_TO_DEVICE,
                _DEVICE_LIST: MAX_DEVICE_LISTS,
            },
            settings.queue_limit,
        )
        appservices.registered_listeners.append(self._queue.wake)
        appservices.unregistered_listeners.append(self._drop)

    # -- who gets what -----------------------------------------------------------------
    def _senders(self) -> list[AppserviceRegistration]:
        return [reg for reg in self._appservices.all() if reg.url is not None]

    def _ephemeral_senders(self) -> list[AppserviceRegistration]:
        return [reg for reg in self._senders() if reg.receive_ephemeral]

    def _wants_room(self, reg: AppserviceRegistration, room_id: str) -> bool:
        return interested_in_room(
            reg,
            room_id,
            lambda: self._aliases.of_room(room_id),
            lambda: self._members.members(room_id),
        )

    def _wants_user(self, reg: AppserviceRegistration, user_id: str) -> bool:
        return reg.is_user_of(user_id, self._appservices.server_name)

    def _watching(self, regs: list[AppserviceRegistration], user_id: str) -> list[str]:
        """The IDs of ``regs`` interested in a user: in a namespace, or joined to a
        room the service is interested in (Synapse's ``is_interested_in_presence``
        and ``_is_appservice_interested_in_device_lists_of_user``)."""
        if not regs:
            return []
        rooms = [room.room_id for room in self._members.rooms_of(user_id)]
        return [
            reg.id
            for reg in regs
            if self._wants_user(reg, user_id) or any(self._wants_room(reg, r) for r in rooms)
        ]

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

    def _stage_ephemeral(self, b: Batch, ids: list[str], kind: bytes, event: Any) -> None:
        if ids:
            self._queue.stage(b, ids, kind + json.dumps(event).encode(), b.next_count())

    def typing_changed(self, room_id: str, user_id: str, typing: bool) -> None:
        """Typing listener: the room's ``m.typing`` for the services interested in it."""
        ids = [reg.id for reg in self._ephemeral_senders() if self._wants_room(reg, room_id)]
        if not ids:
            return
        users = self._typing.typing_users(room_id)
        event = {"type": "m.typing", "room_id": room_id, "content": {"user_ids": users}}
        with self._db.batch() as b:
            self._stage_ephemeral(b, ids, _EPHEMERAL, event)

    def _stage_receipt(
        self,
        b: Batch,
        user_id: str,
        room_id: str,
        thread_id: str | None,
        event_id: str,
        *,
        private: bool,
    ) -> None:
        ids = [
            reg.id
            for reg in self._ephemeral_senders()
            if (self._wants_user(reg, user_id) if private else self._wants_room(reg, room_id))
        ]
        receipt: dict[str, Any] = {"ts": self._clock()}
        if thread_id is not None:
            receipt["thread_id"] = thread_id
        receipt_type = "m.read.private" if private else "m.read"
        content = {event_id: {receipt_type: {user_id: receipt}}}
        event = {"type": "m.receipt", "room_id": room_id, "content": content}
        self._stage_ephemeral(b, ids, _EPHEMERAL, event)

    def stage_public_receipt(
        self, b: Batch, user_id: str, room_id: str, thread_id: str | None, event_id: str, n: int
    ) -> None:
        """Public receipt listener: ``m.receipt`` for the services interested in the room."""
        self._stage_receipt(b, user_id, room_id, thread_id, event_id, private=False)

    def stage_private_receipt(
        self, b: Batch, user_id: str, room_id: str, thread_id: str | None, event_id: str, n: int
    ) -> None:
        """Private receipt listener: only for services whose namespace has the user."""
        self._stage_receipt(b, user_id, room_id, thread_id, event_id, private=True)

    def stage_presence(self, b: Batch, user_id: str, content: dict[str, Any]) -> None:
        """Presence listener: ``m.presence`` for the services interested in the user."""
        ids = self._watching(self._ephemeral_senders(), user_id)
        event = {"type": "m.presence", "sender": user_id, "content": content}
        self._stage_ephemeral(b, ids, _EPHEMERAL, event)

    def stage_to_device(
        self, b: Batch, user_id: str, device_id: str, event: dict[str, Any]
    ) -> None:
        """To-device listener: a message for a device of a service's user (MSC4203)."""
        ids = [reg.id for reg in self._ephemeral_senders() if self._wants_user(reg, user_id)]
        message = {**event, "to_user_id": user_id, "to_device_id": device_id}
        self._stage_ephemeral(b, ids, _TO_DEVICE, message)

    def stage_device_list_change(self, b: Batch, user_id: str) -> None:
        """Device-list listener: MSC3202's ``changed`` for the services interested."""
        ids = self._watching([reg for reg in self._senders() if reg.msc3202], user_id)
        if ids:
            self._queue.stage(b, ids, _DEVICE_LIST + user_id.encode(), b.next_count())

    def _key_count_fields(
        self,
        reg: AppserviceRegistration,
        rooms: set[str],
        recipients: set[str],
    ) -> dict[str, Any]:
        """MSC3202's one-time key counts and unused fallback key types of the users
        the transaction may concern (see the module docstring)."""
        if self._key_counts is None:
            return {}
        server_name = self._appservices.server_name
        users = {reg.sender(server_name), *recipients}
        for room_id in rooms:
            users.update(
                u for u in self._members.members(room_id) if reg.is_user_of(u, server_name)
            )
        counts: dict[str, dict[str, dict[str, int]]] = {}
        fallback: dict[str, dict[str, list[str]]] = {}
        keys = self._key_counts.keys
        for user_id in sorted(users):
            for device_id in self._key_counts.device_ids(user_id):
                counts.setdefault(user_id, {})[device_id] = keys.one_time_key_counts(
                    user_id, device_id
                )
                fallback.setdefault(user_id, {})[device_id] = keys.unused_fallback_key_types(
                    user_id, device_id
                )
        out: dict[str, Any] = {}
        if counts:
            out.update(dict.fromkeys(MSC3202_OTK_COUNTS, counts))
        if fallback:
            out[MSC3202_FALLBACK_KEYS] = fallback
        return out

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
        ephemeral: list[Any] = []
        to_device: list[Any] = []
        changed: set[str] = set()
        for item in items:
            if item.kind == _EPHEMERAL:
                ephemeral.append(json.loads(item.payload))
            elif item.kind == _TO_DEVICE:
                to_device.append(json.loads(item.payload))
            elif item.kind == _DEVICE_LIST:
                changed.add(item.payload.decode())
            else:
                pdu = self._timeline.get((item.kind + item.payload).decode())
                if pdu is not None:
                    events.append(to_client(pdu, now))
        body: dict[str, Any] = {"events": events}
        reg = self._appservices.get(destination)
        if reg is not None and reg.receive_ephemeral:
            if ephemeral:
                body[UNSTABLE_EPHEMERAL if reg.ephemeral_unstable else EPHEMERAL] = ephemeral
            if to_device:
                body[UNSTABLE_TO_DEVICE] = to_device
        if reg is not None and reg.msc3202:
            if changed:
                body[MSC3202_DEVICE_LISTS] = {"changed": sorted(changed), "left": []}
            rooms = {str(e["room_id"]) for e in (*events, *ephemeral) if "room_id" in e}
            recipients = {str(m["to_user_id"]) for m in to_device}
            body.update(self._key_count_fields(reg, rooms, recipients))
        return body

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
