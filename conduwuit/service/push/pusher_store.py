"""Where pushers are kept: ``userpusherid_pusher`` and its index ``pusherid_userids``.

One write batch per change; a pusher and its index entry are written and deleted
together. A user has a handful of pushers, so "the pushers of a device" is a scan
of the user's prefix, not an index of its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from conduwuit.core.push.pushers import PusherKey
from conduwuit.db import Database
from conduwuit.db.batch import Batch
from conduwuit.db.codec import key, prefix, split
from conduwuit.db.maps import MAPS


@dataclass(frozen=True, slots=True)
class Pusher:
    user_id: str
    kind: str
    app_id: str
    pushkey: str
    app_display_name: str
    device_display_name: str
    profile_tag: str
    lang: str
    data: dict[str, Any]
    device_id: str | None
    pushkey_ts: int

    @property
    def key(self) -> PusherKey:
        return PusherKey(self.app_id, self.pushkey)

    def to_client(self) -> dict[str, Any]:
        """The spec's Pusher object (GET /pushers), as Synapse renders it."""
        return {
            "pushkey": self.pushkey,
            "kind": self.kind,
            "app_id": self.app_id,
            "app_display_name": self.app_display_name,
            "device_display_name": self.device_display_name,
            "profile_tag": self.profile_tag,
            "lang": self.lang,
            "data": self.data,
        }

    def to_admin(self) -> dict[str, Any]:
        """As Synapse's admin API shows it (``users/{userId}/pushers``): the client's
        fields, its device, and ``enabled`` (every pusher here is; MSC3881's switch
        is not supported)."""
        return {**self.to_client(), "device_id": self.device_id, "enabled": True}


def _decode(user_id: str, raw: bytes) -> Pusher:
    return Pusher(user_id=user_id, **json.loads(raw))


def _encode(pusher: Pusher) -> bytes:
    record = asdict(pusher)
    del record["user_id"]
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode()


class PusherStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._pushers = db.map(MAPS.userpusherid_pusher)
        self._users = db.map(MAPS.pusherid_userids)

    def get(self, user_id: str, pusher_key: PusherKey) -> Pusher | None:
        raw = self._pushers.get(key(user_id, pusher_key.app_id, pusher_key.pushkey))
        return _decode(user_id, raw) if raw is not None else None

    def of_user(self, user_id: str) -> list[Pusher]:
        return [_decode(user_id, raw) for _, raw in self._pushers.iter_prefix(prefix(user_id))]

    def users_of(self, pusher_key: PusherKey) -> Iterator[str]:
        """Users with a pusher of this app ID and pushkey."""
        for k, _ in self._users.iter_prefix(prefix(pusher_key.app_id, pusher_key.pushkey)):
            yield split(k)[2].decode()

    def stage_put(self, b: Batch, pusher: Pusher) -> None:
        b.put(self._pushers, key(pusher.user_id, pusher.app_id, pusher.pushkey), _encode(pusher))
        b.put(self._users, key(pusher.app_id, pusher.pushkey, pusher.user_id), b"")

    def stage_delete(self, b: Batch, user_id: str, pusher_key: PusherKey) -> None:
        b.delete(self._pushers, key(user_id, pusher_key.app_id, pusher_key.pushkey))
        b.delete(self._users, key(pusher_key.app_id, pusher_key.pushkey, user_id))

    def delete(self, user_id: str, pusher_key: PusherKey) -> None:
        with self._db.batch() as b:
            self.stage_delete(b, user_id, pusher_key)

    def stage_delete_device(self, b: Batch, user_id: str, device_id: str) -> list[PusherKey]:
        """Stage deleting the pushers the device created; their keys."""
        gone = [p.key for p in self.of_user(user_id) if p.device_id == device_id]
        for pusher_key in gone:
            self.stage_delete(b, user_id, pusher_key)
        return gone

    def delete_user(self, user_id: str) -> list[PusherKey]:
        gone = [p.key for p in self.of_user(user_id)]
        with self._db.batch() as b:
            for pusher_key in gone:
                self.stage_delete(b, user_id, pusher_key)
        return gone
