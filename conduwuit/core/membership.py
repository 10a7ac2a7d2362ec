"""The values of ``content.membership`` in an ``m.room.member`` event (spec: "m.room.member").

Named ``MembershipState`` because ``conduwuit.service.rooms.membership.Membership``
is the service that changes them. A ``StrEnum``: members compare, hash and encode
(``json.dumps``, canonical JSON) as the plain strings.
"""

from __future__ import annotations

from enum import StrEnum


class MembershipState(StrEnum):
    JOIN = "join"
    INVITE = "invite"
    LEAVE = "leave"
    BAN = "ban"
    KNOCK = "knock"


#: Every membership value, in the order the spec lists them.
MEMBERSHIPS: tuple[MembershipState, ...] = tuple(MembershipState)

#: Memberships with which a user is in a room's member list as current: joined, or
#: with an open invite or knock (what can be left, kicked, and not yet forgotten).
IN_ROOM: tuple[MembershipState, ...] = (
    MembershipState.JOIN,
    MembershipState.INVITE,
    MembershipState.KNOCK,
)
