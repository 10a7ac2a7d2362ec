"""Filters uploaded for sync, by user and a per-user increasing ID."""

from __future__ import annotations

import json
from typing import Any

from conduwuit.db import Database
from conduwuit.db.codec import key
from conduwuit.db.maps import MAPS


class Filters:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._filters = db.map(MAPS.userfilterid_filter)

    def create(self, user_id: str, definition: dict[str, Any]) -> str:
        # IDs from the global counter: unique, never reused, no read-modify-write.
        with self._db.batch() as b:
            filter_id = str(b.next_count())
            value = json.dumps(definition, separators=(",", ":"), sort_keys=True).encode()
            b.put(self._filters, key(user_id, filter_id), value)
        return filter_id

    def get(self, user_id: str, filter_id: str) -> dict[str, Any] | None:
        raw = self._filters.get(key(user_id, filter_id))
        value: dict[str, Any] | None = json.loads(raw) if raw is not None else None
        return value
