"""Quarantined media (Synapse's admin API, ``/_synapse/admin/v1/media/quarantine``):
the file stays, but downloads and thumbnails answer 404 until an admin lifts it.
The mark goes with the media's metadata when the media is deleted."""

from __future__ import annotations

from collections.abc import Iterable

from conduwuit.db import Database
from conduwuit.db.batch import Batch
from conduwuit.db.codec import key
from conduwuit.db.maps import MAPS


class Quarantine:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._marks = db.map(MAPS.mediaid_quarantinedby)

    def quarantined_by(self, server_name: str, media_id: str) -> str | None:
        """The admin who quarantined the media, or None when it is not."""
        raw = self._marks.get(key(server_name, media_id))
        return None if raw is None else raw.decode()

    def set(self, server_name: str, media_id: str, by: str | None) -> None:
        """Quarantine the media in ``by``'s name, or (None) lift the quarantine."""
        if by is None:
            self._marks.delete(key(server_name, media_id))
        else:
            self._marks.put(key(server_name, media_id), by.encode())

    def quarantine_all(self, media: Iterable[tuple[str, str]], by: str) -> None:
        """Quarantine each ``(server_name, media_id)`` in ``by``'s name, in one batch."""
        with self._db.batch() as b:
            for server_name, media_id in media:
                b.put(self._marks, key(server_name, media_id), by.encode())

    def stage_forget(self, batch: Batch, server_name: str, media_id: str) -> None:
        batch.delete(self._marks, key(server_name, media_id))
