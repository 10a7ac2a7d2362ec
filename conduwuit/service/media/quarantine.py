"""Quarantined media (Synapse's admin API, ``/_synapse/admin/v1/media/quarantine``):
the file stays, but downloads and thumbnails answer 404 until an admin lifts it.
Local media an admin protected (``/_synapse/admin/v1/media/protect``) is never
quarantined, as in Synapse (whose quarantine updates skip ``safe_from_quarantine``
rows). Both marks go with the media's metadata when the media is deleted."""

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
        self._protected = db.map(MAPS.mediaid_protected)

    def quarantined_by(self, server_name: str, media_id: str) -> str | None:
        """The admin who quarantined the media, or None when it is not."""
        raw = self._marks.get(key(server_name, media_id))
        return None if raw is None else raw.decode()

    def protected(self, server_name: str, media_id: str) -> bool:
        """Whether an admin protected the media from quarantine."""
        return self._protected.get(key(server_name, media_id)) is not None

    def set_protected(self, server_name: str, media_id: str, protected: bool) -> None:
        if protected:
            self._protected.put(key(server_name, media_id), b"")
        else:
            self._protected.delete(key(server_name, media_id))

    def set(self, server_name: str, media_id: str, by: str | None) -> None:
        """Quarantine the media in ``by``'s name (not if protected), or (None) lift
        the quarantine."""
        if by is None:
            self._marks.delete(key(server_name, media_id))
        elif not self.protected(server_name, media_id):
            self._marks.put(key(server_name, media_id), by.encode())

    def quarantine_all(self, media: Iterable[tuple[str, str]], by: str) -> int:
        """Quarantine each unprotected ``(server_name, media_id)`` in ``by``'s name,
        in one batch; how many were marked (those quarantined already count, as in
        Synapse's update)."""
        count = 0
        with self._db.batch() as b:
            for server_name, media_id in media:
                if not self.protected(server_name, media_id):
                    b.put(self._marks, key(server_name, media_id), by.encode())
                    count += 1
        return count

    def stage_forget(self, batch: Batch, server_name: str, media_id: str) -> None:
        batch.delete(self._marks, key(server_name, media_id))
        batch.delete(self._protected, key(server_name, media_id))
