"""Authorisation rules for every room version (rooms/vN: "Authorisation rules";
server-server API: "Auth events selection").

Two entry points, split the way Synapse splits them:

- ``check_auth_events(event, auth_events)``: the rules about the event's cited
  ``auth_events`` list (duplicates, selection, rejected entries, room IDs);
- ``check(event, auth_state)``: every other rule, against a state map
  ``(type, state_key) -> Event`` (the event's auth events, the state before it,
  or the current state, depending on the stage of the receive pipeline).

Both raise ``AuthError`` whose message names the rule that rejected the event.
Membership rules live in ``auth_member``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from conduwuit.core.auth_member import check_member
from conduwuit.core.errors import AuthError, ErrCode
from conduwuit.core.event_types import EventType
from conduwuit.core.events import Event
from conduwuit.core.ids import UserId, server_of
from conduwuit.core.membership import IN_ROOM, MembershipState
from conduwuit.core.power_levels import (
    CREATE_KEY,
    JOIN_RULES_KEY,
    POWER_LEVELS_KEY,
    AuthState,
    PowerLevels,
    StateKey,
    creators,
    to_int,
)
from conduwuit.core.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion

__all__ = [
    "AuthError",
    "auth_types_for_event",
    "check",
    "check_auth_events",
]

_NAMED_LEVELS = ("users_default", "events_default", "state_default", "ban", "redact", "kick")


def auth_types_for_event(
    event: Event | Mapping[str, Any], room_version: RoomVersion
) -> list[StateKey]:
    """The state keys whose current events an event must cite as ``auth_events``."""
    pdu = event.pdu if isinstance(event, Event) else event
    event_type = pdu.get("type")
    if event_type == EventType.CREATE:
        return []
    sender = str(pdu.get("sender", ""))
    keys: list[StateKey] = []
    if room_version.create_event_in_auth_events:
        keys.append(CREATE_KEY)
    keys += [POWER_LEVELS_KEY, (EventType.MEMBER, sender)]
    if event_type == EventType.MEMBER:
        content = pdu.get("content")
        content = content if isinstance(content, dict) else {}
        membership = content.get("membership")
        state_key = pdu.get("state_key")
        if isinstance(state_key, str) and (EventType.MEMBER, state_key) not in keys:
            keys.append((EventType.MEMBER, state_key))
        if membership in IN_ROOM:
            keys.append(JOIN_RULES_KEY)
        if membership == MembershipState.INVITE:
            tpi = content.get("third_party_invite")
            signed = tpi.get("signed") if isinstance(tpi, dict) else None
            token = signed.get("token") if isinstance(signed, dict) else None
            if isinstance(token, str):
                keys.append((EventType.THIRD_PARTY_INVITE, token))
        if membership == MembershipState.JOIN and room_version.restricted_join_rule:
            authoriser = content.get("join_authorised_via_users_server")
            if isinstance(authoriser, str) and (EventType.MEMBER, authoriser) not in keys:
                keys.append((EventType.MEMBER, authoriser))
    return keys


def check_auth_events(
    event: Event, auth_events: Iterable[Event], room_version: RoomVersion | None = None
) -> None:
    """Rules on the cited ``auth_events`` (v1 rule 2; v12 rule 3)."""
    rv = room_version or event.room_version
    if event.type == EventType.CREATE and event.state_key == "":
        return
    allowed = set(auth_types_for_event(event, rv))
    seen: set[StateKey] = set()
    has_create = False
    for auth_event in auth_events:
        key = (auth_event.type, auth_event.state_key or "")
        if key in seen:
            raise AuthError(f"auth_events has duplicate entries for {key}")
        seen.add(key)
        if key not in allowed:
            raise AuthError(f"auth_events has an entry {key} not selected by the auth rules")
        if auth_event.rejected:
            raise AuthError(f"auth event {auth_event.event_id} was rejected")
        if auth_event.room_id != event.room_id:
            raise AuthError(f"auth event {auth_event.event_id} is from another room")
        has_create = has_create or key == CREATE_KEY
    if rv.create_event_in_auth_events and not has_create:
        raise AuthError("auth_events has no m.room.create event")


def _check_create(event: Event, rv: RoomVersion) -> None:
    if event.prev_event_ids:
        raise AuthError("m.room.create must not have prev_events")
    if rv.room_id_from_create_event:
        if "room_id" in event.pdu:
            raise AuthError("m.room.create must not have a room_id in this room version")
    elif server_of(event.room_id or "") != server_of(event.sender):
        raise AuthError("m.room.create room_id and sender are on different servers")
    version = event.content.get("room_version", "1")
    if not isinstance(version, str) or version not in KNOWN_ROOM_VERSIONS:
        raise AuthError(f"m.room.create has unknown room_version {version!r}")
    if not rv.implicit_room_creator and "creator" not in event.content:
        raise AuthError("m.room.create has no creator")
    if rv.privileged_creators and "additional_creators" in event.content:
        extra = event.content["additional_creators"]
        if not isinstance(extra, list) or not all(
            isinstance(u, str) and UserId.is_valid(u) for u in extra
        ):
            raise AuthError("additional_creators must be a list of valid user IDs")


def check(event: Event, auth_state: AuthState, room_version: RoomVersion | None = None) -> None:
    """Raise ``AuthError`` unless the auth rules allow ``event`` in ``auth_state``."""
    rv = room_version or event.room_version
    if event.type == EventType.CREATE and event.state_key == "":
        _check_create(event, rv)
        return

    create = auth_state.get(CREATE_KEY)
    if create is None:
        raise AuthError("no m.room.create event in the auth state")
    if rv.room_id_from_create_event:
        room_id = event.room_id or ""
        if not room_id.startswith("!") or create.event_id != "$" + room_id[1:]:
            raise AuthError("room_id is not the ID of the room's m.room.create event")
        if create.rejected:
            raise AuthError("the room's m.room.create event was rejected")

    if create.content.get("m.federate", True) is False and server_of(event.sender) != server_of(
        create.sender
    ):
        raise AuthError("room is not federated (m.federate is false)")

    if rv.special_case_aliases_auth and event.type == EventType.ALIASES:
        if event.state_key is None:
            raise AuthError("m.room.aliases must have a state_key")
        if event.state_key != server_of(event.sender):
            raise AuthError("m.room.aliases state_key must be the sender's server")
        return

    if event.type == EventType.MEMBER:
        check_member(event, auth_state, rv)
        return

    member = auth_state.get((EventType.MEMBER, event.sender))
    if member is None or member.membership != MembershipState.JOIN:
        raise AuthError(f"{event.sender} is not joined to the room")

    levels = PowerLevels(auth_state, rv)
    sender_level = levels.user_level(event.sender)

    if event.type == EventType.THIRD_PARTY_INVITE:
        if sender_level < levels.named_level("invite"):
            raise AuthError("sender may not send third-party invites (invite level)")
        return

    required = levels.send_level(event.type, event.is_state)
    if required > sender_level:
        raise AuthError(f"sender's power level {sender_level} is below {required} for {event.type}")

    if event.state_key is not None and event.state_key.startswith("@"):
        if event.state_key != event.sender:
            if not rv.owned_state:
                raise AuthError("state_key starting with '@' must be the sender")
            owner = owned_state_owner(event.state_key)
            if owner != event.sender and sender_level <= levels.user_level(owner):
                raise AuthError("only a user with more power may set another user's state")

    if event.type == EventType.POWER_LEVELS and event.state_key == "":
        _check_power_levels(event, auth_state, sender_level, rv)
        return

    if rv.special_case_redaction_auth and event.type == EventType.REDACTION:
        if sender_level >= levels.named_level("redact"):
            return
        redacts = event.redacts or ""
        if server_of(redacts) and server_of(redacts) == server_of(event.event_id):
            return
        raise AuthError("sender may not redact this event")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _malformed_power_levels(reason: str) -> AuthError:
    """A power levels event whose content breaks a format rule (10.1-10.4 of the
    auth rules): rejected like any other, but a client sending it gets 400
    M_BAD_JSON, not 403. The spec leaves the status to the endpoint ("request is
    malformed" vs "doesn't have permission"); Synapse answers these rules 400."""
    return AuthError(reason, ErrCode.BAD_JSON, 400)


def _check_power_levels(
    event: Event, auth_state: AuthState, sender_level: int, rv: RoomVersion
) -> None:
    content = event.content
    if rv.integer_power_levels:
        for key in (*_NAMED_LEVELS, "invite"):
            if key in content and not _is_int(content[key]):
                raise _malformed_power_levels(f"power level {key} must be an integer")
        for key in ("events", "notifications"):
            if key in content:
                value = content[key]
                if not isinstance(value, dict) or not all(_is_int(v) for v in value.values()):
                    raise _malformed_power_levels(f"power levels {key} must map to integers")
    users = content.get("users", {})
    if not isinstance(users, dict):
        raise _malformed_power_levels("power levels users must be an object")
    for user_id, user_level in users.items():
        if not UserId.is_valid(user_id):
            raise _malformed_power_levels(f"power levels users has an invalid user ID {user_id!r}")
        if to_int(user_level, rv) is None:
            raise _malformed_power_levels(f"power level of {user_id} is not an integer")
    # Room version 12, rule 10.4: creators have infinite power and are never listed.
    if rv.privileged_creators and creators(auth_state, rv) & set(users):
        raise _malformed_power_levels("room creators may not be listed in power levels users")

    current = auth_state.get(POWER_LEVELS_KEY)
    if current is None:
        return
    old = current.content

    def level(container: Mapping[str, Any], key: str) -> int | None:
        if key not in container:
            return None
        value = to_int(container[key], rv)
        if value is None:
            raise AuthError(f"power level {key!r} is not an integer")
        return value

    def sub(container: Mapping[str, Any], name: str) -> Mapping[str, Any]:
        value = container.get(name, {})
        return value if isinstance(value, dict) else {}

    for key in (*_NAMED_LEVELS, "invite"):
        old_level, new_level = level(old, key), level(content, key)
        if old_level == new_level:
            continue
        if old_level is not None and old_level > sender_level:
            raise AuthError(f"sender may not change {key} from a level above their own")
        if new_level is not None and new_level > sender_level:
            raise AuthError(f"sender may not raise {key} above their own level")

    groups = ["events", "notifications"] if rv.limit_notifications_power_levels else ["events"]
    for group in groups:
        old_group, new_group = sub(old, group), sub(content, group)
        for key in set(old_group) | set(new_group):
            old_level, new_level = level(old_group, key), level(new_group, key)
            if old_level == new_level:
                continue
            if old_level is not None and old_level > sender_level:
                raise AuthError(f"sender may not change {group}.{key} from above their level")
            if new_level is not None and new_level > sender_level:
                raise AuthError(f"sender may not raise {group}.{key} above their level")

    old_users, new_users = sub(old, "users"), sub(content, "users")
    for user_id in set(old_users) | set(new_users):
        old_level, new_level = level(old_users, user_id), level(new_users, user_id)
        if old_level == new_level:
            continue
        if user_id != event.sender and old_level is not None and old_level >= sender_level:
            raise AuthError(f"sender may not change the level of {user_id} (at or above theirs)")
        if new_level is not None and new_level > sender_level:
            raise AuthError(f"sender may not raise {user_id} above their own level")


def owned_state_owner(state_key: str) -> str:
    """MSC3757: the user who owns ``state_key`` (which starts with "@"): the key itself
    or the user ID before its first "_" after the server name's ":". Not a user ID:
    400 M_BAD_JSON (Synapse's answer)."""
    colon = state_key.find(":", 1)
    suffix = state_key.find("_", colon + 1) if colon != -1 else -1
    owner = state_key[:suffix] if suffix != -1 else state_key
    try:
        UserId.parse(owner)
    except ValueError:
        raise AuthError(
            "state key is neither a user ID nor one followed by an underscore",
            ErrCode.BAD_JSON,
            400,
        ) from None
    return owner
