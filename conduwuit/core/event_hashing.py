"""Content hashes, reference hashes and event IDs (server-server API: "Signing
events", "Calculating the reference hash for an event"; rooms/: "Event IDs").
"""

from __future__ import annotations

import hashlib
from typing import Any

from conduwuit.core import base64 as b64
from conduwuit.core import canonical_json
from conduwuit.core.redaction import redact
from conduwuit.core.room_versions import EventFormat, RoomVersion


class HashMismatchError(ValueError):
    """The content hash on an event does not match its content."""


def _encode(obj: dict[str, Any], room_version: RoomVersion) -> bytes:
    if room_version.strict_canonical_json:
        return canonical_json.encode(obj)
    return canonical_json.encode_lenient(obj)


def content_hash(event: dict[str, Any], room_version: RoomVersion) -> bytes:
    """sha256 over the canonical JSON of the event without unsigned/signatures/hashes."""
    stripped = {k: v for k, v in event.items() if k not in ("unsigned", "signatures", "hashes")}
    return hashlib.sha256(_encode(stripped, room_version)).digest()


def add_content_hash(event: dict[str, Any], room_version: RoomVersion) -> dict[str, Any]:
    """A copy of ``event`` with ``hashes.sha256`` set."""
    hashed = dict(event)
    hashed["hashes"] = {"sha256": b64.encode(content_hash(event, room_version))}
    return hashed


def check_content_hash(event: dict[str, Any], room_version: RoomVersion) -> None:
    """Raise ``HashMismatchError`` unless ``hashes.sha256`` matches (a failed check
    means the event is redacted before use, not rejected)."""
    hashes = event.get("hashes")
    expected = hashes.get("sha256") if isinstance(hashes, dict) else None
    if not isinstance(expected, str):
        raise HashMismatchError("event has no sha256 content hash")
    try:
        expected_bytes = b64.decode(expected)
    except ValueError:
        raise HashMismatchError("content hash is not valid base64") from None
    if expected_bytes != content_hash(event, room_version):
        raise HashMismatchError("content hash does not match")


def reference_hash(event: dict[str, Any], room_version: RoomVersion) -> bytes:
    """sha256 over the redacted event without signatures, unsigned (and age_ts)."""
    redacted = redact(event, room_version)
    for key in ("signatures", "unsigned", "age_ts"):
        redacted.pop(key, None)
    return hashlib.sha256(_encode(redacted, room_version)).digest()


def compute_event_id(event: dict[str, Any], room_version: RoomVersion) -> str:
    """The event ID: the PDU's own ``event_id`` (v1/v2) or ``$`` + reference hash."""
    if room_version.event_format is EventFormat.V1:
        event_id = event.get("event_id")
        if not isinstance(event_id, str):
            raise ValueError("room version 1/2 events must carry an event_id")
        return event_id
    digest = reference_hash(event, room_version)
    if room_version.event_format is EventFormat.V2:
        return "$" + b64.encode(digest)
    return "$" + b64.encode_urlsafe(digest)


def room_id_for_create_event(create: dict[str, Any], room_version: RoomVersion) -> str:
    """v12: the room ID is the create event's ID with ``!`` for ``$``."""
    if not room_version.room_id_from_create_event:
        raise ValueError(f"room version {room_version.identifier} does not derive room IDs")
    return "!" + compute_event_id(create, room_version)[1:]
