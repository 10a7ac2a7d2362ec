"""Room versions 1-12 as frozen feature-flag records (spec: rooms/, "Feature matrix").

Code asks ``room_version.knock_join_rule``; it never compares version strings.

``stable`` follows the spec's room-versions index, which marks every version 1-12
**Stable**. Separately, conduwuit only serves versions 1-5 when
``allow_unstable_room_versions`` is on (its ``UNSTABLE_ROOM_VERSIONS``; the flag
defaults to true there); ``needs_allow_unstable`` records that server policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class EventFormat(Enum):
    V1 = 1  # event_id in the PDU, "$opaque:server" (room versions 1-2)
    V2 = 2  # event_id is the reference hash, standard base64 (room version 3)
    V3 = 3  # event_id is the reference hash, URL-safe base64 (room versions 4+)


class StateResAlgorithm(Enum):
    V1 = 1
    V2 = 2
    V2_1 = 3  # room version 12: empty start for iterative auth + conflicted subgraph


@dataclass(frozen=True, slots=True)
class RoomVersion:
    identifier: str
    stable: bool
    needs_allow_unstable: bool
    event_format: EventFormat
    state_res: StateResAlgorithm
    # Events must be signed by the event ID's server as well (v1/v2).
    event_id_server_signature: bool
    # v1/v2: redaction events have their own auth rule (rule 11).
    special_case_redaction_auth: bool
    # v5+: signing keys must be valid at origin_server_ts.
    enforce_key_validity: bool
    # v1-5: m.room.aliases has auth rule 4 and keeps 'aliases' under redaction.
    special_case_aliases_auth: bool
    # v6+: canonical JSON enforced (integer ranges, no floats).
    strict_canonical_json: bool
    # v6+: power_levels 'notifications' changes are checked.
    limit_notifications_power_levels: bool
    # v7+: knocking.
    knock_join_rule: bool
    # v8+: restricted joins; v9+: join_authorised_via_users_server survives redaction.
    restricted_join_rule: bool
    restricted_join_rule_fix: bool
    # v10+: knock_restricted join rule.
    knock_restricted_join_rule: bool
    # v10+: power level values must be integers (not strings).
    integer_power_levels: bool
    # v11+: create has no 'creator'; creator is the sender. Also v11 redaction rules.
    implicit_room_creator: bool
    updated_redaction_rules: bool
    # v11+: 'type' and 'state_key' over 255 bytes refuse the event outright. Before
    # v11 one within 255 codepoints is kept as rejected (Synapse's "lenient event byte
    # limits", matrix-org/synapse#14664), so that its room's DAG is not broken.
    strict_event_byte_limits: bool
    # v12+: room ID is the create event's hash; creators have infinite power.
    hydra: bool
    # MSC3757 (unstable versions org.matrix.msc3757.10/11, for MatrixRTC): a state key
    # may be a user ID followed by "_suffix", owned by that user; others may set it
    # only with more power than the owner.
    owned_state: bool = False

    @property
    def room_id_from_create_event(self) -> bool:
        return self.hydra

    @property
    def create_event_in_auth_events(self) -> bool:
        return not self.hydra

    @property
    def privileged_creators(self) -> bool:
        return self.hydra


def _v(identifier: str, **flags: object) -> RoomVersion:
    base: dict[str, object] = {
        "identifier": identifier,
        "stable": True,
        "needs_allow_unstable": False,
        "event_format": EventFormat.V3,
        "state_res": StateResAlgorithm.V2,
        "event_id_server_signature": False,
        "special_case_redaction_auth": False,
        "enforce_key_validity": True,
        "special_case_aliases_auth": False,
        "strict_canonical_json": True,
        "limit_notifications_power_levels": True,
        "knock_join_rule": True,
        "restricted_join_rule": True,
        "restricted_join_rule_fix": True,
        "knock_restricted_join_rule": True,
        "integer_power_levels": True,
        "implicit_room_creator": True,
        "updated_redaction_rules": True,
        "strict_event_byte_limits": True,
        "hydra": False,
    }
    base.update(flags)
    return RoomVersion(**base)  # type: ignore[arg-type]


_PRE_V6 = {
    "special_case_aliases_auth": True,
    "strict_canonical_json": False,
    "limit_notifications_power_levels": False,
}
_PRE_V7 = {"knock_join_rule": False}
_PRE_V8 = {"restricted_join_rule": False}
_PRE_V9 = {"restricted_join_rule_fix": False}
_PRE_V10 = {"knock_restricted_join_rule": False, "integer_power_levels": False}
_PRE_V11 = {
    "implicit_room_creator": False,
    "updated_redaction_rules": False,
    "strict_event_byte_limits": False,
}
_PRE_V5 = {"enforce_key_validity": False, "needs_allow_unstable": True}
_PRE_V3 = {
    "event_format": EventFormat.V1,
    "event_id_server_signature": True,
    "special_case_redaction_auth": True,
}
_UP_TO_5 = {**_PRE_V6, **_PRE_V7, **_PRE_V8, **_PRE_V9, **_PRE_V10, **_PRE_V11}

V1 = _v("1", **_UP_TO_5, **_PRE_V5, **_PRE_V3, state_res=StateResAlgorithm.V1)
V2 = _v("2", **_UP_TO_5, **_PRE_V5, **_PRE_V3)
V3 = _v("3", **_UP_TO_5, **_PRE_V5, event_format=EventFormat.V2)
V4 = _v("4", **_UP_TO_5, **_PRE_V5)
V5 = _v("5", **_UP_TO_5, needs_allow_unstable=True)
V6 = _v("6", **_PRE_V7, **_PRE_V8, **_PRE_V9, **_PRE_V10, **_PRE_V11)
V7 = _v("7", **_PRE_V8, **_PRE_V9, **_PRE_V10, **_PRE_V11)
V8 = _v("8", **_PRE_V9, **_PRE_V10, **_PRE_V11)
V9 = _v("9", **_PRE_V10, **_PRE_V11)
V10 = _v("10", **_PRE_V11)
V11 = _v("11")
V12 = _v("12", hydra=True, state_res=StateResAlgorithm.V2_1)
# Synapse's MSC3757v10/v11 (Element Call's per-device call membership state).
MSC3757_V10 = _v(
    "org.matrix.msc3757.10", **_PRE_V11, stable=False, needs_allow_unstable=True, owned_state=True
)
MSC3757_V11 = _v("org.matrix.msc3757.11", stable=False, needs_allow_unstable=True, owned_state=True)

KNOWN_ROOM_VERSIONS: dict[str, RoomVersion] = {
    v.identifier: v
    for v in (V1, V2, V3, V4, V5, V6, V7, V8, V9, V10, V11, V12, MSC3757_V10, MSC3757_V11)
}
DEFAULT_ROOM_VERSION = "11"


def get(identifier: str) -> RoomVersion | None:
    return KNOWN_ROOM_VERSIONS.get(identifier)


def supported_versions(allow_unstable: bool) -> list[str]:
    """Versions this server will create/join, per ``allow_unstable_room_versions``."""
    return [
        k
        for k, v in KNOWN_ROOM_VERSIONS.items()
        if allow_unstable or (v.stable and not v.needs_allow_unstable)
    ]


def capabilities(allow_unstable: bool, default: str = DEFAULT_ROOM_VERSION) -> dict[str, object]:
    """The ``m.room_versions`` capability body (client-server API /capabilities)."""
    supported = supported_versions(allow_unstable)
    return {
        "default": default,
        "available": {
            k: ("stable" if v.stable else "unstable")
            for k, v in KNOWN_ROOM_VERSIONS.items()
            if k in supported
        },
    }


_VERSION_GRAMMAR_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")


def is_valid_identifier(identifier: str) -> bool:
    """Room version grammar: 1-32 chars of ``a-z 0-9 . -``."""
    return 1 <= len(identifier) <= 32 and all(c in _VERSION_GRAMMAR_CHARS for c in identifier)
