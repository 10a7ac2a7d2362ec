"""The redaction algorithm per room version (rooms/: "Redactions") and the
conditions under which a redaction is applied ("Handling redactions").

Redaction is used twice: to hash and sign an event (the reference hash and the
signatures cover the redacted form) and to strip an event when a valid
``m.room.redaction`` targets it.
"""

from __future__ import annotations

from typing import Any

from conduwuit.core.event_types import EventType
from conduwuit.core.ids import server_of
from conduwuit.core.room_versions import RoomVersion

_KEEP_TOP_LEVEL_V1 = frozenset(
    {
        "event_id",
        "type",
        "room_id",
        "sender",
        "state_key",
        "content",
        "hashes",
        "signatures",
        "depth",
        "prev_events",
        "prev_state",
        "auth_events",
        "origin",
        "origin_server_ts",
        "membership",
    }
)
# v11 (MSC2176/MSC3821/MSC3989) drops origin, membership and prev_state.
_KEEP_TOP_LEVEL_V11 = _KEEP_TOP_LEVEL_V1 - {"origin", "membership", "prev_state"}

_POWER_LEVEL_KEYS = (
    "ban",
    "events",
    "events_default",
    "kick",
    "redact",
    "state_default",
    "users",
    "users_default",
)


def _content_keys(event_type: str, room_version: RoomVersion) -> frozenset[str] | None:
    """The content keys kept for ``event_type``; ``None`` means keep everything."""
    v = room_version
    if event_type == EventType.MEMBER:
        keys = {"membership"}
        if v.restricted_join_rule_fix:
            keys.add("join_authorised_via_users_server")
        return frozenset(keys)
    if event_type == EventType.CREATE:
        return None if v.updated_redaction_rules else frozenset({"creator"})
    if event_type == EventType.JOIN_RULES:
        return frozenset({"join_rule", "allow"} if v.restricted_join_rule else {"join_rule"})
    if event_type == EventType.POWER_LEVELS:
        keys = set(_POWER_LEVEL_KEYS)
        if v.updated_redaction_rules:
            keys.add("invite")
        return frozenset(keys)
    if event_type == EventType.ALIASES and v.special_case_aliases_auth:
        return frozenset({"aliases"})
    if event_type == EventType.HISTORY_VISIBILITY:
        return frozenset({"history_visibility"})
    if event_type == EventType.REDACTION and v.updated_redaction_rules:
        return frozenset({"redacts"})
    return frozenset()


def redact(event: dict[str, Any], room_version: RoomVersion) -> dict[str, Any]:
    """Return the redacted form of a PDU-shaped ``event`` (the input is not modified).

    The spec strips ``unsigned`` entirely; a server that shows redacted events to
    clients re-adds ``unsigned.redacted_because`` itself (Synapse does the same).
    """
    keep = _KEEP_TOP_LEVEL_V11 if room_version.updated_redaction_rules else _KEEP_TOP_LEVEL_V1
    redacted = {k: v for k, v in event.items() if k in keep}
    content = event.get("content")
    if not isinstance(content, dict):
        if "content" in event:
            redacted["content"] = {}
        return redacted
    event_type = event.get("type")
    allowed = _content_keys(event_type if isinstance(event_type, str) else "", room_version)
    if allowed is None:
        new_content = dict(content)
    else:
        new_content = {k: v for k, v in content.items() if k in allowed}
    if (
        event_type == EventType.MEMBER
        and room_version.updated_redaction_rules
        and isinstance(content.get("third_party_invite"), dict)
        and "signed" in content["third_party_invite"]
    ):
        new_content["third_party_invite"] = {"signed": content["third_party_invite"]["signed"]}
    redacted["content"] = new_content
    return redacted


def redaction_target(event: dict[str, Any], room_version: RoomVersion) -> str | None:
    """The event ID an ``m.room.redaction`` targets: ``content.redacts`` in v11+.

    Like Synapse, v11+ falls back to the top-level key when content lacks it,
    since v11 clients may still send both.
    """
    if event.get("type") != EventType.REDACTION:
        return None
    if room_version.updated_redaction_rules:
        content = event.get("content")
        if isinstance(content, dict) and isinstance(content.get("redacts"), str):
            return str(content["redacts"])
    redacts = event.get("redacts")
    return redacts if isinstance(redacts, str) else None


def should_apply_redaction(
    redaction_sender: str,
    redaction_sender_power: int,
    redact_level: int,
    target_sender: str,
) -> bool:
    """Whether a valid redaction should be applied (v3+ "Handling redactions").

    Apply if the redacter's power level reaches the redact level, or if the
    redacter's server is the original sender's server.
    """
    if redaction_sender_power >= redact_level:
        return True
    return server_of(redaction_sender) == server_of(target_sender)
