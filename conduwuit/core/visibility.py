"""History visibility (client-server API "History visibility"), decided per event
from the state at the event and the viewer's membership. Follows Synapse's
``visibility.py`` where the spec leaves room: the visibility and membership
"at" an event are those after it, so a user sees their own join, and a change of
``m.room.history_visibility`` is judged by the more permissive of old and new.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conduwuit.core.event_types import EventType
from conduwuit.core.membership import IN_ROOM, MembershipState
from conduwuit.core.redaction import redact
from conduwuit.core.room_versions import RoomVersion

# Most restrictive last; unknown values count as "shared" (the spec's default).
_VISIBILITY_ORDER = ("world_readable", "shared", "invited", "joined")
_MEMBERSHIP_PRIORITY = (
    MembershipState.JOIN,
    MembershipState.INVITE,
    MembershipState.KNOCK,
    MembershipState.LEAVE,
    MembershipState.BAN,
)


def effective_visibility(value: Any) -> str:
    return value if value in _VISIBILITY_ORDER else "shared"


def visibility_at(pdu: Mapping[str, Any], visibility_before: str) -> str:
    """The visibility that governs ``pdu``: for a visibility change, the more
    permissive of the old and new values."""
    if pdu.get("type") == EventType.HISTORY_VISIBILITY and pdu.get("state_key") == "":
        new = effective_visibility((pdu.get("content") or {}).get("history_visibility"))
        return min(new, visibility_before, key=_VISIBILITY_ORDER.index)
    return visibility_before


def membership_at(pdu: Mapping[str, Any], viewer: str, membership_before: str | None) -> str:
    """The viewer's membership at ``pdu``; for their own member event the more
    joined of before and after."""
    before = (
        membership_before if membership_before in _MEMBERSHIP_PRIORITY else MembershipState.LEAVE
    )
    if pdu.get("type") == EventType.MEMBER and pdu.get("state_key") == viewer:
        after = (pdu.get("content") or {}).get("membership")
        after = after if after in _MEMBERSHIP_PRIORITY else MembershipState.LEAVE
        return min(before, after, key=_MEMBERSHIP_PRIORITY.index)
    return before


def may_see(visibility: str, membership: str, currently_joined: bool) -> bool:
    """Whether a viewer may see an event (``visibility``/``membership`` at the event)."""
    if visibility == "world_readable":
        return True
    if membership == MembershipState.JOIN:
        return True
    if visibility == "joined":
        return False
    if visibility == "invited":
        return membership == MembershipState.INVITE
    # shared: everything, for users in the room now.
    return currently_joined


def may_see_state(visibility: str, membership: str | None, currently_joined: bool) -> bool:
    """Whether a viewer may read the room's state at an event (``/members?at=``), with
    ``visibility``/``membership`` at that event. The spec says nothing more than
    "History visibility"; this is Synapse's ``_user_can_see_state_at_event``: like
    :func:`may_see` except that an invitee may also read it under ``shared`` (an
    invited user sees who is in the room unless history is for joined members only).
    """
    if membership == MembershipState.JOIN:
        return True
    if visibility == "joined":
        return False
    if membership == MembershipState.INVITE:
        return True
    if visibility == "invited":
        return False
    if visibility == "world_readable":
        return True
    return currently_joined


def own_leave_visible(pdu: Mapping[str, Any], viewer: str, membership_before: str | None) -> bool:
    """Users always see their own leave after a join or invite (to see the room go)."""
    if pdu.get("type") != EventType.MEMBER or pdu.get("state_key") != viewer:
        return False
    after = (pdu.get("content") or {}).get("membership")
    return after in (MembershipState.LEAVE, MembershipState.BAN) and membership_before in IN_ROOM


def may_see_given(
    pdu: Mapping[str, Any],
    viewer: str,
    visibility_before: Any,
    membership_before: str | None,
    currently_joined: bool,
) -> bool:
    """Whether a viewer may see ``pdu`` given the state before it: the
    ``history_visibility`` value there and the viewer's membership there (None: none);
    their own leave always, else :func:`may_see` at the event."""
    if own_leave_visible(pdu, viewer, membership_before):
        return True
    governing = visibility_at(pdu, effective_visibility(visibility_before))
    return may_see(governing, membership_at(pdu, viewer, membership_before), currently_joined)


def erased_form(pdu: dict[str, Any], membership: str, room_version: RoomVersion) -> dict[str, Any]:
    """The form of an erased user's event a viewer gets (``erase`` on account
    deactivation, spec v1.10): the room version's redacted copy, unless the viewer was
    joined at the event (``membership`` at it), who keeps seeing the original.
    Synapse's ``filter_events_for_client``: "if the sender has been erased and the
    user was not joined at the time, we must only return the redacted form".
    """
    if membership == MembershipState.JOIN:
        return pdu
    return redact(pdu, room_version)
