"""The invite permission config (spec v1.18 "Invite permission", MSC4155 "Invite
filtering"): the MSC's examples, its order of evaluation, and what is skipped."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conduwuit.core.invite_permission import ALLOW_ALL, MAX_PATTERN, InviteRule, parse

ALLOW, IGNORE, BLOCK = InviteRule.ALLOW, InviteRule.IGNORE, InviteRule.BLOCK


def rule(content: dict[str, Any] | None, inviter: str, stable: dict[str, Any] | None = None) -> str:
    return parse(stable, content).rule_for(inviter)


@pytest.mark.parametrize(
    ("content", "inviter", "expected"),
    [
        # The MSC's examples, one inviter each way.
        ({}, "@anyone:example.org", ALLOW),
        ({"blocked_servers": ["*"]}, "@anyone:example.org", BLOCK),
        ({"allowed_servers": ["goodguys.org"], "blocked_servers": ["*"]}, "@a:goodguys.org", ALLOW),
        ({"allowed_servers": ["goodguys.org"], "blocked_servers": ["*"]}, "@b:bar.com", BLOCK),
        ({"blocked_servers": ["badguys.org"]}, "@b:bar.com", ALLOW),
        ({"blocked_servers": ["badguys.org"]}, "@kevin:badguys.org", BLOCK),
        (
            {"allowed_users": ["@goodguy:badguys.org"], "blocked_servers": ["badguys.org"]},
            "@goodguy:badguys.org",
            ALLOW,
        ),
        (
            {"allowed_users": ["@goodguy:badguys.org"], "blocked_servers": ["badguys.org"]},
            "@kevin:badguys.org",
            BLOCK,
        ),
        (
            {
                "allowed_servers": ["goodguys.org"],
                "ignored_servers": ["reallybadguys.org"],
                "blocked_servers": ["*"],
            },
            "@kevin:reallybadguys.org",
            IGNORE,
        ),
        # User lists come before server lists; allow, then ignore, then block.
        ({"blocked_users": ["@bob:hs2"], "allowed_servers": ["hs2"]}, "@bob:hs2", BLOCK),
        ({"ignored_users": ["@bob:hs2"], "allowed_users": ["@bob:hs2"]}, "@bob:hs2", ALLOW),
        ({"ignored_users": ["@bob:hs2"], "blocked_users": ["@bob:hs2"]}, "@bob:hs2", IGNORE),
        ({"ignored_servers": ["hs2"], "blocked_servers": ["hs2"]}, "@bob:hs2", IGNORE),
        # Globs: ``*`` any run, ``?`` one character, whole values, any case.
        ({"blocked_users": ["@user-?*"]}, "@user-1:hs1", BLOCK),
        ({"blocked_users": ["@user-?*"]}, "@user-:hs1", BLOCK),
        ({"blocked_users": ["@user-?*"]}, "@bob:hs1", ALLOW),
        ({"blocked_servers": ["hs*"]}, "@bob:hs2", BLOCK),
        ({"blocked_servers": ["hs"]}, "@bob:hs2", ALLOW),
        ({"blocked_users": ["@BOB:HS2"]}, "@bob:hs2", BLOCK),
        # A server name matches with or without its port.
        ({"blocked_servers": ["127.0.0.2"]}, "@bob:127.0.0.2:8448", BLOCK),
        ({"blocked_servers": ["127.0.0.2:8448"]}, "@bob:127.0.0.2:8448", BLOCK),
        ({"blocked_servers": ["127.0.0.2:9"]}, "@bob:127.0.0.2:8448", ALLOW),
        # Missing, null and malformed lists or entries are empty.
        ({"blocked_users": None, "blocked_servers": None}, "@bob:hs2", ALLOW),
        ({"blocked_servers": "*"}, "@bob:hs2", ALLOW),
        ({"blocked_servers": [1, None, "", {"*": 1}]}, "@bob:hs2", ALLOW),
        ({"blocked_users": ["*" * (MAX_PATTERN + 1)]}, "@bob:hs2", ALLOW),
        ({"blocked_users": ["*" * MAX_PATTERN]}, "@bob:hs2", BLOCK),
    ],
)
def test_msc4155_rules(content: dict[str, Any], inviter: str, expected: InviteRule) -> None:
    assert rule(content, inviter) == expected


def test_the_stable_event_decides_alone_when_set() -> None:
    everyone = {"blocked_servers": ["*"]}
    assert rule(None, "@bob:hs2", stable={"default_action": "block"}) == BLOCK
    assert rule(everyone, "@bob:hs2", stable={"default_action": "block"}) == BLOCK
    # Set without blocking: invites as normal, the MSC's lists unread (as Synapse).
    assert rule(everyone, "@bob:hs2", stable={}) == ALLOW
    assert rule(everyone, "@bob:hs2", stable={"default_action": "allow"}) == ALLOW
    assert rule(everyone, "@bob:hs2", stable={"default_action": ["block"]}) == ALLOW
    assert rule(everyone, "@bob:hs2") == BLOCK


def test_nothing_set_allows_all() -> None:
    assert parse(None, None) is ALLOW_ALL
    assert parse(None, {}) is ALLOW_ALL


users = st.from_regex(r"@[a-z0-9._=-]{1,8}:[a-z0-9.-]{1,8}(:[0-9]{1,4})?", fullmatch=True)


@given(inviter=users, others=st.lists(users, max_size=3))
def test_an_allowed_user_is_allowed_whatever_else_matches(inviter: str, others: list[str]) -> None:
    content = {
        "allowed_users": [inviter],
        "ignored_users": ["*", *others],
        "blocked_users": ["*"],
        "ignored_servers": ["*"],
        "blocked_servers": ["*"],
    }
    assert rule(content, inviter) == ALLOW


@given(inviter=users)
def test_an_exact_user_entry_matches_only_that_user(inviter: str) -> None:
    content = {"blocked_users": [inviter]}
    assert rule(content, inviter) == BLOCK
    assert rule(content, inviter + "x") == ALLOW
