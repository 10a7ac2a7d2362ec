"""Global profiles: display name, avatar URL and custom fields (spec v1.16).

Propagating a change into the member events of joined rooms is the rooms
service's job: it registers a listener with :meth:`Profiles.add_listener`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from conduwuit.core.errors import ErrCode, MatrixError, invalid_param
from conduwuit.db import Database
from conduwuit.db.batch import Batch
from conduwuit.db.maps import MAPS

#: keyName grammar of PUT /profile/{userId}/{keyName} (profile.yaml).
PROFILE_KEY = re.compile(r"avatar_url|displayname|m\.tz|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
#: "the total profile MUST be under 64 KiB"
MAX_PROFILE_BYTES = 64 * 1024
#: M_KEY_TOO_LARGE: "exceeds the maximum allowed key length of 255 bytes"
MAX_KEY_BYTES = 255

#: Called with (user_id, old profile, new profile) after a change is committed and
#: awaited (the rooms service sends member events through the room's lock).
ProfileListener = Callable[[str, dict[str, Any], dict[str, Any]], Awaitable[None]]


def _dump(value: Any) -> bytes:
    # Not canonical JSON: custom fields may hold floats, which it refuses.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


class Profiles:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._profiles = db.map(MAPS.userid_profile)
        self._listeners: list[ProfileListener] = []

    def add_listener(self, listener: ProfileListener) -> None:
        self._listeners.append(listener)

    def get(self, user_id: str) -> dict[str, Any]:
        raw = self._profiles.get(user_id.encode())
        value: dict[str, Any] = json.loads(raw) if raw else {}
        return value

    def stage(self, b: Batch, user_id: str, profile: dict[str, Any]) -> None:
        """Write a whole profile into a batch (used at registration and deactivation)."""
        if profile:
            b.put(self._profiles, user_id.encode(), _dump(profile))
        else:
            b.delete(self._profiles, user_id.encode())

    async def set_field(self, user_id: str, key: str, value: Any) -> None:
        check_key(key)
        old = self.get(user_id)
        new = {**old, key: value}
        if len(_dump(new)) >= MAX_PROFILE_BYTES:
            raise MatrixError(
                ErrCode.PROFILE_TOO_LARGE, "The profile would exceed its limit of 64 KiB."
            )
        await self._commit(user_id, old, new)

    async def delete_field(self, user_id: str, key: str) -> None:
        check_key(key)
        old = self.get(user_id)
        if key not in old:
            return
        new = {k: v for k, v in old.items() if k != key}
        await self._commit(user_id, old, new)

    async def _commit(self, user_id: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        with self._db.batch() as b:
            self.stage(b, user_id, new)
        for listener in self._listeners:
            await listener(user_id, old, new)


def check_key(key: str) -> None:
    if len(key.encode()) > MAX_KEY_BYTES:
        raise MatrixError(ErrCode.KEY_TOO_LARGE, "Profile keys are limited to 255 bytes.")
    if not PROFILE_KEY.fullmatch(key):
        raise invalid_param(f"Invalid profile key: {key}")
