"""The events of a new room (client-server API ``POST /createRoom``), in the order
the spec lists them, and a dry run of the auth rules over them so that a request
that would fail half-way is refused before anything is written.

Pure: the service turns each ``PlannedEvent`` into a signed event and persists it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from conduwuit.core import canonical_json
from conduwuit.core.auth_rules import check
from conduwuit.core.errors import AuthError, ErrCode, MatrixError, bad_json
from conduwuit.core.event_types import EventType
from conduwuit.core.events import MAX_PDU_SIZE, Event, EventFormatError, validate_pdu
from conduwuit.core.ids import server_of
from conduwuit.core.membership import MembershipState
from conduwuit.core.power_levels import StateKey
from conduwuit.core.room_versions import EventFormat, RoomVersion

PRESETS: Mapping[str, tuple[str, str, str]] = {
    # preset: (join_rule, history_visibility, guest_access)
    "private_chat": ("invite", "shared", "can_join"),
    "trusted_private_chat": ("invite", "shared", "can_join"),
    "public_chat": ("public", "shared", "forbidden"),
}


@dataclass(frozen=True)
class PlannedEvent:
    type: str
    content: dict[str, Any]
    state_key: str | None = None


@dataclass(frozen=True)
class RoomPlan:
    creator: str
    room_version: RoomVersion
    preset: str | None = None
    public: bool = False
    alias: str | None = None
    name: str | None = None
    topic: str | None = None
    invite: Sequence[str] = ()
    is_direct: bool = False
    initial_state: Sequence[PlannedEvent] = ()
    creation_content: Mapping[str, Any] = field(default_factory=dict)
    power_level_content_override: Mapping[str, Any] | None = None
    creator_member_content: Mapping[str, Any] = field(default_factory=dict)


def effective_preset(plan: RoomPlan) -> str:
    """No preset: ``public_chat`` for a public room, else ``private_chat`` (spec)."""
    if plan.preset is not None:
        return plan.preset
    return "public_chat" if plan.public else "private_chat"


def default_power_levels(plan: RoomPlan, preset: str) -> dict[str, Any]:
    """Synapse's defaults (``_send_events_for_new_room``); creators of v12 rooms are
    implicitly all-powerful so not listed, and the tombstone needs 150 there."""
    rv = plan.room_version
    users: dict[str, int] = {}
    if not rv.privileged_creators:
        users[plan.creator] = 100
        if preset == "trusted_private_chat":
            users.update({u: 100 for u in plan.invite})
    return {
        "users": users,
        "users_default": 0,
        "events": {
            EventType.NAME: 50,
            EventType.POWER_LEVELS: 100,
            EventType.HISTORY_VISIBILITY: 100,
            EventType.CANONICAL_ALIAS: 50,
            EventType.AVATAR: 50,
            EventType.TOMBSTONE: 150 if rv.privileged_creators else 100,
            EventType.SERVER_ACL: 100,
            EventType.ENCRYPTION: 100,
        },
        "events_default": 0,
        "state_default": 50,
        "ban": 50,
        "kick": 50,
        "redact": 50,
        # Synapse's: 50, but 0 in the private presets (its presets' override), so
        # anyone in a private chat may invite and only moderators in a public one.
        "invite": 0 if preset in ("private_chat", "trusted_private_chat") else 50,
        "historical": 100,
    }


def create_content(plan: RoomPlan) -> dict[str, Any]:
    rv = plan.room_version
    content = dict(plan.creation_content)
    content["room_version"] = rv.identifier
    if not rv.implicit_room_creator:
        content["creator"] = plan.creator
    else:
        content.pop("creator", None)
    if rv.privileged_creators and effective_preset(plan) == "trusted_private_chat":
        extra = content.get("additional_creators")
        extra = list(extra) if isinstance(extra, list) else []
        content["additional_creators"] = extra + [u for u in plan.invite if u not in extra]
    return content


def plan_events(plan: RoomPlan) -> list[PlannedEvent]:
    """Every event of the new room in spec order (create first, invites last)."""
    preset = effective_preset(plan)
    if preset not in PRESETS:
        raise bad_json(f"Unknown preset {preset!r}")
    initial = {(e.type, e.state_key or ""): e for e in plan.initial_state}
    if plan.name is not None:
        initial.pop((EventType.NAME, ""), None)
    if plan.topic is not None:
        initial.pop((EventType.TOPIC, ""), None)
    for reserved in (EventType.CREATE, EventType.MEMBER):
        for k in [k for k in initial if k[0] == reserved]:
            raise bad_json(f"initial_state may not contain {k[0]} events")

    events = [
        PlannedEvent(EventType.CREATE, create_content(plan), ""),
        PlannedEvent(
            EventType.MEMBER,
            {**plan.creator_member_content, "membership": MembershipState.JOIN},
            plan.creator,
        ),
    ]
    levels = default_power_levels(plan, preset)
    levels.update(plan.power_level_content_override or {})
    if (EventType.POWER_LEVELS, "") in initial:
        levels.update(initial.pop((EventType.POWER_LEVELS, "")).content)
    events.append(PlannedEvent(EventType.POWER_LEVELS, levels, ""))
    if plan.alias is not None:
        events.append(PlannedEvent(EventType.CANONICAL_ALIAS, {"alias": plan.alias}, ""))
    join_rule, visibility, guest = PRESETS[preset]
    implied: list[tuple[str, dict[str, Any]]] = [
        (EventType.JOIN_RULES, {"join_rule": join_rule}),
        (EventType.HISTORY_VISIBILITY, {"history_visibility": visibility}),
    ]
    # "forbidden" is what a room without m.room.guest_access means: like Synapse, the
    # event is sent only to let guests in (other servers' views of the room's first
    # events, e.g. Complement's TestInboundCanReturnMissingEvents, expect no more).
    if guest != "forbidden":
        implied.append((EventType.GUEST_ACCESS, {"guest_access": guest}))
    for event_type, preset_content in implied:
        if (event_type, "") not in initial:
            events.append(PlannedEvent(event_type, preset_content, ""))
    events.extend(PlannedEvent(e.type, e.content, e.state_key or "") for e in initial.values())
    if plan.name is not None:
        events.append(PlannedEvent(EventType.NAME, {"name": plan.name}, ""))
    if plan.topic is not None:
        topic = {"m.text": [{"mimetype": "text/plain", "body": plan.topic}]}
        events.append(PlannedEvent(EventType.TOPIC, {"topic": plan.topic, "m.topic": topic}, ""))
    for invitee in plan.invite:
        invite: dict[str, Any] = {"membership": MembershipState.INVITE}
        if plan.is_direct:
            invite["is_direct"] = True
        events.append(PlannedEvent(EventType.MEMBER, invite, invitee))
    return events


def dry_run(events: Sequence[PlannedEvent], creator: str, rv: RoomVersion) -> None:
    """Run the auth rules over the planned events in memory; raise before any write.

    An event the rules refuse makes the whole request ``M_INVALID_ROOM_STATE``
    (Synapse answers 400 for a bad ``initial_state`` or power-level override too).
    """
    state: dict[StateKey, Event] = {}
    room_id = f"!dryrun:{server_of(creator)}"
    for i, planned in enumerate(events):
        event_id = f"$dryrun{i}"
        if rv.room_id_from_create_event and i > 0:
            room_id = "!dryrun0"
        pdu: dict[str, Any] = {
            "type": planned.type,
            "content": planned.content,
            "sender": creator,
            "origin_server_ts": 0,
            "depth": i + 1,
            "prev_events": [],
            "auth_events": [],
        }
        if i > 0:
            prev = f"$dryrun{i - 1}"
            pdu["prev_events"] = [[prev, {}]] if rv.event_format is EventFormat.V1 else [prev]
        if planned.state_key is not None:
            pdu["state_key"] = planned.state_key
        if not (rv.room_id_from_create_event and i == 0):
            pdu["room_id"] = room_id
        if rv.event_format is EventFormat.V1:
            pdu["event_id"] = f"{event_id}:{server_of(creator)}"
        try:
            size = len(canonical_json.encode_lenient(pdu))
        except canonical_json.CanonicalJsonError as exc:
            raise bad_json(f"{planned.type}: {exc}") from None
        if size > MAX_PDU_SIZE - 2048:  # room for hashes, signatures and references
            raise MatrixError(ErrCode.TOO_LARGE, f"{planned.type} event is too large")
        try:
            # The format checks the pipeline makes (v6+ canonical JSON integer range,
            # type and state_key lengths), so none fails after the first write.
            validate_pdu(pdu, rv)
        except EventFormatError as exc:
            raise bad_json(f"{planned.type}: {exc}") from None
        event = Event(pdu, rv, event_id=event_id)
        try:
            check(event, state, rv)
        except AuthError as exc:
            raise MatrixError(
                ErrCode.INVALID_ROOM_STATE, f"{planned.type} would be refused: {exc.reason}"
            ) from None
        if planned.state_key is not None:
            state[(planned.type, planned.state_key)] = event
