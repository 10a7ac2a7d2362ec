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
