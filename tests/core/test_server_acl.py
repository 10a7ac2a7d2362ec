"""Server ACL matching: the spec's example and rules, and Synapse's readings of
malformed content."""

from __future__ import annotations

from typing import Any

import pytest

from conduwuit.core.server_acl import host_of, server_allowed

SPEC_EXAMPLE = {
    "allow": ["*"],
    "allow_ip_literals": False,
    "deny": ["*.evil.com", "evil.com"],
}


@pytest.mark.parametrize(
    ("server", "allowed"),
    [
        ("good.example", True),
        ("good.example:8448", True),
        ("evil.com", False),
        ("evil.com:443", False),
        ("sub.evil.com", False),
        ("notevil.com", True),
        ("EVIL.COM", False),
        ("1.2.3.4", False),
        ("1.2.3.4:8448", False),
        ("[2001:db8::1]:8448", False),
        ("[::1]", False),
    ],
)
def test_the_spec_example(server: str, allowed: bool) -> None:
    assert server_allowed(SPEC_EXAMPLE, server) is allowed


def test_no_acl_allows_everyone() -> None:
    assert server_allowed(None, "anything.example")


def test_allow_defaults_to_nobody() -> None:
    assert not server_allowed({}, "a.example")
    assert not server_allowed({"deny": []}, "a.example")


def test_ip_literals_are_allowed_by_default() -> None:
    assert server_allowed({"allow": ["*"]}, "127.0.0.2:8448")
    assert server_allowed({"allow": ["*"], "allow_ip_literals": "no"}, "127.0.0.2")


def test_deny_wins_over_allow() -> None:
    acl = {"allow": ["a.example"], "deny": ["a.example"]}
    assert not server_allowed(acl, "a.example")


@pytest.mark.parametrize(
    ("pattern", "server", "allowed"),
    [
        ("?.example", "a.example", True),
        ("?.example", "ab.example", False),
        ("*.example", "example", False),
        ("*example", "example", True),
        ("a.example", "a.example.org", False),
        ("a.ex[am]ple", "a.ex[am]ple", True),
        ("a.ex.mple", "a.exampl", False),
        ("a.ex.mple", "a.exxmple", False),
        ("127.0.0.*", "127.0.0.9:1234", True),
    ],
)
def test_globs_match_whole_names_without_ports(pattern: str, server: str, allowed: bool) -> None:
    assert server_allowed({"allow": [pattern]}, server) is allowed


@pytest.mark.parametrize("bad", [None, "a.example", {"a.example": True}, [1, None, ["a.example"]]])
def test_malformed_lists_match_nothing(bad: Any) -> None:
    assert not server_allowed({"allow": bad}, "a.example")
    assert server_allowed({"allow": ["*"], "deny": bad}, "a.example")


def test_host_of() -> None:
    assert host_of("a.example:8448") == "a.example"
    assert host_of("[::1]:8448") == "[::1]"
    assert host_of("[::1]") == "[::1]"
    assert host_of("a.example") == "a.example"
