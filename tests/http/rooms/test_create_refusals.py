"""A refused ``POST /createRoom`` changes nothing (issue #13): every planned event is
built and checked before the first is written. The bad bodies are generated: each
bad value in each place of the request that ends up in an event."""

from __future__ import annotations

import itertools
from typing import Any

from tests.kit.homeserver import Homeserver

from .conftest import Users

BAD_VALUES: dict[str, Any] = {
    "too big": 2**53,
    "too small": -(2**53),
    "huge": 2**64,
    "float": 1.5,
    "nested too big": {"deep": [1, 2**60]},
}


def places(value: Any) -> dict[str, dict[str, Any]]:
    """Each place of a createRoom body that becomes event content, holding ``value``."""
    return {
        "power_level_content_override.ban": {"power_level_content_override": {"ban": value}},
        "power_level_content_override.users": {
            "power_level_content_override": {"users": {"@x:test.example": value}}
        },
        "power_level_content_override.extra": {"power_level_content_override": {"x": value}},
        "initial_state.power_levels": {
            "initial_state": [{"type": "m.room.power_levels", "content": {"kick": value}}]
        },
        "initial_state.custom": {
            "initial_state": [{"type": "org.example", "state_key": "k", "content": {"v": value}}]
        },
        "initial_state.join_rules": {
            "initial_state": [
                {"type": "m.room.join_rules", "content": {"join_rule": "public", "n": value}}
            ]
        },
        "initial_state.last": {
            "initial_state": [
                {"type": "org.example.a", "content": {}},
                {"type": "org.example.b", "content": {"n": value}},
            ]
        },
        "creation_content": {"creation_content": {"n": value}},
    }


def bad_bodies() -> list[tuple[str, dict[str, Any]]]:
    cases = [
        (f"{where} = {name}", body)
        for (name, value) in BAD_VALUES.items()
        for where, body in places(value).items()
    ]
    long_key = "k" * 300
    for version, (field, body) in itertools.product(
        ("1", "10", "11", "12"),
        {
            "long type": {"initial_state": [{"type": long_key, "content": {}}]},
            "long state_key": {
                "initial_state": [{"type": "a", "state_key": long_key, "content": {}}]
            },
            "bad power levels": {"power_level_content_override": {"users": {"@a:b": "high"}}},
            "too large name": {"name": "n" * 70_000},
            "member in initial_state": {
                "initial_state": [
                    {"type": "m.room.member", "state_key": "@x:test.example", "content": {}}
                ]
            },
        }.items(),
    ):
        cases.append((f"v{version} {field}", {"room_version": version, **body}))
    for version in ("6", "10", "12"):  # strict canonical JSON from v6 on
        body = {"room_version": version, "power_level_content_override": {"ban": 2**53}}
        cases.append((f"v{version} out-of-range power level", body))
    return cases


async def test_a_refused_create_room_writes_nothing(hs: Homeserver, users: Users) -> None:
    await users.add("admin")  # the first user joins the admin room: not alice
    alice = await users.add("alice")
    wrong = []
    for label, body in bad_bodies():
        position = hs.services.db.current_count()
        status, reply = await users.call(alice, "POST", "/createRoom", body)
        refused = 400 <= status < 500 and "errcode" in reply
        if not refused or hs.services.db.current_count() != position:
            wrong.append((label, status, reply))
    assert wrong == []
    assert await users.ok(alice, "GET", "/joined_rooms") == {"joined_rooms": []}
    assert hs.services.db.current_count() == position
    # The same fields with good values make a room.
    good = {
        "power_level_content_override": {"ban": 60},
        "initial_state": [{"type": "org.example", "state_key": "k", "content": {"v": 2**53 - 1}}],
        "creation_content": {"n": -(2**53) + 1},
    }
    room = (await users.ok(alice, "POST", "/createRoom", good))["room_id"]
    assert await users.ok(alice, "GET", f"/rooms/{room}/state/org.example/k") == {"v": 2**53 - 1}
