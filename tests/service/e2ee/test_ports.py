from __future__ import annotations

from conduwuit.service.e2ee.ports import JoinedMembership


def test_joined_membership_unions_members_of_the_users_rooms() -> None:
    rooms = {"!a:x": {"@u:x", "@v:x"}, "!b:x": {"@u:x", "@w:x"}, "!c:x": {"@z:x"}}
    membership = JoinedMembership(
        lambda user: [r for r, members in rooms.items() if user in members],
        lambda room: rooms.get(room, set()),
    )
    assert membership.users_sharing_rooms("@u:x") == {"@u:x", "@v:x", "@w:x"}
    assert membership.users_sharing_rooms("@nobody:x") == set()
    assert membership.room_members("!c:x") == {"@z:x"}
