"""Auth rules for ``m.room.member`` events (rooms/vN rule "If type is m.room.member")."""

from __future__ import annotations

from typing import Any

from conduwuit.core.errors import AuthError
from conduwuit.core.event_types import EventType
from conduwuit.core.events import Event
from conduwuit.core.ids import server_of
from conduwuit.core.membership import MembershipState
from conduwuit.core.power_levels import CREATE_KEY, JOIN_RULES_KEY, AuthState, PowerLevels
from conduwuit.core.room_versions import RoomVersion
from conduwuit.core.signing import SignatureError, verify_signed_json


def _membership(auth_state: AuthState, user_id: str) -> str | None:
    member = auth_state.get((EventType.MEMBER, user_id))
    return member.membership if member is not None else None


def _join_rule(auth_state: AuthState) -> str:
    event = auth_state.get(JOIN_RULES_KEY)
    rule = event.content.get("join_rule") if event is not None else None
    # No join rules event: Synapse (and the spec's m.room.join_rules default) use "invite".
    return rule if isinstance(rule, str) else "invite"


def check_member(event: Event, auth_state: AuthState, rv: RoomVersion) -> None:
    target = event.state_key
    membership = event.membership
    if target is None or "membership" not in event.content:
        raise AuthError("m.room.member needs a state_key and content.membership")

    authoriser = event.content.get("join_authorised_via_users_server")
    if rv.restricted_join_rule and authoriser is not None:
        # "Validly signed": the signatures themselves are verified before auth
        # (see event_signing.required_signature_servers); here we check the
        # authorising server is among the signers, as Synapse does.
        if not isinstance(authoriser, str) or server_of(authoriser) not in event.signatures:
            raise AuthError("join is not signed by the authorising user's server")

    if membership == MembershipState.JOIN:
        _check_join(event, auth_state, rv, target)
    elif membership == MembershipState.INVITE:
        _check_invite(event, auth_state, rv, target)
    elif membership == MembershipState.LEAVE:
        _check_leave(event, auth_state, rv, target)
    elif membership == MembershipState.BAN:
        _check_ban(event, auth_state, rv, target)
    elif membership == MembershipState.KNOCK and rv.knock_join_rule:
        _check_knock(event, auth_state, rv, target)
    else:
        raise AuthError(f"unknown membership {membership!r}")


def _check_join(event: Event, auth_state: AuthState, rv: RoomVersion, target: str) -> None:
    create = auth_state.get(CREATE_KEY)
    if create is not None and event.prev_event_ids == (create.event_id,):
        creator = create.sender if rv.implicit_room_creator else create.content.get("creator")
        if creator == target:
            return
    if event.sender != target:
        raise AuthError("cannot join on behalf of another user")
    current = _membership(auth_state, target)
    if current == MembershipState.BAN:
        raise AuthError(f"{target} is banned from the room")
    rule = _join_rule(auth_state)
    if rule == "invite" or (rule == "knock" and rv.knock_join_rule):
        if current in (MembershipState.INVITE, MembershipState.JOIN):
            return
        raise AuthError(f"join rule is {rule} and {target} is not invited")
    if (rule == "restricted" and rv.restricted_join_rule) or (
        rule == "knock_restricted" and rv.knock_restricted_join_rule
    ):
        if current in (MembershipState.INVITE, MembershipState.JOIN):
            return
        authoriser = event.content.get("join_authorised_via_users_server")
        if not isinstance(authoriser, str):
            raise AuthError("restricted join has no join_authorised_via_users_server")
        levels = PowerLevels(auth_state, rv)
        if _membership(auth_state, authoriser) != MembershipState.JOIN:
            raise AuthError(f"authorising user {authoriser} is not joined")
        if levels.user_level(authoriser) < levels.named_level("invite"):
            raise AuthError(f"authorising user {authoriser} may not invite")
        return
    if rule == "public":
        return
    raise AuthError(f"join rule {rule!r} does not allow {target} to join")


def _decode_key(key: str) -> str:
    """Identity servers publish standard or URL-safe base64; normalise to standard."""
    return key.replace("-", "+").replace("_", "/")


def _third_party_invite_allowed(
    event: Event, auth_state: AuthState, rv: RoomVersion, target: str, tpi: Any
) -> None:
    if _membership(auth_state, target) == MembershipState.BAN:
        raise AuthError(f"{target} is banned from the room")
    signed = tpi.get("signed") if isinstance(tpi, dict) else None
    if not isinstance(signed, dict):
        raise AuthError("third_party_invite has no signed object")
    mxid, token = signed.get("mxid"), signed.get("token")
    if not isinstance(mxid, str) or not isinstance(token, str):
        raise AuthError("third_party_invite.signed needs mxid and token")
    if mxid != target:
        raise AuthError("third_party_invite mxid does not match the state_key")
    invite_event = auth_state.get((EventType.THIRD_PARTY_INVITE, token))
    if invite_event is None:
        raise AuthError("no m.room.third_party_invite event for this token")
    if invite_event.sender != event.sender:
        raise AuthError("sender did not send the m.room.third_party_invite")
    keys: list[str] = []
    if isinstance(invite_event.content.get("public_key"), str):
        keys.append(invite_event.content["public_key"])
    public_keys = invite_event.content.get("public_keys")
    if isinstance(public_keys, list):
        keys += [
            k["public_key"]
            for k in public_keys
            if isinstance(k, dict) and isinstance(k.get("public_key"), str)
        ]
    signatures = signed.get("signatures")
    if isinstance(signatures, dict):
        for server, by_key in signatures.items():
            if not isinstance(by_key, dict):
                continue
            for key_id in by_key:
                for public_key in keys:
                    try:
                        verify_signed_json(signed, server, key_id, _decode_key(public_key))
                    except (SignatureError, ValueError):
                        continue
                    return
    raise AuthError("no signature on third_party_invite matches the invite's public keys")


def _check_invite(event: Event, auth_state: AuthState, rv: RoomVersion, target: str) -> None:
    tpi = event.content.get("third_party_invite")
    if tpi is not None:
        _third_party_invite_allowed(event, auth_state, rv, target, tpi)
        return
    if _membership(auth_state, event.sender) != MembershipState.JOIN:
        raise AuthError(f"{event.sender} is not joined to the room")
    if _membership(auth_state, target) in (MembershipState.JOIN, MembershipState.BAN):
        raise AuthError(f"{target} is already joined or is banned")
    levels = PowerLevels(auth_state, rv)
    if levels.user_level(event.sender) < levels.named_level("invite"):
        raise AuthError(f"{event.sender} may not invite (invite level)")


def _check_leave(event: Event, auth_state: AuthState, rv: RoomVersion, target: str) -> None:
    if event.sender == target:
        allowed = (
            (MembershipState.INVITE, MembershipState.JOIN, MembershipState.KNOCK)
            if rv.knock_join_rule
            else (MembershipState.INVITE, MembershipState.JOIN)
        )
        if _membership(auth_state, target) in allowed:
            return
        raise AuthError(f"{target} cannot leave: not invited, joined or knocking")
    if _membership(auth_state, event.sender) != MembershipState.JOIN:
        raise AuthError(f"{event.sender} is not joined to the room")
    levels = PowerLevels(auth_state, rv)
    sender_level = levels.user_level(event.sender)
    if _membership(auth_state, target) == MembershipState.BAN and sender_level < levels.named_level(
        "ban"
    ):
        raise AuthError(f"{event.sender} may not unban (ban level)")
    if sender_level >= levels.named_level("kick") and levels.user_level(target) < sender_level:
        return
    raise AuthError(f"{event.sender} may not kick {target}")


def _check_ban(event: Event, auth_state: AuthState, rv: RoomVersion, target: str) -> None:
    if _membership(auth_state, event.sender) != MembershipState.JOIN:
        raise AuthError(f"{event.sender} is not joined to the room")
    levels = PowerLevels(auth_state, rv)
    sender_level = levels.user_level(event.sender)
    if sender_level >= levels.named_level("ban") and levels.user_level(target) < sender_level:
        return
    raise AuthError(f"{event.sender} may not ban {target}")


def _check_knock(event: Event, auth_state: AuthState, rv: RoomVersion, target: str) -> None:
    rule = _join_rule(auth_state)
    if not (rule == "knock" or (rule == "knock_restricted" and rv.knock_restricted_join_rule)):
        raise AuthError(f"join rule {rule!r} does not allow knocking")
    if event.sender != target:
        raise AuthError("cannot knock on behalf of another user")
    if _membership(auth_state, target) in (
        MembershipState.BAN,
        MembershipState.INVITE,
        MembershipState.JOIN,
    ):
        raise AuthError(f"{target} cannot knock: banned, invited or joined")
