"""Parsing registrations and matching namespaces (conduwuit.core.appservice)."""

from __future__ import annotations

from typing import Any

import pytest

from conduwuit.core.appservice import (
    NamespaceKind,
    RegistrationError,
    exclusive_owner,
    interested_in_event,
    interested_in_room,
    parse_registration,
    registration_to_json,
)

#: Namespaces of every kind, for the interest checks.
BRIDGE_NAMESPACES = {
    "users": [{"exclusive": True, "regex": "@_irc_.*"}],
    "aliases": [{"exclusive": False, "regex": "#_irc_.*"}],
    "rooms": [{"exclusive": False, "regex": "!bridged:.*"}],
}


def raw(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "irc",
        "url": "http://127.0.0.1:9000",
        "as_token": "as-secret",
        "hs_token": "hs-secret",
        "sender_localpart": "_irc_bot",
        "namespaces": {
            "users": [{"exclusive": True, "regex": "@_irc_.*:example\\.org"}],
            "aliases": [{"exclusive": False, "regex": "#_irc_.*"}],
            "rooms": [],
        },
        "rate_limited": False,
        "protocols": ["irc"],
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


def test_parses_a_full_registration_and_round_trips() -> None:
    reg = parse_registration(raw())
    assert reg.id == "irc" and reg.url == "http://127.0.0.1:9000"
    assert reg.sender("example.org") == "@_irc_bot:example.org"
    assert reg.rate_limited is False and reg.protocols == ("irc",)
    assert parse_registration(registration_to_json(reg)) == reg


def test_url_may_be_null_and_namespaces_may_be_absent() -> None:
    reg = parse_registration(raw(url=None, namespaces={}))
    assert reg.url is None and reg.namespaces.users == ()


def test_msc2409_key_sets_receive_ephemeral() -> None:
    unstable = parse_registration(raw(**{"de.sorunome.msc2409.push_ephemeral": True}))
    assert unstable.receive_ephemeral and unstable.ephemeral_unstable
    stable = parse_registration(raw(receive_ephemeral=True))
    assert stable.receive_ephemeral and not stable.ephemeral_unstable
    # Both keys: the stable one wins (Synapse sends under the stable key then).
    both = parse_registration(
        raw(receive_ephemeral=True, **{"de.sorunome.msc2409.push_ephemeral": True})
    )
    assert both.receive_ephemeral and not both.ephemeral_unstable
    for reg in (unstable, stable, both):
        assert parse_registration(registration_to_json(reg)) == reg
    assert not parse_registration(raw()).receive_ephemeral


def test_msc3202_flag() -> None:
    reg = parse_registration(raw(**{"org.matrix.msc3202": True}))
    assert reg.msc3202 and parse_registration(registration_to_json(reg)) == reg
    assert not parse_registration(raw()).msc3202
    with pytest.raises(RegistrationError, match=r"org\.matrix\.msc3202"):
        parse_registration(raw(**{"org.matrix.msc3202": "yes"}))


def test_interested_in_room_by_id_alias_or_member() -> None:
    reg = parse_registration(raw(namespaces=BRIDGE_NAMESPACES))

    def none() -> list[str]:
        return []

    assert interested_in_room(reg, "!bridged:example.org", none, none)
    assert interested_in_room(reg, "!x:example.org", lambda: ["#_irc_a:example.org"], none)
    assert interested_in_room(reg, "!x:example.org", none, lambda: ["@_irc_b:example.org"])
    assert not interested_in_room(
        reg, "!x:example.org", lambda: ["#other:example.org"], lambda: ["@alice:example.org"]
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id": ...}, "'id' is required"),
        ({"as_token": ""}, "'as_token' must be a non-empty string"),
        ({"url": 5}, "'url' must be a non-empty string or null"),
        ({"url": "ftp://x"}, "'url' must be an http:// or https:// URL"),
        ({"hs_token": "as-secret"}, "must differ"),
        ({"namespaces": ...}, "'namespaces' is required"),
        ({"namespaces": {"users": {"regex": "x"}}}, "'namespaces.users' must be a list"),
        ({"namespaces": {"rooms": [{"regex": "("}]}}, "'namespaces.rooms[0].regex' is not a valid"),
        ({"namespaces": {"users": [{"exclusive": "yes", "regex": "x"}]}}, "exclusive' must be"),
        ({"namespaces": {"aliases": [{"exclusive": True}]}}, "'namespaces.aliases[0].regex'"),
        ({"rate_limited": "no"}, "'rate_limited' must be true or false"),
        ({"protocols": "irc"}, "'protocols' must be a list of strings"),
        ({"receive_ephemeral": "yes"}, "'receive_ephemeral' must be true or false"),
        ({"de.sorunome.msc2409.push_ephemeral": 1}, "push_ephemeral' must be true or false"),
    ],
)
def test_bad_fields_are_named(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(RegistrationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_registration(raw(**changes))


def test_not_a_mapping() -> None:
    with pytest.raises(RegistrationError, match="must be a mapping"):
        parse_registration(["id", "irc"])


def test_namespace_matching_is_anchored_at_the_start_like_synapse() -> None:
    reg = parse_registration(raw())
    assert reg.in_namespace(NamespaceKind.USERS, "@_irc_alice:example.org")
    assert not reg.in_namespace(NamespaceKind.USERS, "@alice:example.org")
    assert not reg.in_namespace(NamespaceKind.USERS, "@x@_irc_a:example.org")
    assert reg.in_namespace(NamespaceKind.ALIASES, "#_irc_chan:example.org")
    assert not reg.in_namespace(NamespaceKind.ALIASES, "#_irc_chan:x", exclusive=True)
    assert not reg.in_namespace(NamespaceKind.ROOMS, "!a:example.org")


def test_who_a_service_may_act_as() -> None:
    reg = parse_registration(raw())
    assert reg.is_user_of("@_irc_bot:example.org", "example.org")
    assert reg.is_user_of("@_irc_bob:example.org", "example.org")
    assert not reg.is_user_of("@bob:example.org", "example.org")


def test_exclusive_owner() -> None:
    irc = parse_registration(raw())
    other = parse_registration(
        raw(id="other", as_token="t2", namespaces={"users": [{"exclusive": False, "regex": "@.*"}]})
    )
    assert exclusive_owner([other, irc], NamespaceKind.USERS, "@_irc_x:example.org") == irc
    assert exclusive_owner([other, irc], NamespaceKind.USERS, "@bob:example.org") is None


def test_interested_in_event() -> None:
    reg = parse_registration(raw(namespaces=BRIDGE_NAMESPACES))
    none: list[str] = []

    def boom() -> list[str]:
        raise AssertionError("not needed")

    def interested(pdu: dict[str, Any], aliases: Any = none, members: Any = none) -> bool:
        return interested_in_event(reg, pdu, lambda: aliases, lambda: members)

    plain = {"type": "m.room.message", "sender": "@bob:x", "room_id": "!r:x"}
    assert not interested(plain)
    assert interested_in_event(reg, {**plain, "sender": "@_irc_a:x"}, boom, boom)
    member = {"type": "m.room.member", "sender": "@bob:x", "state_key": "@_irc_a:x"}
    assert interested_in_event(reg, {**member, "room_id": "!r:x"}, boom, boom)
    assert not interested({**plain, "type": "m.custom", "state_key": "@_irc_a:x"})
    assert interested_in_event(reg, {**plain, "room_id": "!bridged:x"}, boom, boom)
    assert interested(plain, aliases=["#_irc_chan:x"])
    assert interested(plain, members=["@bob:x", "@_irc_c:x"])
    assert not interested(plain, aliases=["#other:x"], members=["@bob:x"])
