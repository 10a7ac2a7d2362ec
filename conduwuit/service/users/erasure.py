"""Erased users (``erase: true`` on ``POST /account/deactivate``, spec v1.10).

Erasure is a mark, written in the deactivation's batch; what it changes is how the
user's events are served (``RoomHistory.view``: redacted copies to anyone who was
not joined when an event was sent). Nothing is sent to other servers, as the spec
says: the request is local.
"""

from __future__ import annotations

from conduwuit.db import Database
from conduwuit.db.batch import Batch
from conduwuit.db.codec import u64
from conduwuit.db.maps import MAPS
from conduwuit.service.clock import Clock


class Erasures:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._erased = db.map(MAPS.userid_erased)
        self._clock = clock

    def is_erased(self, user_id: str) -> bool:
        return self._erased.contains(user_id.encode())

    def stage_erase(self, b: Batch, user_id: str) -> None:
        b.put(self._erased, user_id.encode(), u64(self._clock()))
