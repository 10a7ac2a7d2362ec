"""Accounts: which users exist, their flags and their password hashes.

An account record is never deleted: deactivation marks it, so its ID can never be
registered again (client-server API, "Account deactivation").
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace

from conduwuit.db import Database
from conduwuit.db.batch import Batch
from conduwuit.db.maps import MAPS
from conduwuit.service.clock import Clock
from conduwuit.service.users.ids import AccountUserId


@dataclass(frozen=True)
class Account:
    created_ts: int
    is_guest: bool = False
    is_admin: bool = False
    deactivated: bool = False
    #: Client-server API "Account locking" (v1.12): every authenticated request but
    #: a logout answers 401 M_USER_LOCKED; tokens are kept.
    locked: bool = False
    #: "Account suspension" (v1.13): reads go on, changes others would see do not
    #: (core/suspension.py).
    suspended: bool = False

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Account:
        return cls(**json.loads(raw))


class Accounts:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._accounts = db.map(MAPS.userid_account)
        self._passwords = db.map(MAPS.userid_password)
        self._clock = clock

    def get(self, user_id: str) -> Account | None:
        raw = self._accounts.get(user_id.encode())
        return Account.from_bytes(raw) if raw is not None else None

    def exists(self, user_id: str) -> bool:
        """Whether the ID was ever registered here (deactivated accounts included)."""
        return self._accounts.contains(user_id.encode())

    def is_active(self, user_id: str) -> bool:
        account = self.get(user_id)
        return account is not None and not account.deactivated

    def is_admin(self, user_id: str) -> bool:
        account = self.get(user_id)
        return account is not None and account.is_admin

    def is_guest(self, user_id: str) -> bool:
        account = self.get(user_id)
        return account is not None and account.is_guest

    def is_locked(self, user_id: str) -> bool:
        account = self.get(user_id)
        return account is not None and account.locked

    def is_suspended(self, user_id: str) -> bool:
        account = self.get(user_id)
        return account is not None and account.suspended

    def all(self) -> list[tuple[str, Account]]:
        """Every account ever registered here, in user ID order (admin listings)."""
        return [(k.decode(), Account.from_bytes(v)) for k, v in self._accounts.iter_prefix(b"")]

    def set_admin(self, user_id: str, admin: bool) -> bool:
        """Make an account a server admin or not; False if there is no such account."""
        return self._update(user_id, is_admin=admin)

    def set_deactivated(self, user_id: str, deactivated: bool) -> bool:
        """Flip the mark alone (an admin re-activating an account; ``deactivate``
        stages the whole deactivation); False if there is no such account."""
        return self._update(user_id, deactivated=deactivated)

    def set_locked(self, user_id: str, locked: bool) -> bool:
        return self._update(user_id, locked=locked)

    def set_suspended(self, user_id: str, suspended: bool) -> bool:
        return self._update(user_id, suspended=suspended)

    def _update(self, user_id: str, **flags: bool) -> bool:
        account = self.get(user_id)
        if account is None:
            return False
        with self._db.batch() as b:
            b.put(self._accounts, user_id.encode(), replace(account, **flags).to_bytes())
        return True

    def any_account(self) -> bool:
        return next(self._accounts.iter_prefix(b""), None) is not None

    def create(
        self,
        b: Batch,
        user_id: AccountUserId,
        password_hash: str | None,
        *,
        is_guest: bool,
        admin: bool = False,
        first_admin: bool = True,
    ) -> Account:
        """Stage a new account; the first account on the server becomes an admin
        (unless ``first_admin`` is false: an application service's sender user).

        Check-then-write without an await in between (the caller commits the batch
        before yielding to the loop), so two registrations cannot both be first.
        """
        first = first_admin and not self.any_account() and not is_guest
        account = Account(created_ts=self._clock(), is_guest=is_guest, is_admin=first or admin)
        b.put(self._accounts, user_id.encode(), account.to_bytes())
        if password_hash is not None:
            b.put(self._passwords, user_id.encode(), password_hash.encode())
        return account

    def password_hash(self, user_id: str) -> str | None:
        raw = self._passwords.get(user_id.encode())
        return raw.decode() if raw else None

    def set_password_hash(self, b: Batch, user_id: str, password_hash: str) -> None:
        b.put(self._passwords, user_id.encode(), password_hash.encode())

    def deactivate(self, b: Batch, user_id: str) -> None:
        """Stage deactivation: the record stays (marked), the password goes."""
        account = self.get(user_id)
        if account is None:
            return
        b.put(self._accounts, user_id.encode(), replace(account, deactivated=True).to_bytes())
        b.delete(self._passwords, user_id.encode())
