"""Locking and suspending local accounts: the spec's administration endpoints
(client-server API v1.18, ``GET``/``PUT /_matrix/client/v1/admin/lock|suspend/{userId}``),
Synapse's admin API and the admin room's ``users lock|unlock|suspend|unsuspend``.

The flags live in the account record (service/users/accounts.py), so they hold
across restarts and cost nothing more to read on each request. What they do:
api/auth.py (a lock), core/suspension.py (a suspension).
"""

from __future__ import annotations

import enum

from conduwuit.core.errors import forbidden, invalid_param, not_found
from conduwuit.core.ids import UserId
from conduwuit.service.users.accounts import Accounts


class Moderation(enum.Enum):
    """The two reversible restrictions, by the name of their response field."""

    LOCK = "locked"
    SUSPEND = "suspended"


class AccountModeration:
    def __init__(self, server_name: str, accounts: Accounts) -> None:
        self._server_name = server_name
        self._accounts = accounts

    def is_set(self, kind: Moderation, user_id: str) -> bool:
        account = self._accounts.get(user_id)
        if account is None:
            return False
        return account.locked if kind is Moderation.LOCK else account.suspended

    def set(self, kind: Moderation, user_id: str, on: bool) -> bool:
        """Set the flag of an existing account; False if there is none."""
        if kind is Moderation.LOCK:
            return self._accounts.set_locked(user_id, on)
        return self._accounts.set_suspended(user_id, on)

    def spec_target(self, requester: UserId, user_id: UserId, *, change: bool) -> str:
        """The checks of the spec's endpoints, after the caller was found to be an
        admin (so nobody else learns whether an account exists): 400 M_INVALID_PARAM
        for another server's user, 404 for an unknown or deactivated one, 403 for
        another admin, and for one's own account when changing it."""
        if str(user_id.server_name) != self._server_name:
            raise invalid_param("User does not belong to the local server.")
        uid = str(user_id)
        account = self._accounts.get(uid)
        if account is None or account.deactivated:
            raise not_found("User not found.")
        if uid == str(requester):
            if change:
                raise forbidden("You cannot lock or suspend your own account.")
        elif account.is_admin:
            raise forbidden("The target user is a server administrator.")
        return uid

    def spec_get(self, kind: Moderation, requester: UserId, user_id: UserId) -> bool:
        return self.is_set(kind, self.spec_target(requester, user_id, change=False))

    def spec_put(self, kind: Moderation, requester: UserId, user_id: UserId, on: bool) -> bool:
        self.set(kind, self.spec_target(requester, user_id, change=True), on)
        return on
