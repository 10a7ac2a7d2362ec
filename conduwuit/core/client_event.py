"""Events as clients see them (client-server API "Room event format" / ClientEvent).

Stored PDUs carry federation-only fields (hashes, signatures, auth and prev
events, depth), and old records the server's ``_txn``; clients get the event fields
plus ``unsigned.age`` and, for the device that sent it, ``unsigned.transaction_id``
(which the caller looks up: the transaction is stored beside the event).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conduwuit.core.event_types import EventType

_CLIENT_KEYS = ("content", "event_id", "origin_server_ts", "room_id", "sender", "type")


def to_client(
    pdu: Mapping[str, Any],
    now_ms: int,
    transaction_id: str | None = None,
    *,
    include_room_id: bool = True,
) -> dict[str, Any]:
    """``transaction_id`` is given when the viewer is the device that sent the event."""
    out = {k: pdu[k] for k in _CLIENT_KEYS if k in pdu}
    room_id = room_of(pdu)
    if room_id is not None:
        # Clients get a v12 create event's room ID too (ClientEvent requires it), as
        # Synapse serves it.
        out["room_id"] = room_id
    if not include_room_id:
        out.pop("room_id", None)
    if "state_key" in pdu:
        out["state_key"] = pdu["state_key"]
    if pdu.get("type") == EventType.REDACTION:
        # v11 moved redacts into content; clients still read the top-level key too.
        redacts = pdu.get("redacts") or (pdu.get("content") or {}).get("redacts")
        if isinstance(redacts, str):
            out["redacts"] = redacts
    # prev_sender (beside prev_content) is not in the spec's UnsignedData; Synapse
    # serves it and clients (and Complement) read it, so it is served too.
    unsigned = dict(pdu.get("unsigned") or {})
    because = unsigned.get("redacted_because")
    if isinstance(because, dict):
        unsigned["redacted_because"] = to_client(because, now_ms)
    ts = pdu.get("origin_server_ts")
    if isinstance(ts, int):
        unsigned["age"] = max(0, now_ms - ts)
    if transaction_id is not None:
        unsigned["transaction_id"] = transaction_id
    out["unsigned"] = unsigned
    return out


def room_of(pdu: Mapping[str, Any]) -> str | None:
    """The room of a stored PDU (one with its ``event_id``): its ``room_id``, or for a
    room version 12 create event, which carries none, its event ID with "!" for "$"
    (rooms/v12)."""
    room_id = pdu.get("room_id")
    if isinstance(room_id, str):
        return room_id
    event_id = pdu.get("event_id")
    if pdu.get("type") == EventType.CREATE and isinstance(event_id, str):
        if event_id.startswith("$"):
            return "!" + event_id[1:]
    return None


def stripped_state(pdu: Mapping[str, Any]) -> dict[str, Any]:
    return {k: pdu[k] for k in ("type", "state_key", "content", "sender") if k in pdu}
