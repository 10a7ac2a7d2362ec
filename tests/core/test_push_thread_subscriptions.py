"""MSC4306's push-rule part: the ``postcontent`` kind with its two default rules and
the ``io.element.msc4306.thread_subscription`` condition, evaluated with the user's
subscription to the event's thread (the lookup the caller gives for a thread event)."""

from __future__ import annotations

from typing import Any

import pytest

from conduwuit.core.errors import MatrixError
from conduwuit.core.push import (
    DEFAULT_RULESET,
    DEFAULT_THREAD_RULESET,
    PushEvent,
    RoomContext,
    Ruleset,
)
from conduwuit.core.push.evaluate import Actions, compile_ruleset

ALICE = "@alice:example.org"
BOB = "@bob:example.org"
ROOT = "$root:example.org"
GROUP = RoomContext(member_count=5, sender_power=0)
THREADS = Ruleset(thread_subscriptions=True)
UNSUBSCRIBED = ".io.element.msc4306.rule.unsubscribed_thread"
SUBSCRIBED = ".io.element.msc4306.rule.subscribed_thread"


def message(in_thread: bool = True, **content: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"msgtype": "m.text", "body": "hi", **content}
    if in_thread:
        body["m.relates_to"] = {"rel_type": "m.thread", "event_id": ROOT}
    return {"type": "m.room.message", "content": body, "sender": BOB, "room_id": "!r:x"}


class Lookups:
    """A thread's subscribers, counting the lookups the evaluator makes."""

    def __init__(self, *subscribers: str) -> None:
        self.subscribers = set(subscribers)
        self.calls: list[str] = []

    def __call__(self, user_id: str) -> bool:
        self.calls.append(user_id)
        return user_id in self.subscribers


def evaluate(
    ev: dict[str, Any], lookup: Lookups | None, ruleset: Any = DEFAULT_THREAD_RULESET
) -> Actions | None:
    return PushEvent(ev, GROUP, lookup).evaluate(ruleset, ALICE)


def test_postcontent_sits_between_content_and_room_with_synapses_rules() -> None:
    rendered = THREADS.render(ALICE)
    assert list(rendered) == ["override", "content", "postcontent", "room", "sender", "underride"]
    assert rendered["postcontent"] == [
        {
            "rule_id": UNSUBSCRIBED,
            "default": True,
            "enabled": True,
            "conditions": [{"kind": "io.element.msc4306.thread_subscription", "subscribed": False}],
            "actions": [],
        },
        {
            "rule_id": SUBSCRIBED,
            "default": True,
            "enabled": True,
            "conditions": [{"kind": "io.element.msc4306.thread_subscription", "subscribed": True}],
            "actions": ["notify", {"set_tweak": "sound", "value": "default"}],
        },
    ]
    # Off (the default): no such kind.
    assert "postcontent" not in Ruleset().render(ALICE)
    with pytest.raises(MatrixError) as refused:
        Ruleset().find("postcontent", SUBSCRIBED)
    assert refused.value.errcode == "M_INVALID_PARAM"


def test_a_thread_message_notifies_only_subscribers() -> None:
    subscribed = evaluate(message(), Lookups(ALICE))
    assert subscribed is not None and subscribed.rule_id == SUBSCRIBED
    assert subscribed.notify and subscribed.tweaks == {"sound": "default"}
    unsubscribed = evaluate(message(), Lookups(BOB))
    assert unsubscribed is not None and unsubscribed.rule_id == UNSUBSCRIBED
    assert not unsubscribed.notify


def test_mentions_and_keywords_still_notify_in_an_unfollowed_thread() -> None:
    mention = message(**{"m.mentions": {"user_ids": [ALICE]}})
    found = evaluate(mention, Lookups())
    assert found is not None and found.rule_id == ".m.rule.is_user_mention" and found.highlight
    keyword = THREADS.with_rule(
        "content", "coffee", {"pattern": "hi", "actions": ["notify"]}, None, None
    )
    found = evaluate(message(), Lookups(), compile_ruleset(keyword))
    assert found is not None and found.rule_id == "coffee"


def test_events_outside_threads_skip_the_rules() -> None:
    # The caller gives no lookup for an event in no thread (the root included, which
    # Synapse counts in the main timeline): the main timeline's rules apply.
    found = evaluate(message(in_thread=False), None)
    assert found is not None and found.rule_id == ".m.rule.message"
    narrowed = PushEvent(message(in_thread=False), GROUP).prepare(DEFAULT_THREAD_RULESET)
    assert narrowed.fallback is not None and narrowed.fallback.rule_id == ".m.rule.message"
    assert all(not rule.thread_only for rule in narrowed.candidates)


def test_the_lookup_runs_once_per_user_and_event() -> None:
    lookup = Lookups(ALICE)
    event = PushEvent(message(), GROUP, lookup)
    for user in (ALICE, BOB, ALICE):
        event.evaluate(DEFAULT_THREAD_RULESET, user)
    assert sorted(lookup.calls) == [ALICE, BOB]


def test_without_the_feature_threads_notify_as_before() -> None:
    # A lookup given to a ruleset without postcontent changes nothing.
    found = evaluate(message(), Lookups(), DEFAULT_RULESET)
    assert found is not None and found.rule_id == ".m.rule.message"


def test_disabling_the_default_rules_restores_thread_notifications() -> None:
    ruleset = THREADS.with_enabled("postcontent", UNSUBSCRIBED, False)
    found = evaluate(message(), Lookups(), compile_ruleset(ruleset))
    assert found is not None and found.rule_id == ".m.rule.message"
    assert ruleset.find("postcontent", UNSUBSCRIBED).enabled is False
    # The change survives the account-data round trip.
    back = Ruleset.from_content(ruleset.to_content(ALICE), thread_subscriptions=True)
    assert back.find("postcontent", UNSUBSCRIBED).enabled is False


@pytest.mark.parametrize(("subscribed", "matches"), [(True, True), (False, False)])
def test_the_condition_in_a_users_own_rule(subscribed: bool, matches: bool) -> None:
    body = {
        "conditions": [{"kind": "io.element.msc4306.thread_subscription", "subscribed": True}],
        "actions": ["notify", {"set_tweak": "highlight"}],
    }
    ruleset = compile_ruleset(Ruleset().with_rule("override", "mine", body, None, None))
    lookup = Lookups(ALICE) if subscribed else Lookups()
    found = evaluate(message(), lookup, ruleset)
    assert (found is not None and found.rule_id == "mine") is matches
    # Never outside a thread, nor when the feature is off (no lookup given).
    found = evaluate(message(in_thread=False), None, ruleset)
    assert found is not None and found.rule_id == ".m.rule.message"


@pytest.mark.parametrize("subscribed", ["true", 1, None])
def test_a_malformed_condition_never_matches(subscribed: Any) -> None:
    body = {
        "conditions": [
            {"kind": "io.element.msc4306.thread_subscription", "subscribed": subscribed}
        ],
        "actions": ["notify", {"set_tweak": "highlight"}],
    }
    ruleset = compile_ruleset(Ruleset().with_rule("override", "mine", body, None, None))
    found = evaluate(message(), Lookups(ALICE), ruleset)
    assert found is not None and found.rule_id == ".m.rule.message"


def test_clients_cannot_create_postcontent_rules() -> None:
    with pytest.raises(MatrixError) as refused:
        THREADS.with_rule("postcontent", "mine", {"actions": [], "conditions": []}, None, None)
    assert refused.value.errcode == "M_INVALID_PARAM"
    with pytest.raises(MatrixError) as refused:
        THREADS.without_rule("postcontent", SUBSCRIBED)
    assert refused.value.errcode == "M_INVALID_PARAM"
