"""Client transaction IDs of room events (client-server API "Transaction identifiers").

"The scope of a transaction ID is for a single device, and a single HTTP path": a
request is a retransmission when the same device sends the same txnId to the same
path. The same txnId sent to two rooms, or with two event types, is two requests
and makes two events. A retransmission returns the first request's event ID.

Two records, both written in the batch of the event they concern:

- ``userdevicetxnid_response``: (user, device, path, txnId) -> event ID, for
  idempotent sends;
- ``eventid_devicetxnid``: event ID -> (device, txnId), so the sending device sees
  ``unsigned.transaction_id`` on its own event. Events stored before this map
  existed carry the same record inside their JSON as ``_txn``; it is still read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from conduwuit.db import MAPS, Batch, Database
from conduwuit.db.codec import key, split


@dataclass(frozen=True, slots=True)
class Txn:
    """One client transaction: the device that sent it, the path it went to and its
    txnId. ``path`` is the request path after the API version prefix and without the
    txnId (``/rooms/!r:x/send/m.room.message``): like Synapse, which keys its
    transaction cache by request path and device; unlike Synapse, ``/r0/`` and
    ``/v3/`` spellings of one path are one path."""

    user_id: str
    device_id: str
    path: str
    txn_id: str

    @classmethod
    def send(cls, user_id: str, device_id: str, room_id: str, event_type: str, txn_id: str) -> Txn:
        """PUT /rooms/{roomId}/send/{eventType}/{txnId}."""
        return cls(user_id, device_id, f"/rooms/{room_id}/send/{event_type}", txn_id)

    @classmethod
    def redact(cls, user_id: str, device_id: str, room_id: str, event_id: str, txn_id: str) -> Txn:
        """PUT /rooms/{roomId}/redact/{eventId}/{txnId}."""
        return cls(user_id, device_id, f"/rooms/{room_id}/redact/{event_id}", txn_id)

    def record_key(self) -> bytes:
        return key(self.user_id, self.device_id, self.path, self.txn_id)


class Transactions:
    def __init__(self, db: Database) -> None:
        self._responses = db.map(MAPS.userdevicetxnid_response)
        self._events = db.map(MAPS.eventid_devicetxnid)

    def event_for(self, txn: Txn) -> str | None:
        """The event an earlier request of this transaction created, if any."""
        raw = self._responses.get(txn.record_key())
        return raw.decode() if raw is not None else None

    def record(self, batch: Batch, txn: Txn, event_id: str) -> None:
        batch.put(self._responses, txn.record_key(), event_id.encode())
        batch.put(self._events, event_id.encode(), key(txn.device_id, txn.txn_id))

    def transaction_id(self, pdu: Mapping[str, Any], viewer: tuple[str, str] | None) -> str | None:
        """The txnId to show ``viewer`` (user ID, device ID) on ``pdu``: only the
        device that sent the event sees it (spec: "unsigned.transaction_id")."""
        if viewer is None or pdu.get("sender") != viewer[0]:
            return None
        event_id = pdu.get("event_id")
        raw = self._events.get(event_id.encode()) if isinstance(event_id, str) else None
        if raw is not None:
            device_id, txn_id = (p.decode() for p in split(raw))
        else:
            legacy = pdu.get("_txn")
            if not (isinstance(legacy, list) and len(legacy) == 2):
                return None
            device_id, txn_id = legacy
        return txn_id if device_id == viewer[1] else None
