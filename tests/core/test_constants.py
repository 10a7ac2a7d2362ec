"""Event-type and membership constants are the plain strings on the wire and in dicts."""

from __future__ import annotations

import json

import pytest

from conduwuit.core import canonical_json
from conduwuit.core.event_types import EventType
from conduwuit.core.membership import MEMBERSHIPS, MembershipState


def test_memberships_are_the_spec_values() -> None:
    assert MEMBERSHIPS == ("join", "invite", "leave", "ban", "knock")


@pytest.mark.parametrize("member", [*EventType, *MembershipState])
def test_member_is_the_plain_string(member: EventType | MembershipState) -> None:
    plain = member.value
    assert member == plain and hash(member) == hash(plain)
    assert {plain: 1}[member] == 1 and {(member, "@a:b"): 1}[(plain, "@a:b")] == 1
    assert str(member) == f"{member}" == plain
    assert json.dumps({member: member}) == json.dumps({plain: plain})
    assert canonical_json.encode({member: [member], "a": 1}) == canonical_json.encode(
        {plain: [plain], "a": 1}
    )
    assert canonical_json.encode_lenient({member: member}) == canonical_json.encode_lenient(
        {plain: plain}
    )


def test_json_of_an_event() -> None:
    event = {"type": EventType.MESSAGE, "content": {"membership": MembershipState.JOIN}}
    assert json.dumps(event) == '{"type": "m.room.message", "content": {"membership": "join"}}'
    assert canonical_json.encode({EventType.MESSAGE: 1}) == b'{"m.room.message":1}'
