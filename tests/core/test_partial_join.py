"""The state a partial-state send_join answer keeps, and its servers_in_room."""

from __future__ import annotations

from conduwuit.core.partial_join import joined_servers, partial_state_ids

STATE = {
    ("m.room.create", ""): "$create",
    ("m.room.power_levels", ""): "$pl",
    ("m.room.join_rules", ""): "$jr",
    ("m.room.member", "@a:one"): "$a",
    ("m.room.member", "@b:two"): "$b",
    ("m.room.member", "@c:two"): "$c",
    ("m.room.member", "@eve:three"): "$eve",
}


def no_heroes() -> list[str]:
    raise AssertionError("heroes are asked only for a room without name and alias")


def test_an_unnamed_room_keeps_non_members_the_joiner_and_the_heroes() -> None:
    kept = partial_state_ids(STATE, "@eve:three", lambda: ["@a:one", "@nobody:four"])
    assert kept == {"$create", "$pl", "$jr", "$eve", "$a"}


def test_a_name_or_an_alias_drops_the_heroes() -> None:
    for extra in (("m.room.name", ""), ("m.room.canonical_alias", "")):
        state = {**STATE, extra: "$named"}
        kept = partial_state_ids(state, "@new:five", no_heroes)
        assert kept == {"$create", "$pl", "$jr", "$named"}


def test_joined_servers_are_those_with_a_joined_member() -> None:
    memberships = [
        ("@a:one", "join"),
        ("@b:two", "leave"),
        ("@c:two", "join"),
        ("@d:three", "invite"),
        ("@e:four", "ban"),
        ("@f:one", "join"),
        ("@g:five", None),
    ]
    assert joined_servers(memberships) == ["one", "two"]
    assert joined_servers([]) == []
