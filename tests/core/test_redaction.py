from typing import Any

import pytest

from conduwuit.core import room_versions as rv
from conduwuit.core.redaction import redact, redaction_target, should_apply_redaction


def ev(type_: str, content: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "type": type_,
        "content": content,
        "sender": "@a:x",
        "room_id": "!r:x",
        "origin": "x",
        "membership": "join",
        "prev_state": [],
        "origin_server_ts": 1,
        "depth": 1,
        "unsigned": {"age": 1},
        "hashes": {"sha256": "h"},
        "signatures": {},
        "prev_events": [],
        "auth_events": [],
        "custom": 1,
        **extra,
    }


def test_top_level_keys_v1_vs_v11() -> None:
    event = ev("m.room.message", {"body": "hi"})
    old = redact(event, rv.V1)
    assert "origin" in old and "membership" in old and "prev_state" in old
    assert "unsigned" not in old and "custom" not in old
    assert old["content"] == {}
    new = redact(event, rv.V11)
    assert not {"origin", "membership", "prev_state", "unsigned", "custom"} & set(new)
    assert set(new) == {
        "type",
        "content",
        "sender",
        "room_id",
        "origin_server_ts",
        "depth",
        "hashes",
        "signatures",
        "prev_events",
        "auth_events",
    }


MEMBER = {
    "membership": "join",
    "displayname": "A",
    "join_authorised_via_users_server": "@b:y",
    "third_party_invite": {"signed": {"mxid": "@a:x"}, "display_name": "a"},
}


@pytest.mark.parametrize(
    ("version", "type_", "content", "kept"),
    [
        (rv.V1, "m.room.member", MEMBER, {"membership": "join"}),
        (
            rv.V9,
            "m.room.member",
            MEMBER,
            {"membership": "join", "join_authorised_via_users_server": "@b:y"},
        ),
        (
            rv.V11,
            "m.room.member",
            MEMBER,
            {
                "membership": "join",
                "join_authorised_via_users_server": "@b:y",
                "third_party_invite": {"signed": {"mxid": "@a:x"}},
            },
        ),
        (rv.V10, "m.room.create", {"creator": "@a:x", "room_version": "10"}, {"creator": "@a:x"}),
        (rv.V11, "m.room.create", {"room_version": "11", "x": 1}, {"room_version": "11", "x": 1}),
        (rv.V7, "m.room.join_rules", {"join_rule": "public", "allow": []}, {"join_rule": "public"}),
        (
            rv.V8,
            "m.room.join_rules",
            {"join_rule": "restricted", "allow": [], "x": 1},
            {"join_rule": "restricted", "allow": []},
        ),
        (rv.V10, "m.room.power_levels", {"ban": 50, "invite": 0, "x": 1}, {"ban": 50}),
        (rv.V11, "m.room.power_levels", {"ban": 50, "invite": 0, "x": 1}, {"ban": 50, "invite": 0}),
        (rv.V5, "m.room.aliases", {"aliases": ["#a:x"]}, {"aliases": ["#a:x"]}),
        (rv.V6, "m.room.aliases", {"aliases": ["#a:x"]}, {}),
        (
            rv.V1,
            "m.room.history_visibility",
            {"history_visibility": "shared", "x": 1},
            {"history_visibility": "shared"},
        ),
        (rv.V10, "m.room.redaction", {"redacts": "$e", "reason": "r"}, {}),
        (rv.V11, "m.room.redaction", {"redacts": "$e", "reason": "r"}, {"redacts": "$e"}),
    ],
)
def test_content_rules(
    version: rv.RoomVersion, type_: str, content: dict[str, Any], kept: dict[str, Any]
) -> None:
    assert redact(ev(type_, content, state_key=""), version)["content"] == kept


def test_redact_does_not_modify_input() -> None:
    event = ev("m.room.member", dict(MEMBER), state_key="@a:x")
    before = repr(event)
    redact(event, rv.V11)
    assert repr(event) == before


def test_redaction_target() -> None:
    old = {"type": "m.room.redaction", "redacts": "$a", "content": {}}
    new = {"type": "m.room.redaction", "content": {"redacts": "$b"}}
    assert redaction_target(old, rv.V10) == "$a"
    assert redaction_target(new, rv.V10) is None
    assert redaction_target(new, rv.V11) == "$b"
    assert redaction_target(old, rv.V11) == "$a"
    assert redaction_target({"type": "m.room.message", "redacts": "$a"}, rv.V11) is None


def test_should_apply_redaction() -> None:
    assert should_apply_redaction("@mod:x", 50, 50, "@u:y")
    assert should_apply_redaction("@u2:y", 0, 50, "@u:y")
    assert not should_apply_redaction("@u2:z", 0, 50, "@u:y")
