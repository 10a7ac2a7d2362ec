"""Refusing what a suspended account may not do (core/suspension.py says what).

The room pipeline runs :meth:`SuspensionGuard.check_event` on every local event,
so every path that sends in a user's name (``/send``, state, ``/createRoom``,
invites, bans, upgrades, delayed events) is covered; joins and knocks are refused
by the join policy (service/rooms/join_policy.py) before any other server is
asked, profile changes by the profile endpoints.
"""

from __future__ import annotations

from collections.abc import Callable

from conduwuit.core.events import Event
from conduwuit.core.suspension import event_refusal, suspended_error
from conduwuit.service.users.accounts import Accounts


class SuspensionGuard:
    def __init__(self, accounts: Accounts) -> None:
        self._accounts = accounts

    def check_event(self, event: Event, load: Callable[[str], Event | None]) -> None:
        """403 M_USER_SUSPENDED for an event a suspended sender may not send."""
        if not self._accounts.is_suspended(event.sender):
            return
        redacted = None
        if (target := event.redacts) is not None and (found := load(target)) is not None:
            redacted = found.sender
        reason = event_refusal(event, redacted)
        if reason is not None:
            raise suspended_error(reason)
