"""Push rule evaluation (client-server API "Push Rules": conditions and actions).

Built to be cheap per (event, user) when one event is checked for every member
of a big room:

- per rule set, once: ``compile_ruleset`` turns rules into condition objects
  (keys canonicalised, globs compiled) and each rule's actions into an
  ``Actions`` result; users who never changed their rules share one compiled set;
- per event, once: ``PushEvent`` flattens the event to ``{path: value}``, and
  each condition that does not depend on the user (most of them) is evaluated
  at most once, memoised on the event;
- per (event, rule set), once: ``PushEvent.prepare`` finds the first rule that
  matches whatever the user, and the user-dependent rules before it whose other
  conditions hold; per user only those few remain (for the defaults: is the user
  mentioned, is it an invite for them).

MSC4306's ``thread_subscription`` condition reads whether the user follows the
event's thread through ``PushEvent.thread_subscribed``, a lookup the caller gives
only for an event in a thread; for any other event rules with that condition are
dropped when the ruleset is narrowed, so they cost nothing per user.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from conduwuit.core.push.defaults import THREAD_SUBSCRIPTION
from conduwuit.core.push.glob import compile_glob, compile_literal_words
from conduwuit.core.push.paths import canonical_key, flatten
from conduwuit.core.push.rules import WITH_CONDITIONS, Json, Ruleset

_MISSING = object()
_MEMBER_COUNT = re.compile(r"(==|<=|>=|<|>)?([0-9]+)")
BODY_KEY = "content.body"
#: ``notifications.<key>`` when the power levels do not say (m.room.power_levels: room is 50;
#: Synapse uses 50 for every key).
DEFAULT_NOTIFICATION_LEVEL = 50


@dataclass(frozen=True)
class Actions:
    """What a matched rule asks for: notify?, highlight?, the tweaks, the raw actions."""

    rule_id: str
    notify: bool
    highlight: bool
    tweaks: Mapping[str, Any]
    actions: tuple[Any, ...]

    @classmethod
    def of(cls, rule_id: str, actions: Sequence[Any]) -> Actions:
        tweaks: dict[str, Any] = {}
        for action in actions:
            if isinstance(action, dict) and isinstance(action.get("set_tweak"), str):
                # "If a highlight tweak is given with no value, its value is defined to be true."
                default = True if action["set_tweak"] == "highlight" else None
                tweaks[action["set_tweak"]] = action.get("value", default)
        return cls(
            rule_id=rule_id,
            notify="notify" in actions,
            highlight=tweaks.get("highlight") is True,
            tweaks=tweaks,
            actions=tuple(actions),
        )


@dataclass(frozen=True)
class RoomContext:
    """What conditions read of the room at the event: joined members and power levels."""

    member_count: int
    sender_power: int
    #: ``m.room.power_levels`` ``notifications``: key -> required level.
    notification_levels: Mapping[str, int] = field(default_factory=dict)


# -- conditions ------------------------------------------------------------------------


class Condition(ABC):
    """A compiled condition; ``user_dependent`` ones are checked per user, never memoised."""

    __slots__ = ()
    user_dependent = False
    #: Can only hold for an event in a thread (MSC4306).
    thread_only = False

    @abstractmethod
    def matches(self, ev: PushEvent, user_id: str, display_name: str | None) -> bool: ...


class Never(Condition):
    """Unknown or malformed conditions: "MUST NOT match any events"."""

    __slots__ = ()

    def matches(self, ev: PushEvent, user_id: str, display_name: str | None) -> bool:
        return False


class EventMatch(Condition):
    __slots__ = ("key", "regex", "words")

    def __init__(self, key: str, pattern: str) -> None:
        self.key = canonical_key(key)
        self.words = self.key == BODY_KEY
        self.regex = compile_glob(pattern, words=self.words)

    def matches(self, ev: PushEvent, user_id: str, display_name: str | None) -> bool:
        value = ev.flat.get(self.key)
        if not isinstance(value, str):
            return False
        found = self.regex.search(value) if self.words else self.regex.fullmatch(value)
        return found is not None


class EventMatchUserId(Condition):
    """``event_match`` with the rule owner's ID as the pattern (``.m.rule.invite_for_me``)."""

    __slots__ = ("key", "words")
    user_dependent = True

    def __init__(self, key: str) -> None:
        self.key = canonical_key(key)
        self.words = self.key == BODY_KEY

    def matches(self, ev: PushEvent, user_id: str, display_name: str | None) -> bool:
        value = ev.flat.get(self.key)
        if not isinstance(value, str):
            return False
        regex = compile_glob(user_id, words=self.words)
        return (regex.search(value) if self.words else regex.fullmatch(value)) is not None


def _same(a: Any, b: Any) -> bool:
    # Exact: no casts, so True is not 1 and "1" is not 1 (spec: "do not cast types").
    return type(a) is type(b) and bool(a == b)


class PropertyIs(Condition):
    __slots__ = ("key", "value")

    def __init__(self, key: str, value: Any) -> None:
        self.key = canonical_key(key)
        self.value = value

    def matches(self, ev: PushEvent, user_id: str, display_name: str | None) -> bool:
        return _same(ev.flat.get(self.key, _MISSING), self.value)


class PropertyContains(Condition):
    __slots__ = ("key", "value")

    def __init__(self, key: str, value: Any) -> None:
        self.key = canonical_key(key)
        self.value = value

    def matches(self, ev: PushEvent, user_id: str, display_name: str | None) -> bool:
        return ev.contains(self.key, self.value)


class PropertyContainsUserId(Condition):
    """``event_property_contains`` with the owner's ID (``.m.rule.is_user_mention``)."""

    __slots__ = ("key",)
    user_dependent = True

    def __init__(self, key: str) -> None:
        self.key = canonical_key(key)

    def matches(self, ev: PushEvent, user_id: str, display_name: str | None) -> bool:
        return ev.contains(self.key, user_id)


class ContainsDisplayName(Condition):
    """The owner's display name in the room, literally, at word boundaries of the body
    (Synapse escapes the name the same way; deprecated since v1.17 but still defined)."""

    __slots__ = ()
    user_dependent = True

    def matches(self, ev: PushEvent, user_id: str, display_name: str | None) -> bool:
        body = ev.flat.get(BODY_KEY)
        if not display_name or not isinstance(body, str):
            return False
        return compile_literal_words(display_name).search(body) is not None


class MemberCount(Condition):
    __slots__ = ("number", "op")

    def __init__(self, op: str, number: int) -> None:
        self.op = op
        self.number = number

    def matches(self, ev: PushEvent, user_id: str, display_name: str | None) -> bool:
        count, n = ev.room.member_count, self.number
        if self.op == "<":
            return count < n
        if self.op == ">":
            return count > n
        if self.op == "<=":
            return count <= n
        if self.op == ">=":
            return count >= n
        return count == n


class SenderPermission(Condition):
    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        self.key = key

    def matches(self, ev: PushEvent, user_id: str, display_name: str | None) -> bool:
        room = ev.room
        needed = room.notification_levels.get(self.key, DEFAULT_NOTIFICATION_LEVEL)
        return room.sender_power >= needed


class ThreadSubscription(Condition):
    """MSC4306 ``io.element.msc4306.thread_subscription``: the event is in a thread and
    the user is (``subscribed``) or is not subscribed to that thread."""

    __slots__ = ("subscribed",)
    user_dependent = True
    thread_only = True

    def __init__(self, subscribed: bool) -> None:
        self.subscribed = subscribed

    def matches(self, ev: PushEvent, user_id: str, display_name: str | None) -> bool:
        found = ev.is_subscribed(user_id)
        return found is not None and found is self.subscribed


def compile_condition(condition: Json) -> Condition:
    kind = condition.get("kind")
    key = condition.get("key")
    if kind == "event_match" and isinstance(key, str):
        if condition.get("pattern_type") == "user_id":
            return EventMatchUserId(key)
        pattern = condition.get("pattern")
        return EventMatch(key, pattern) if isinstance(pattern, str) else Never()
    if kind in ("event_property_is", "event_property_contains") and isinstance(key, str):
        if kind == "event_property_contains" and condition.get("value_type") == "user_id":
            return PropertyContainsUserId(key)
        if "value" not in condition:
            return Never()
        if kind == "event_property_is":
            return PropertyIs(key, condition["value"])
        return PropertyContains(key, condition["value"])
    if kind == "contains_display_name":
        return ContainsDisplayName()
    if kind == "room_member_count":
        found = _MEMBER_COUNT.fullmatch(str(condition.get("is", "")))
        if found is None:
            return Never()
        return MemberCount(found.group(1) or "==", int(found.group(2)))
    if kind == "sender_notification_permission" and isinstance(key, str):
        return SenderPermission(key)
    if kind == THREAD_SUBSCRIPTION and isinstance(condition.get("subscribed"), bool):
        return ThreadSubscription(condition["subscribed"])
    return Never()


# -- rules -----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CompiledRule:
    actions: Actions
    #: Conditions that hold or not whatever the user (memoised per event).
    shared: tuple[Condition, ...]
    #: Conditions that depend on the user being checked.
    personal: tuple[Condition, ...]
    #: Only an event in a thread can match (a condition is MSC4306's).
    thread_only: bool = False


def _rule_conditions(kind: str, rule_id: str, rule: Json) -> list[Condition]:
    if kind in WITH_CONDITIONS:
        conditions = rule.get("conditions", [])
        return [compile_condition(c) for c in conditions if isinstance(c, dict)]
    if kind == "content":
        pattern = rule.get("pattern")
        return [EventMatch(BODY_KEY, pattern)] if isinstance(pattern, str) else [Never()]
    # Room and sender rules: an exact match on room_id / sender by their rule_id
    # (Synapse compiles them to event_match the same way).
    return [EventMatch("room_id" if kind == "room" else "sender", rule_id)]


@dataclass(frozen=True, eq=False)
class CompiledRuleset:
    """Enabled rules in evaluation order, ready for any number of events and users."""

    rules: tuple[CompiledRule, ...]
    uses_display_name: bool


def compile_ruleset(ruleset: Ruleset) -> CompiledRuleset:
    compiled: list[CompiledRule] = []
    uses_display_name = False
    for view in ruleset.all_rules():
        if not view.enabled:
            continue
        conditions = _rule_conditions(view.kind, view.rule_id, view.rule)
        shared = tuple(c for c in conditions if not c.user_dependent)
        personal = tuple(c for c in conditions if c.user_dependent)
        uses_display_name |= any(isinstance(c, ContainsDisplayName) for c in personal)
        thread_only = any(c.thread_only for c in personal)
        actions = Actions.of(view.rule_id, view.actions)
        compiled.append(CompiledRule(actions, shared, personal, thread_only))
    return CompiledRuleset(tuple(compiled), uses_display_name)


#: The compiled server defaults: every user who never changed a rule shares it.
DEFAULT_RULESET = compile_ruleset(Ruleset())
#: The same with MSC4306's postcontent rules (``thread_subscription_push_rules``).
DEFAULT_THREAD_RULESET = compile_ruleset(Ruleset(thread_subscriptions=True))


# -- events ----------------------------------------------------------------------------


class PushEvent:
    """One event as conditions read it, with its per-event memo."""

    __slots__ = ("_memo", "_prepared", "_sets", "_subscribed", "flat", "room", "thread_subscribed")

    def __init__(
        self,
        event: Mapping[str, Any],
        room: RoomContext,
        thread_subscribed: Callable[[str], bool] | None = None,
    ) -> None:
        self.flat = flatten(event)
        self.room = room
        #: For an event in a thread: whether a user is subscribed to that thread.
        self.thread_subscribed = thread_subscribed
        self._memo: dict[Condition, bool] = {}
        self._sets: dict[str, frozenset[tuple[type, Any]]] = {}
        self._prepared: dict[CompiledRuleset, Prepared] = {}
        self._subscribed: dict[str, bool] = {}

    def is_subscribed(self, user_id: str) -> bool | None:
        """Whether the user follows the event's thread; None if it is in no thread."""
        if self.thread_subscribed is None:
            return None
        found = self._subscribed.get(user_id)
        if found is None:
            found = self._subscribed[user_id] = self.thread_subscribed(user_id)
        return found

    def contains(self, key: str, value: Any) -> bool:
        found = self._sets.get(key)
        if found is None:
            array = self.flat.get(key)
            items = array if isinstance(array, list) else ()
            found = frozenset(
                (type(v), v) for v in items if v is None or isinstance(v, str | int | bool)
            )
            self._sets[key] = found
        return (type(value), value) in found

    def holds(self, condition: Condition) -> bool:
        known = self._memo.get(condition)
        if known is None:
            known = self._memo[condition] = condition.matches(self, "", None)
        return known

    def prepare(self, ruleset: CompiledRuleset) -> Prepared:
        """The ruleset narrowed to this event (cached: one pass per ruleset per event)."""
        prepared = self._prepared.get(ruleset)
        if prepared is None:
            prepared = self._prepared[ruleset] = self._narrow(ruleset)
        return prepared

    def _narrow(self, ruleset: CompiledRuleset) -> Prepared:
        candidates: list[CompiledRule] = []
        in_thread = self.thread_subscribed is not None
        for rule in ruleset.rules:
            if rule.thread_only and not in_thread:
                continue
            if not all(self.holds(c) for c in rule.shared):
                continue
            if not rule.personal:
                return Prepared(self, tuple(candidates), rule.actions)
            candidates.append(rule)
        return Prepared(self, tuple(candidates), None)

    def evaluate(
        self, ruleset: CompiledRuleset, user_id: str, display_name: str | None = None
    ) -> Actions | None:
        """The actions of the first matching rule for this user, or None (no rule matched)."""
        return self.prepare(ruleset).for_user(user_id, display_name)


@dataclass(frozen=True)
class Prepared:
    event: PushEvent
    #: User-dependent rules whose shared conditions hold, in order, before ``fallback``.
    candidates: tuple[CompiledRule, ...]
    #: The first rule that matches for every user, if any.
    fallback: Actions | None

    def for_user(self, user_id: str, display_name: str | None = None) -> Actions | None:
        ev = self.event
        for rule in self.candidates:
            if all(c.matches(ev, user_id, display_name) for c in rule.personal):
                return rule.actions
        return self.fallback
