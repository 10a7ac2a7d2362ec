"""Registration tokens made by admins (Synapse's ``registration_tokens`` admin API,
docs/admin_api/registration_tokens.md), accepted by the ``m.login.registration_token``
stage besides the config's ``registration_token``.

A token is valid while it has not expired and its uses (pending and completed) are
fewer than ``uses_allowed`` (null: unlimited). A registration's use is *pending*
from the moment its token stage is accepted until the account is made, then
*completed*; a session abandoned after the stage keeps its use pending (as Synapse
counts it until the session is cleaned up).
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import asdict, dataclass, replace
from typing import Any

from conduwuit.core.errors import invalid_param, not_found
from conduwuit.db import MAPS, Database
from conduwuit.service.clock import Clock

#: Synapse's rule for tokens: at most 64 of these characters.
TOKEN_CHARS = "A-Za-z0-9._~-"
_TOKEN = re.compile(f"[{TOKEN_CHARS}]{{1,64}}")
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-"
DEFAULT_LENGTH = 16
MAX_LENGTH = 64

#: "Not given" for the fields of an update (null sets a field to null).
UNSET: Any = object()


@dataclass(frozen=True, slots=True)
class TokenInfo:
    uses_allowed: int | None = None
    pending: int = 0
    completed: int = 0
    expiry_time: int | None = None

    def valid(self, now: int) -> bool:
        if self.expiry_time is not None and self.expiry_time <= now:
            return False
        return self.uses_allowed is None or self.pending + self.completed < self.uses_allowed

    def to_json(self, token: str) -> dict[str, Any]:
        return {"token": token, **asdict(self)}


def _check_uses(uses_allowed: object) -> int | None:
    if uses_allowed is None:
        return None
    if isinstance(uses_allowed, bool) or not isinstance(uses_allowed, int) or uses_allowed < 0:
        raise invalid_param("uses_allowed must be a non-negative integer or null")
    return uses_allowed


class RegistrationTokens:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._tokens = db.map(MAPS.registrationtoken_info)
        self._clock = clock

    def _get(self, token: str) -> TokenInfo | None:
        raw = self._tokens.get(token.encode())
        return TokenInfo(**json.loads(raw)) if raw is not None else None

    def _put(self, token: str, info: TokenInfo) -> None:
        with self._db.batch() as b:
            b.put(self._tokens, token.encode(), json.dumps(asdict(info)).encode())

    def _check_expiry(self, expiry_time: object) -> int | None:
        if expiry_time is None:
            return None
        if isinstance(expiry_time, bool) or not isinstance(expiry_time, int):
            raise invalid_param("expiry_time must be an integer or null")
        if expiry_time < self._clock():
            raise invalid_param("expiry_time must not be in the past")
        return expiry_time

    # -- the admin API ------------------------------------------------------------
    def list_tokens(self, valid: bool | None) -> list[dict[str, Any]]:
        now = self._clock()
        out = []
        for key, raw in self._tokens.iter_prefix(b""):
            info = TokenInfo(**json.loads(raw))
            if valid is None or info.valid(now) == valid:
                out.append(info.to_json(key.decode()))
        return out

    def get(self, token: str) -> dict[str, Any]:
        info = self._get(token)
        if info is None:
            raise not_found(f"No such registration token: {token}")
        return info.to_json(token)

    def create(
        self,
        token: object = None,
        uses_allowed: object = None,
        expiry_time: object = None,
        length: object = None,
    ) -> dict[str, Any]:
        uses = _check_uses(uses_allowed)
        expiry = self._check_expiry(expiry_time)
        if token is not None:
            if not isinstance(token, str) or not _TOKEN.fullmatch(token):
                raise invalid_param(
                    f"token must be 1 to {MAX_LENGTH} of the characters {TOKEN_CHARS}"
                )
            if self._get(token) is not None:
                raise invalid_param(f"Token already exists: {token}")
        else:
            size = DEFAULT_LENGTH if length is None else length
            if isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= MAX_LENGTH:
                raise invalid_param(f"length must be an integer between 1 and {MAX_LENGTH}")
            token = "".join(secrets.choice(_ALPHABET) for _ in range(size))
            while self._get(token) is not None:
                token = "".join(secrets.choice(_ALPHABET) for _ in range(size))
        info = TokenInfo(uses_allowed=uses, expiry_time=expiry)
        self._put(token, info)
        return info.to_json(token)

    def update(
        self, token: str, uses_allowed: object = UNSET, expiry_time: object = UNSET
    ) -> dict[str, Any]:
        info = self._get(token)
        if info is None:
            raise not_found(f"No such registration token: {token}")
        if uses_allowed is not UNSET:
            info = replace(info, uses_allowed=_check_uses(uses_allowed))
        if expiry_time is not UNSET:
            info = replace(info, expiry_time=self._check_expiry(expiry_time))
        self._put(token, info)
        return info.to_json(token)

    def delete(self, token: str) -> None:
        if self._get(token) is None:
            raise not_found(f"No such registration token: {token}")
        with self._db.batch() as b:
            b.delete(self._tokens, token.encode())

    # -- registration -------------------------------------------------------------
    def is_valid(self, token: str) -> bool:
        info = self._get(token)
        return info is not None and info.valid(self._clock())

    def reserve(self, token: str) -> bool:
        """The token stage accepted ``token``: one more pending use. False (nothing
        changed) if it is not valid. No await between the check and the write."""
        info = self._get(token)
        if info is None or not info.valid(self._clock()):
            return False
        self._put(token, replace(info, pending=info.pending + 1))
        return True

    def complete(self, token: str) -> None:
        """The registration that reserved a use of ``token`` made its account."""
        info = self._get(token)
        if info is None:
            return  # deleted meanwhile: nothing to count
        self._put(
            token, replace(info, pending=max(0, info.pending - 1), completed=info.completed + 1)
        )
