"""Property tests (hypothesis) for push rules: glob matching and dotted-path escaping."""

from __future__ import annotations

from functools import cache
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from conduwuit.core.push import PushEvent, RoomContext, Ruleset, compile_ruleset
from conduwuit.core.push.glob import glob_matches
from conduwuit.core.push.paths import canonical_key, escape_part, flatten, join_path, split_path

# Letters of both cases, digits, word separators and the characters regexes and
# paths care about; ASCII so that the reference's lower() is exactly case-insensitive.
TEXT = st.text(alphabet="aAbB_0 -.\\*?+()[]^$|{}", max_size=10)
PATTERN = st.text(alphabet="aAbB_0 -.*?\\+(", max_size=8)
PARTS = st.lists(st.text(alphabet="ab.\\x_ ", max_size=5), min_size=1, max_size=4)
WORD = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def reference_glob(pattern: str, value: str) -> bool:
    """The appendix's glob rules, by dynamic programming (no regexes)."""
    p, v = pattern.lower(), value.lower()

    @cache
    def match(i: int, j: int) -> bool:
        if i == len(p):
            return j == len(v)
        if p[i] == "*":
            return match(i + 1, j) or (j < len(v) and match(i, j + 1))
        if j < len(v) and (p[i] == "?" or p[i] == v[j]):
            return match(i + 1, j + 1)
        return False

    return match(0, 0)


def reference_words(pattern: str, value: str) -> bool:
    """Any substring that starts and ends at a word boundary (content.body)."""
    starts = [i for i in range(len(value) + 1) if i == 0 or value[i - 1] not in WORD]
    ends = [j for j in range(len(value) + 1) if j == len(value) or value[j] not in WORD]
    return any(reference_glob(pattern, value[i:j]) for i in starts for j in ends if j >= i)


@given(PATTERN, TEXT)
def test_glob_whole_value_matches_reference(pattern: str, value: str) -> None:
    assert glob_matches(pattern, value) == reference_glob(pattern, value)


@given(PATTERN, TEXT)
def test_glob_word_boundaries_match_reference(pattern: str, value: str) -> None:
    assert glob_matches(pattern, value, words=True) == reference_words(pattern, value)


@given(TEXT)
def test_a_literal_matches_itself_in_any_case(value: str) -> None:
    literal = value.replace("*", "").replace("?", "")
    assert glob_matches(literal, literal.swapcase())
    assert glob_matches("*", value)


@given(PARTS)
def test_paths_round_trip(parts: list[str]) -> None:
    path = join_path(parts)
    assert split_path(path) == parts
    assert canonical_key(path) == path


@given(PARTS, st.integers())
def test_flatten_finds_every_leaf_by_its_path(parts: list[str], value: int) -> None:
    nested: object = value
    for part in reversed(parts):
        nested = {part: nested}
    assert flatten({"content": nested})[join_path(["content", *parts])] == value


@given(st.text(alphabet="ab.\\x", max_size=8))
def test_canonical_key_is_idempotent(path: str) -> None:
    once = canonical_key(path)
    assert canonical_key(once) == once
    assert split_path(once) == split_path(path)


def test_spec_escaping_examples() -> None:
    assert split_path("content.m\\.relates_to") == ["content", "m.relates_to"]
    assert split_path("content.m\\\\foo") == ["content", "m\\foo"]
    # "Other escape sequences are left as-is": \x is a backslash and an x.
    assert split_path("content.\\x") == ["content", "\\x"]
    assert escape_part("m.mentions") == "m\\.mentions"


# -- the evaluator's shortcuts change nothing -------------------------------------------

USERS = st.sampled_from(["@a:x", "@b:x", "@c:y"])
EVENTS = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            ["m.room.message", "m.room.member", "m.room.encrypted", "m.reaction", "m.call.invite"]
        ),
        "sender": USERS,
        "room_id": st.just("!r:x"),
        "content": st.fixed_dictionaries(
            {
                "body": st.sampled_from(["hi", "hello a", "beer time", "B"]),
                "msgtype": st.sampled_from(["m.text", "m.notice"]),
                "membership": st.sampled_from(["invite", "join"]),
                "m.mentions": st.fixed_dictionaries(
                    {"user_ids": st.lists(USERS, max_size=2), "room": st.booleans()}
                ),
            }
        ),
    },
    optional={"state_key": st.sampled_from(["", "@a:x", "@b:x"])},
)
USER_RULES = st.lists(
    st.sampled_from(
        [
            ("override", "name", {"conditions": [{"kind": "contains_display_name"}]}),
            ("content", "beer", {"pattern": "beer"}),
            ("sender", "@b:x", {}),
            ("room", "!r:x", {}),
            ("underride", "big", {"conditions": [{"kind": "room_member_count", "is": ">3"}]}),
        ]
    ),
    max_size=3,
    unique_by=lambda r: r[1],
)


@given(
    EVENTS,
    USER_RULES,
    st.booleans(),
    st.integers(1, 6),
    st.integers(0, 100),
    st.lists(st.tuples(USERS, st.sampled_from([None, "A", "hello"])), max_size=4),
)
def test_narrowed_evaluation_equals_checking_every_rule(
    event: dict[str, Any],
    user_rules: list[tuple[str, str, dict[str, Any]]],
    master: bool,
    members: int,
    power: int,
    checks: list[tuple[str, str | None]],
) -> None:
    ruleset = Ruleset().with_enabled("override", ".m.rule.master", master)
    for kind, rule_id, body in user_rules:
        ruleset = ruleset.with_rule(kind, rule_id, {**body, "actions": ["notify"]}, None, None)
    compiled = compile_ruleset(ruleset)
    pushed = PushEvent(event, RoomContext(members, power))
    for user_id, name in checks:
        naive = next(
            (
                rule.actions
                for rule in compiled.rules
                if all(c.matches(pushed, user_id, name) for c in (*rule.shared, *rule.personal))
            ),
            None,
        )
        assert pushed.evaluate(compiled, user_id, name) == naive
