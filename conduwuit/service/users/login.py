"""Who a login identifier names, and whether a password proves it.

Used by POST /login and by the m.login.password stage of user-interactive auth.
"""

from __future__ import annotations

from typing import Any

from conduwuit.core.errors import ErrCode, MatrixError, bad_json, missing_param
from conduwuit.service.users.accounts import Accounts
from conduwuit.service.users.ids import make_user_id, parse_user_id
from conduwuit.service.users.passwords import PasswordHasher

#: A valid argon2id hash of a random password: checked when the user does not exist,
#: so a wrong username costs as much time as a wrong password (no user enumeration).
_TIMING_DUMMY_PASSWORD = "not the password of anyone"


class PasswordAuth:
    def __init__(self, server_name: str, accounts: Accounts, hasher: PasswordHasher) -> None:
        self._server_name = server_name
        self._accounts = accounts
        self._hasher = hasher
        self._dummy_hash: str | None = None

    def resolve(self, body: dict[str, Any]) -> str | None:
        """The local user an ``identifier`` (or the legacy ``user`` field) names.

        Localpart or full ID; the localpart is matched lower-cased first, then as
        given, so historical IDs with capitals still log in (conduwuit and Synapse
        both match case-insensitively). None if it names no local account.
        """
        identifier = body.get("identifier")
        if isinstance(identifier, dict):
            kind = identifier.get("type")
            if kind != "m.id.user":
                if kind in ("m.id.thirdparty", "m.id.phone"):
                    return None  # no 3PIDs are ever bound here
                raise MatrixError(ErrCode.UNKNOWN, "Unknown login identifier type.", status=400)
            user = identifier.get("user")
        elif identifier is not None:
            raise bad_json("identifier must be an object")
        else:
            user = body.get("user")
        if not isinstance(user, str):
            raise missing_param("Missing identifier.user")
        if user.startswith("@"):
            parsed = parse_user_id(user)
            if parsed is None or parsed[1] != self._server_name:
                return None
            localpart = parsed[0]
        else:
            localpart = user
        for candidate in (localpart.lower(), localpart):
            user_id = make_user_id(candidate, self._server_name)
            if self._accounts.exists(user_id):
                return user_id
        return None

    async def verify(self, user_id: str | None, password: str) -> bool:
        """Whether ``password`` is the password of the active account ``user_id``."""
        password_hash = self._accounts.password_hash(user_id) if user_id else None
        if password_hash is None:
            if self._dummy_hash is None:
                self._dummy_hash = await self._hasher.hash(_TIMING_DUMMY_PASSWORD)
            await self._hasher.verify(self._dummy_hash, password)
            return False
        return await self._hasher.verify(password_hash, password)

    async def check(self, body: dict[str, Any]) -> str | None:
        """The user that ``body`` (identifier + password) proves, or None."""
        password = body.get("password")
        if not isinstance(password, str):
            raise missing_param("Missing password")
        user_id = self.resolve(body)
        if not await self.verify(user_id, password):
            return None
        if user_id is None or not self._accounts.is_active(user_id):
            return None
        return user_id
