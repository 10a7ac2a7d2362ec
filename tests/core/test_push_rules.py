"""Push rules: the spec v1.19 defaults, every condition against the spec's examples,
and the ruleset edits the API makes (client-server API "Push Rules")."""

from __future__ import annotations

from typing import Any

import pytest

from conduwuit.core.errors import MatrixError
from conduwuit.core.push import DEFAULT_RULESET, PushEvent, RoomContext, Ruleset
from conduwuit.core.push.evaluate import Actions, compile_ruleset

ALICE = "@alice:example.org"
BOB = "@bob:example.org"
ROOM = "!636q39766251:example.com"
GROUP = RoomContext(member_count=5, sender_power=0)


def event(type_: str, content: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "type": type_,
        "content": content,
        "sender": BOB,
        "room_id": ROOM,
        "event_id": "$143273582443PhrSn:example.org",
        **extra,
    }


def message(body: str = "hi", **content: Any) -> dict[str, Any]:
    return event("m.room.message", {"msgtype": "m.text", "body": body, **content})


def check(ev: dict[str, Any], room: RoomContext = GROUP, user: str = ALICE) -> Actions | None:
    return PushEvent(ev, room).evaluate(DEFAULT_RULESET, user)


def rule_of(ev: dict[str, Any], room: RoomContext = GROUP, user: str = ALICE) -> str | None:
    found = check(ev, room, user)
    return found.rule_id if found else None


def single(condition: dict[str, Any]) -> Ruleset:
    """A ruleset whose only enabled rule has this one condition."""
    body = {"conditions": [condition], "actions": ["notify"]}
    rules = Ruleset().with_rule("override", "test", body, None, None)
    for view in rules.all_rules():
        if view.default:
            rules = rules.with_enabled(view.kind, view.rule_id, False)
    return rules


def matches(condition: dict[str, Any], ev: dict[str, Any], room: RoomContext = GROUP) -> bool:
    return PushEvent(ev, room).evaluate(compile_ruleset(single(condition)), ALICE) is not None


# -- the default rules -----------------------------------------------------------------


def test_default_rules_are_the_spec_list_in_order() -> None:
    rendered = Ruleset().render(ALICE)
    # Without thread_subscription_push_rules, MSC4306's postcontent kind is absent.
    assert list(rendered) == ["override", "content", "room", "sender", "underride"]
    assert [r["rule_id"] for r in rendered["override"]] == [
        ".m.rule.master",
        ".m.rule.suppress_notices",
        ".m.rule.invite_for_me",
        ".m.rule.member_event",
        ".m.rule.is_user_mention",
        ".m.rule.is_room_mention",
        ".m.rule.tombstone",
        ".m.rule.reaction",
        ".m.rule.room.server_acl",
        ".m.rule.suppress_edits",
    ]
    assert rendered["content"] == rendered["room"] == rendered["sender"] == []
    assert [r["rule_id"] for r in rendered["underride"]] == [
        ".m.rule.call",
        ".m.rule.encrypted_room_one_to_one",
        ".m.rule.room_one_to_one",
        ".m.rule.message",
        ".m.rule.encrypted",
    ]
    assert all(r["default"] for rules in rendered.values() for r in rules)
    master = rendered["override"][0]
    assert master == {
        "rule_id": ".m.rule.master",
        "default": True,
        "enabled": False,
        "conditions": [],
        "actions": [],
    }


def test_user_id_placeholders_render_as_the_owner() -> None:
    rendered = Ruleset().render(ALICE)["override"]
    invite = next(r for r in rendered if r["rule_id"] == ".m.rule.invite_for_me")
    assert invite["conditions"][2] == {"kind": "event_match", "key": "state_key", "pattern": ALICE}
    mention = next(r for r in rendered if r["rule_id"] == ".m.rule.is_user_mention")
    assert mention["conditions"] == [
        {"kind": "event_property_contains", "key": "content.m\\.mentions.user_ids", "value": ALICE}
    ]


def test_master_rule_disabled_by_default_and_silences_everything_when_enabled() -> None:
    assert rule_of(message()) == ".m.rule.message"
    rules = compile_ruleset(Ruleset().with_enabled("override", ".m.rule.master", True))
    found = PushEvent(message(), GROUP).evaluate(rules, ALICE)
    assert found is not None and found.rule_id == ".m.rule.master" and not found.notify


def test_suppress_notices() -> None:
    found = check(message(msgtype="m.notice"))
    assert found is not None and found.rule_id == ".m.rule.suppress_notices"
    assert not found.notify


def test_invite_for_me_only_for_the_invitee() -> None:
    invite = event("m.room.member", {"membership": "invite"}, state_key=ALICE)
    found = check(invite)
    assert found is not None and found.rule_id == ".m.rule.invite_for_me"
    assert found.notify and found.tweaks == {"sound": "default"} and not found.highlight
    # Someone else's invite is just a member event: no notification.
    other = check(invite, user="@carol:example.org")
    assert other is not None and other.rule_id == ".m.rule.member_event" and not other.notify


def test_member_event_does_not_notify() -> None:
    assert rule_of(event("m.room.member", {"membership": "join"}, state_key=BOB)) == (
        ".m.rule.member_event"
    )


def test_is_user_mention_highlights_only_the_mentioned() -> None:
    ev = message("hey", **{"m.mentions": {"user_ids": [ALICE]}})
    found = check(ev)
    assert found is not None and found.rule_id == ".m.rule.is_user_mention"
    assert found.notify and found.highlight and found.tweaks["sound"] == "default"
    assert rule_of(ev, user="@carol:example.org") == ".m.rule.message"
    # The body does not count any more (v1.17, MSC4210): only m.mentions.
    assert rule_of(message(f"hi {ALICE} alice")) == ".m.rule.message"


def test_is_room_mention_needs_the_senders_power() -> None:
    ev = message("all", **{"m.mentions": {"room": True}})
    assert rule_of(ev) == ".m.rule.message"  # power 0 < notifications.room default 50
    powerful = RoomContext(member_count=5, sender_power=50)
    found = check(ev, powerful)
    assert found is not None and found.rule_id == ".m.rule.is_room_mention" and found.highlight
    lowered = RoomContext(member_count=5, sender_power=0, notification_levels={"room": 0})
    assert rule_of(ev, lowered) == ".m.rule.is_room_mention"
    # "true" is not true: event_property_is does not cast.
    assert rule_of(message("all", **{"m.mentions": {"room": "true"}}), powerful) == (
        ".m.rule.message"
    )


def test_tombstone_only_as_state() -> None:
    found = check(event("m.room.tombstone", {"body": "upgraded"}, state_key=""))
    assert found is not None and found.rule_id == ".m.rule.tombstone" and found.highlight
    assert check(event("m.room.tombstone", {"body": "upgraded"})) is None


def test_reaction_server_acl_and_edits_are_silent() -> None:
    assert rule_of(event("m.reaction", {})) == ".m.rule.reaction"
    assert rule_of(event("m.room.server_acl", {}, state_key="")) == ".m.rule.room.server_acl"
    edit = message("* fixed", **{"m.relates_to": {"rel_type": "m.replace", "event_id": "$x"}})
    found = check(edit)
    assert found is not None and found.rule_id == ".m.rule.suppress_edits" and not found.notify


def test_underride_rules() -> None:
    one_to_one = RoomContext(member_count=2, sender_power=0)
    call = check(event("m.call.invite", {}))
    assert call is not None and call.rule_id == ".m.rule.call" and call.tweaks == {"sound": "ring"}
    assert rule_of(event("m.room.encrypted", {}), one_to_one) == ".m.rule.encrypted_room_one_to_one"
    assert rule_of(message(), one_to_one) == ".m.rule.room_one_to_one"
    assert rule_of(message()) == ".m.rule.message"
    encrypted = check(event("m.room.encrypted", {}))
    assert encrypted is not None and encrypted.rule_id == ".m.rule.encrypted"
    assert encrypted.notify and not encrypted.highlight and encrypted.tweaks == {}
    assert check(event("m.room.topic", {"topic": "x"}, state_key="")) is None


# -- conditions, with the spec's examples ----------------------------------------------


def test_event_match_spec_example() -> None:
    condition = {"kind": "event_match", "key": "content.topic", "pattern": "lunc?*"}
    for topic, want in (
        ("Lunch plans", True),
        ("LUNCH", True),
        (" lunch", False),
        ("lunc", False),
        (None, False),
    ):
        ev = event("m.room.topic", {"topic": topic}, state_key="")
        assert matches(condition, ev) is want, topic
    # Absent: no match even for "*".
    assert not matches({"kind": "event_match", "key": "content.nope", "pattern": "*"}, message())


def test_event_match_body_at_word_boundaries() -> None:
    condition = {"kind": "event_match", "key": "content.body", "pattern": "ex*ple"}
    for body, want in (
        ("An example event.", True),
        ("exple", True),
        ("An exciting triple-whammy", True),
        ("anexample", False),
        ("examples", False),
    ):
        assert matches(condition, message(body)) is want, body


def test_event_property_is_spec_example() -> None:
    condition = {"kind": "event_property_is", "key": "content.m\\.federate", "value": True}
    for value, want in ((True, True), ("true", False), (1, False), (False, False)):
        ev = event("m.room.create", {"creator": BOB, "m.federate": value}, state_key="")
        assert matches(condition, ev) is want, value
    null = {"kind": "event_property_is", "key": "content.x", "value": None}
    assert matches(null, event("m.x", {"x": None}))
    assert not matches(null, event("m.x", {}))
    one = {"kind": "event_property_is", "key": "content.x", "value": 1}
    assert not matches(one, event("m.x", {"x": True}))


def test_event_property_contains_spec_example() -> None:
    condition = {
        "kind": "event_property_contains",
        "key": "content.alt_aliases",
        "value": "#myroom:example.com",
    }
    aliases = ["#somewhere:example.org", "#myroom:example.com"]
    assert matches(condition, event("m.room.canonical_alias", {"alt_aliases": aliases}))
    assert not matches(condition, event("m.x", {"alt_aliases": [":example.com"]}))
    assert not matches(condition, event("m.x", {"alt_aliases": "#myroom:example.com"}))
    ints = {"kind": "event_property_contains", "key": "content.n", "value": 1}
    assert not matches(ints, event("m.x", {"n": [True, {"a": 1}, [1]]}))
    assert matches(ints, event("m.x", {"n": [True, 1]}))


def test_room_member_count_operators() -> None:
    for is_, count, want in (
        ("2", 2, True),
        ("==2", 3, False),
        ("<10", 9, True),
        ("<10", 10, False),
        ("<=10", 10, True),
        (">2", 3, True),
        (">=3", 2, False),
        ("lots", 2, False),
        ("=<2", 2, False),
    ):
        room = RoomContext(member_count=count, sender_power=0)
        assert matches({"kind": "room_member_count", "is": is_}, message(), room) is want, is_


def test_sender_notification_permission_other_keys() -> None:
    condition = {"kind": "sender_notification_permission", "key": "custom"}
    assert not matches(condition, message(), RoomContext(2, 49))
    assert matches(condition, message(), RoomContext(2, 50))
    assert matches(condition, message(), RoomContext(2, 5, {"custom": 5}))


def test_contains_display_name() -> None:
    rules = compile_ruleset(single({"kind": "contains_display_name"}))
    assert rules.uses_display_name and not DEFAULT_RULESET.uses_display_name
    ev = PushEvent(message("Hi Alice (she/her)!"), GROUP)
    assert ev.evaluate(rules, ALICE, "alice (she/her)") is not None
    assert ev.evaluate(rules, ALICE, "Ali") is None
    assert ev.evaluate(rules, ALICE, None) is None
    # The name is literal: glob characters in it are not wildcards.
    assert PushEvent(message("a*b"), GROUP).evaluate(rules, ALICE, "a*b") is not None
    assert PushEvent(message("axxb"), GROUP).evaluate(rules, ALICE, "a*b") is None


def test_unknown_conditions_never_match() -> None:
    assert not matches({"kind": "org.example.always"}, message())


def test_room_sender_and_content_rules() -> None:
    cake = {"pattern": "cake", "actions": ["notify", {"set_tweak": "sound", "value": "cake.wav"}]}
    rules = (
        Ruleset()
        .with_rule("room", ROOM, {"actions": []}, None, None)
        .with_rule("sender", "@carol:example.org", {"actions": ["notify"]}, None, None)
        .with_rule("content", "cake", cake, None, None)
    )
    compiled = compile_ruleset(rules)

    def who(ev: dict[str, Any]) -> str | None:
        found = PushEvent(ev, GROUP).evaluate(compiled, ALICE)
        return found.rule_id if found else None

    # Content rules come before room rules.
    assert who(message("I want cake")) == "cake"
    assert who(message("hello")) == ROOM
    assert who({**message("hello"), "room_id": "!other:x", "sender": "@carol:example.org"}) == (
        "@carol:example.org"
    )
    # User override rules come after the master rule but before the default overrides.
    override = rules.with_rule(
        "override", "beer", {"conditions": [], "actions": ["notify"]}, None, None
    )
    assert [r.rule_id for r in override.rules("override")][:2] == [".m.rule.master", "beer"]


def test_historical_actions_are_kept_but_do_not_notify() -> None:
    rules = Ruleset().with_rule(
        "override", "x", {"actions": ["dont_notify", "coalesce"]}, None, None
    )
    assert rules.find("override", "x").actions == ["dont_notify", "coalesce"]
    assert not Actions.of("x", ["dont_notify", "coalesce"]).notify


# -- ruleset edits ---------------------------------------------------------------------


def ids(rules: Ruleset, kind: str = "underride") -> list[str]:
    return [r.rule_id for r in rules.rules(kind) if not r.default]


def test_put_places_rules() -> None:
    body = {"actions": ["notify"]}
    rules = Ruleset().with_rule("underride", "a", body, None, None)
    rules = rules.with_rule("underride", "b", body, None, None)
    assert ids(rules) == ["b", "a"]  # new rules are the most important of their kind
    rules = rules.with_rule("underride", "c", body, None, "b")
    assert ids(rules) == ["b", "c", "a"]
    rules = rules.with_rule("underride", "d", body, "b", None)
    assert ids(rules) == ["d", "b", "c", "a"]
    rules = rules.with_rule("underride", "a", body, "d", "c")  # before wins
    assert ids(rules) == ["a", "d", "b", "c"]
    disabled = rules.with_enabled("underride", "c", False)
    replaced = disabled.with_rule("underride", "c", {"actions": []}, None, None)
    assert ids(replaced) == ids(rules)
    assert replaced.find("underride", "c").enabled is False  # an update keeps enabled


@pytest.mark.parametrize(
    ("kind", "rule_id", "body", "before", "after", "errcode"),
    [
        ("nope", "a", {"actions": []}, None, None, "M_INVALID_PARAM"),
        ("override", ".m.rule.x", {"actions": []}, None, None, "M_INVALID_PARAM"),
        ("override", "a/b", {"actions": []}, None, None, "M_INVALID_PARAM"),
        ("override", "a", {"actions": []}, "missing", None, "M_INVALID_PARAM"),
        ("override", "a", {"actions": []}, None, ".m.rule.master", "M_INVALID_PARAM"),
        ("override", "a", {}, None, None, "M_BAD_JSON"),
        ("override", "a", {"actions": "notify"}, None, None, "M_BAD_JSON"),
        ("override", "a", {"actions": ["explode"]}, None, None, "M_BAD_JSON"),
        ("override", "a", {"actions": [], "conditions": {}}, None, None, "M_BAD_JSON"),
        ("override", "a", {"actions": [], "conditions": [{"key": "x"}]}, None, None, "M_BAD_JSON"),
        ("content", "a", {"actions": []}, None, None, "M_BAD_JSON"),
        (
            "override",
            "a",
            {
                "actions": [],
                "conditions": [{"kind": "event_property_is", "key": "k", "value": 1.5}],
            },
            None,
            None,
            "M_BAD_JSON",
        ),
    ],
)
def test_put_refusals(
    kind: str, rule_id: str, body: Any, before: str | None, after: str | None, errcode: str
) -> None:
    with pytest.raises(MatrixError) as err:
        Ruleset().with_rule(kind, rule_id, body, before, after)
    assert err.value.errcode == errcode


def test_defaults_can_be_toggled_and_given_actions_but_not_deleted() -> None:
    rules = Ruleset().with_enabled("override", ".m.rule.master", True)
    rules = rules.with_actions("underride", ".m.rule.message", [])
    assert rules.find("override", ".m.rule.master").enabled
    assert rules.find("underride", ".m.rule.message").actions == []
    with pytest.raises(MatrixError) as err:
        rules.without_rule("override", ".m.rule.master")
    assert err.value.errcode == "M_INVALID_PARAM"
    with pytest.raises(MatrixError) as err:
        rules.find("override", "missing")
    assert err.value.errcode == "M_NOT_FOUND"
    with pytest.raises(MatrixError) as err:
        rules.with_enabled("override", ".m.rule.master", "yes")
    assert err.value.errcode == "M_BAD_JSON"


def test_storage_round_trip_keeps_own_rules_and_changes_to_defaults_only() -> None:
    rules = (
        Ruleset()
        .with_rule("override", "x", {"conditions": [], "actions": ["notify"]}, None, None)
        .with_enabled("override", ".m.rule.master", True)
    )
    content = rules.to_content(ALICE)
    assert content["global"] == rules.render(ALICE)
    back = Ruleset.from_content(content)
    assert back.render(ALICE) == rules.render(ALICE)
    assert back.changed == {"override/.m.rule.master": {"enabled": True}}
    # A default the user never changed follows the code, whatever was stored for it.
    content["global"]["underride"][-1]["actions"] = ["stale"]
    assert Ruleset.from_content(content).find("underride", ".m.rule.encrypted").actions == [
        "notify"
    ]
    assert Ruleset.from_content(None).is_default and Ruleset.from_content({"global": 3}).is_default
