"""The PDU model (server-server API: "PDUs"; rooms/: "Event format") and the
shape and size checks every received or created event passes first.

``Event`` is a thin, read-only view over the PDU dict with the event ID worked
out once. Auth rules and state resolution take ``Event``s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conduwuit.core import canonical_json
from conduwuit.core.event_hashing import compute_event_id
from conduwuit.core.event_types import EventType
from conduwuit.core.ids import EventId, RoomId, UserId
from conduwuit.core.redaction import redaction_target
from conduwuit.core.room_versions import EventFormat, RoomVersion

MAX_PDU_SIZE = 65536
MAX_KEY_BYTES = 255
# Synapse's limits (synapse.event_auth / federation_base): the spec gives none,
# but every server that follows Synapse rejects more than these.
MAX_PREV_EVENTS = 20
MAX_AUTH_EVENTS = 10
MAX_DEPTH = canonical_json.MAX_SAFE_INT


class EventFormatError(ValueError):
    """The PDU is malformed for its room version."""


class OversizedKeyError(EventFormatError):
    """A ``type`` or ``state_key`` over 255 bytes but within 255 codepoints, in a room
    version without strict byte limits (v1-v10); the PDU is otherwise well formed.

    The spec ("Size limits") gives 255 bytes, so the event is never accepted. But
    Synapse counted codepoints before matrix-org/synapse#14664, so such events exist
    in old rooms; a server that drops them cannot place their children. Like Synapse
    (``_check_size_limits``: ``unpersistable=False``), a receiver keeps the event as
    rejected: it stays in the DAG, changes no state, and its children can be accepted.
    """


def _key_size(pdu: dict[str, Any], field: str, room_version: RoomVersion) -> bool:
    """Whether ``pdu[field]`` (a string) is over the limit in bytes only where that is
    lenient; raises ``EventFormatError`` when it may not be kept at all."""
    value: str = pdu[field]
    if len(value) > MAX_KEY_BYTES:
        raise EventFormatError(f"{field} is longer than {MAX_KEY_BYTES} codepoints")
    if len(value.encode()) <= MAX_KEY_BYTES:
        return False
    if room_version.strict_event_byte_limits:
        raise EventFormatError(f"{field} is longer than {MAX_KEY_BYTES} bytes")
    return True


def _ids(refs: Any, room_version: RoomVersion) -> tuple[str, ...]:
    """``prev_events``/``auth_events``: IDs (v3+) or ``[id, {hashes}]`` pairs (v1/v2)."""
    if not isinstance(refs, list):
        return ()
    if room_version.event_format is EventFormat.V1:
        return tuple(r[0] for r in refs if isinstance(r, list) and r and isinstance(r[0], str))
    return tuple(r for r in refs if isinstance(r, str))


class Event:
    """A PDU of a known room version. ``rejected`` is set by whoever authorised it."""

    __slots__ = (
        "_pdu",
        "auth_event_ids",
        "event_id",
        "prev_event_ids",
        "rejected",
        "room_version",
    )

    def __init__(
        self,
        pdu: dict[str, Any],
        room_version: RoomVersion,
        event_id: str | None = None,
        rejected: bool = False,
    ) -> None:
        self._pdu = pdu
        self.room_version = room_version
        self.event_id = event_id if event_id is not None else compute_event_id(pdu, room_version)
        self.auth_event_ids = _ids(pdu.get("auth_events"), room_version)
        self.prev_event_ids = _ids(pdu.get("prev_events"), room_version)
        self.rejected = rejected

    @property
    def pdu(self) -> Mapping[str, Any]:
        return self._pdu

    @property
    def type(self) -> str:
        return str(self._pdu.get("type", ""))

    @property
    def state_key(self) -> str | None:
        key = self._pdu.get("state_key")
        return key if isinstance(key, str) else None

    @property
    def is_state(self) -> bool:
        return self.state_key is not None

    @property
    def sender(self) -> str:
        return str(self._pdu.get("sender", ""))

    @property
    def room_id(self) -> str | None:
        room_id = self._pdu.get("room_id")
        return room_id if isinstance(room_id, str) else None

    @property
    def content(self) -> Mapping[str, Any]:
        content = self._pdu.get("content")
        return content if isinstance(content, dict) else {}

    @property
    def origin_server_ts(self) -> int:
        ts = self._pdu.get("origin_server_ts")
        return ts if isinstance(ts, int) else 0

    @property
    def depth(self) -> int:
        depth = self._pdu.get("depth")
        return depth if isinstance(depth, int) else 0

    @property
    def redacts(self) -> str | None:
        return redaction_target(self._pdu, self.room_version)

    @property
    def membership(self) -> str | None:
        membership = self.content.get("membership")
        return membership if isinstance(membership, str) else None

    @property
    def signatures(self) -> Mapping[str, Any]:
        signatures = self._pdu.get("signatures")
        return signatures if isinstance(signatures, dict) else {}

    def __repr__(self) -> str:
        return f"<Event {self.event_id} {self.type} {self.state_key!r} from {self.sender}>"


def _check_id(value: Any, field: str, kind: type[UserId] | type[RoomId] | type[EventId]) -> None:
    if not isinstance(value, str):
        raise EventFormatError(f"{field} must be a string")
    try:
        kind.parse(value)
    except ValueError as exc:
        raise EventFormatError(f"{field}: {exc}") from None


def validate_pdu(pdu: dict[str, Any], room_version: RoomVersion) -> None:
    """Shape and size checks for a PDU (before hashes, signatures and auth).

    Raises ``EventFormatError`` naming the offending field; ``OversizedKeyError``
    (last, only when everything else is right) for a key that is over in bytes only
    in a room version with lenient byte limits.
    """
    try:
        if room_version.strict_canonical_json:
            encoded = canonical_json.encode({k: v for k, v in pdu.items() if k != "unsigned"})
        else:
            encoded = canonical_json.encode_lenient(
                {k: v for k, v in pdu.items() if k != "unsigned"}
            )
    except canonical_json.CanonicalJsonError as exc:
        raise EventFormatError(f"not canonical JSON: {exc}") from None
    if len(encoded) > MAX_PDU_SIZE:
        raise EventFormatError(f"event is larger than {MAX_PDU_SIZE} bytes")

    for field in ("type", "sender", "content", "origin_server_ts", "depth", "prev_events"):
        if field not in pdu:
            raise EventFormatError(f"missing field {field}")
    if not isinstance(pdu["type"], str):
        raise EventFormatError("type must be a string")
    oversized = ["type"] if _key_size(pdu, "type", room_version) else []
    if "state_key" in pdu:
        if not isinstance(pdu["state_key"], str):
            raise EventFormatError("state_key must be a string")
        if _key_size(pdu, "state_key", room_version):
            oversized.append("state_key")
    _check_id(pdu["sender"], "sender", UserId)
    if not isinstance(pdu["content"], dict):
        raise EventFormatError("content must be an object")
    ts = pdu["origin_server_ts"]
    if not isinstance(ts, int) or isinstance(ts, bool):
        raise EventFormatError("origin_server_ts must be an integer")
    depth = pdu["depth"]
    if not isinstance(depth, int) or isinstance(depth, bool) or not 0 <= depth <= MAX_DEPTH:
        raise EventFormatError("depth must be an integer in [0, 2**53-1]")

    is_create = pdu["type"] == EventType.CREATE and pdu.get("state_key") == ""
    if room_version.room_id_from_create_event and is_create:
        if "room_id" in pdu:
            raise EventFormatError("m.room.create must not have a room_id in this room version")
    else:
        _check_id(pdu.get("room_id"), "room_id", RoomId)
        room_id = RoomId.parse(pdu["room_id"])
        if room_version.room_id_from_create_event and room_id.server_name is not None:
            raise EventFormatError("room_id must not have a server name in this room version")
    if room_version.event_format is EventFormat.V1:
        _check_id(pdu.get("event_id"), "event_id", EventId)

    for field, limit in (("prev_events", MAX_PREV_EVENTS), ("auth_events", MAX_AUTH_EVENTS)):
        refs = pdu.get(field, [])
        if not isinstance(refs, list):
            raise EventFormatError(f"{field} must be a list")
        if len(refs) > limit:
            raise EventFormatError(f"{field} has more than {limit} entries")
        for ref in refs:
            if room_version.event_format is EventFormat.V1:
                ok = (
                    isinstance(ref, list)
                    and len(ref) == 2
                    and isinstance(ref[0], str)
                    and isinstance(ref[1], dict)
                )
                if not ok:
                    raise EventFormatError(f"{field} entries must be [event_id, hashes] pairs")
                _check_id(ref[0], field, EventId)
            else:
                _check_id(ref, field, EventId)
    if "auth_events" not in pdu:
        raise EventFormatError("missing field auth_events")
    if oversized:
        raise OversizedKeyError(f"{' and '.join(oversized)} longer than {MAX_KEY_BYTES} bytes")
