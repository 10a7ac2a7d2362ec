"""Who may invite a user: the invitee's invite permission config, as a rule per inviter.

Two account data events say it (global account data of the invitee):

- ``m.invite_permission_config`` (spec v1.18, module "Invite permission"): a
  ``default_action`` of ``block`` refuses every invite; any other value, or none,
  leaves invites as they are.
- ``org.matrix.msc4155.invite_permission_config`` (MSC4155 "Invite filtering"):
  lists of globs ``allowed_users``, ``ignored_users``, ``blocked_users`` matched
  against the inviter's user ID, and ``allowed_servers``, ``ignored_servers``,
  ``blocked_servers`` against its server name. User lists are tried before server
  lists, and within each allow, then ignore, then block; the first match decides,
  and no match allows. A missing or ``null`` list is an empty one.

When the stable event is set it alone decides (Synapse's precedence: the spec's
event over the MSC's). "Block" refuses the invite with ``M_INVITE_BLOCKED``;
"ignore" lets it happen but the invitee never sees it (MSC4283's meanings).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from conduwuit.core.ids import server_of
from conduwuit.core.push.glob import compile_glob
from conduwuit.core.server_acl import host_of

#: Longer patterns are skipped (a user ID has at most 255 bytes; Synapse skips them).
MAX_PATTERN = 255


class InviteRule(StrEnum):
    ALLOW = "allow"
    IGNORE = "ignore"
    BLOCK = "block"


Patterns = tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class InvitePermission:
    """A user's parsed config; ``rule_for`` is the whole algorithm."""

    default: InviteRule = InviteRule.ALLOW
    users: tuple[tuple[InviteRule, Patterns], ...] = ()
    servers: tuple[tuple[InviteRule, Patterns], ...] = ()

    def rule_for(self, inviter: str) -> InviteRule:
        if self.default is not InviteRule.ALLOW:
            return self.default
        for rule, patterns in self.users:
            if any(p.fullmatch(inviter) for p in patterns):
                return rule
        server = server_of(inviter)
        # The server lists match the server name with or without its port (server
        # ACLs match the host alone; Synapse the whole name): "example.org" covers
        # "example.org:8448", and "example.org:8448" still matches itself.
        names = (server, host_of(server))
        for rule, patterns in self.servers:
            if any(p.fullmatch(name) for p in patterns for name in names):
                return rule
        return InviteRule.ALLOW


ALLOW_ALL = InvitePermission()

#: The lists' name prefixes, in the order they are tried.
_ORDER = (
    (InviteRule.ALLOW, "allowed"),
    (InviteRule.IGNORE, "ignored"),
    (InviteRule.BLOCK, "blocked"),
)


def _patterns(values: Any) -> Patterns:
    """Globs from one list; anything that is not a non-empty string is skipped."""
    if not isinstance(values, list):
        return ()
    return tuple(
        compile_glob(v) for v in values if isinstance(v, str) and 0 < len(v) <= MAX_PATTERN
    )


def _lists(content: Mapping[str, Any], kind: str) -> tuple[tuple[InviteRule, Patterns], ...]:
    found = ((rule, _patterns(content.get(f"{prefix}_{kind}"))) for rule, prefix in _ORDER)
    return tuple((rule, patterns) for rule, patterns in found if patterns)


def parse(stable: Mapping[str, Any] | None, msc4155: Mapping[str, Any] | None) -> InvitePermission:
    """The config from the two events' contents (None: not set)."""
    if stable is not None:
        if stable.get("default_action") == InviteRule.BLOCK.value:
            return InvitePermission(default=InviteRule.BLOCK)
        return ALLOW_ALL
    if not msc4155:
        return ALLOW_ALL
    return InvitePermission(users=_lists(msc4155, "users"), servers=_lists(msc4155, "servers"))
