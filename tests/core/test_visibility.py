"""core.visibility: the erased form of an event (spec v1.10 erasure)."""

from __future__ import annotations

from typing import Any

from conduwuit.core.membership import MembershipState
from conduwuit.core.room_versions import KNOWN_ROOM_VERSIONS
from conduwuit.core.visibility import erased_form

MESSAGE: dict[str, Any] = {
    "type": "m.room.message",
    "event_id": "$e",
    "room_id": "!r:x",
    "sender": "@erin:x",
    "origin_server_ts": 1,
    "content": {"msgtype": "m.text", "body": "secret"},
    "unsigned": {"transaction_id": "t"},
}
MEMBER: dict[str, Any] = {
    **MESSAGE,
    "type": "m.room.member",
    "state_key": "@erin:x",
    "content": {"membership": "join", "displayname": "Erin", "avatar_url": "mxc://x/y"},
    "unsigned": {"prev_content": {"membership": "invite"}},
}


def test_joined_viewer_gets_the_original() -> None:
    for version in KNOWN_ROOM_VERSIONS.values():
        assert erased_form(MESSAGE, MembershipState.JOIN, version) is MESSAGE


def test_others_get_the_room_versions_redacted_copy() -> None:
    for version in KNOWN_ROOM_VERSIONS.values():
        for membership in (MembershipState.LEAVE, MembershipState.INVITE, MembershipState.BAN):
            copy = erased_form(MESSAGE, membership, version)
            assert copy["content"] == {}
            assert "unsigned" not in copy
            assert {k: copy[k] for k in ("event_id", "sender", "type")} == {
                "event_id": "$e",
                "sender": "@erin:x",
                "type": "m.room.message",
            }
            member = erased_form(MEMBER, membership, version)
            assert member["content"] == {"membership": "join"}
            assert member["state_key"] == "@erin:x"
    # The input is not modified.
    assert MESSAGE["content"]["body"] == "secret"


def test_may_see_given_the_state_before_the_event() -> None:
    """The visibility and the viewer's membership before an event decide, as
    ``RoomHistory.view`` decides on stored state (what a fetched event is judged by
    before it is stored)."""
    from conduwuit.core.visibility import may_see_given

    viewer = "@vic:x"
    # Joined members only: not for a viewer who was not joined, even joined now.
    assert not may_see_given(MESSAGE, viewer, "joined", None, True)
    assert may_see_given(MESSAGE, viewer, "joined", MembershipState.JOIN, True)
    # Shared (also a missing or unknown value): for members now.
    for value in ("shared", None, "nonsense"):
        assert may_see_given(MESSAGE, viewer, value, None, True)
        assert not may_see_given(MESSAGE, viewer, value, None, False)
    assert may_see_given(MESSAGE, viewer, "invited", MembershipState.INVITE, False)
    assert may_see_given(MESSAGE, viewer, "world_readable", None, False)
    # A change of visibility counts by the more permissive of old and new.
    opening = {**MESSAGE, "type": "m.room.history_visibility", "state_key": ""}
    opening["content"] = {"history_visibility": "world_readable"}
    assert may_see_given(opening, viewer, "joined", None, False)
    # One's own leave after a join is always seen.
    leave = {**MEMBER, "state_key": viewer, "content": {"membership": "leave"}}
    assert may_see_given(leave, viewer, "joined", MembershipState.JOIN, False)
