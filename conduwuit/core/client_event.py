"""Events as clients see them (client-server API "Room event format" / ClientEvent).

Stored PDUs carry federation-only fields (hashes, signatures, auth and prev
events, depth) and the server's ``_txn`` record; clients get the event fields
plus ``unsigned.age`` and, for the device that sent it, ``unsigned.transaction_id``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_CLIENT_KEYS = ("content", "event_id", "origin_server_ts", "room_id", "sender", "type")


def to_client(
    pdu: Mapping[str, Any],
    now_ms: int,
    device: tuple[str, str] | None = None,
    *,
    include_room_id: bool = True,
) -> dict[str, Any]:
    """``device`` is ``(user_id, device_id)`` of the viewer, for ``transaction_id``."""
    out = {k: pdu[k] for k in _CLIENT_KEYS if k in pdu}
    if not include_room_id:
        out.pop("room_id", None)
    if "state_key" in pdu:
        out["state_key"] = pdu["state_key"]
    if pdu.get("type") == "m.room.redaction":
        # v11 moved redacts into content; clients still read the top-level key too.
        redacts = pdu.get("redacts") or (pdu.get("content") or {}).get("redacts")
        if isinstance(redacts, str):
            out["redacts"] = redacts
    unsigned = dict(pdu.get("unsigned") or {})
    unsigned.pop("prev_sender", None)
    because = unsigned.get("redacted_because")
    if isinstance(because, dict):
        unsigned["redacted_because"] = to_client(because, now_ms)
    ts = pdu.get("origin_server_ts")
    if isinstance(ts, int):
        unsigned["age"] = max(0, now_ms - ts)
    txn = pdu.get("_txn")
    if (
        device is not None
        and isinstance(txn, list)
        and pdu.get("sender") == device[0]
        and txn[0] == device[1]
    ):
        unsigned["transaction_id"] = txn[1]
    out["unsigned"] = unsigned
    return out


def stripped_state(pdu: Mapping[str, Any]) -> dict[str, Any]:
    return {k: pdu[k] for k in ("type", "state_key", "content", "sender") if k in pdu}
