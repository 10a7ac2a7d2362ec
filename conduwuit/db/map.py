"""A named map (column family): point reads and writes, bounded scans.

rocksdict 0.3.29 quirks worked around here:
- ``ReadOptions.set_iterate_lower_bound`` sets the upper bound, so the lower
  end of a scan is enforced by ``seek`` forward and a key comparison backward;
- iterators of a ``Snapshot`` ignore the snapshot and read live data, so a
  snapshot offers point reads only (:class:`SnapshotMap`).

Scans use RocksDB iterators with an upper bound, so a prefix or range scan
reads only what it yields.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rocksdict import ReadOptions

from .codec import prefix_end
from .errors import DatabaseError
from .maps import MapSpec

if TYPE_CHECKING:
    from .database import Database


def _iterator(src: Any, end: bytes | None) -> Any:
    opts = ReadOptions()
    if end is not None:
        opts.set_iterate_upper_bound(end)
    return src.iter(opts)


def _scan(
    src: Any, start: bytes | None, end: bytes | None, reverse: bool
) -> Iterator[tuple[bytes, bytes]]:
    it = _iterator(src, end)
    if reverse:
        it.seek_to_last()
        while it.valid():
            k: bytes = it.key()
            if start is not None and k < start:
                break
            yield k, it.value()
            it.prev()
    else:
        if start is None:
            it.seek_to_first()
        else:
            it.seek(start)
        while it.valid():
            yield it.key(), it.value()
            it.next()
    it.status()


class _Closed:
    """Stands in for the column family of a closed database."""

    def __getattr__(self, name: str) -> Any:
        raise DatabaseError("database is closed")


class SnapshotMap:
    """Point reads of one map as of the moment a snapshot was taken."""

    __slots__ = ("_snap", "spec")

    def __init__(self, spec: MapSpec, snap: Any) -> None:
        self.spec = spec
        self._snap = snap

    def get(self, key: bytes) -> bytes | None:
        try:
            value: bytes = self._snap[key]
        except Exception as e:  # rocksdict raises a bare Exception("key not found")
            if "not found" in str(e):
                return None
            raise
        return value

    def contains(self, key: bytes) -> bool:
        return self.get(key) is not None

    def _release(self) -> None:
        self._snap = _Closed()


class Map:
    """A live map. Single writes here are atomic on their own; several writes
    that make one logical change belong in one ``db.batch()``."""

    __slots__ = ("_db", "_src", "handle", "spec")

    def __init__(self, spec: MapSpec, cf: Any, handle: Any, db: Database) -> None:
        self.spec = spec
        self.handle = handle
        self._src = cf
        self._db = db

    def __repr__(self) -> str:
        return f"<Map {self.spec.name}>"

    def get(self, key: bytes) -> bytes | None:
        """The value stored under ``key``, or ``None``."""
        value: bytes | None = self._src.get(key)
        return value

    def contains(self, key: bytes) -> bool:
        return self._src.get(key) is not None

    def put(self, key: bytes, value: bytes) -> None:
        with self._db.write_lock:
            self._src.put(key, value, self._db.write_options)

    def delete(self, key: bytes) -> None:
        with self._db.write_lock:
            self._src.delete(key, self._db.write_options)

    def iter_prefix(self, prefix: bytes, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        """``(key, value)`` for every key starting with ``prefix``, in key order."""
        return _scan(self._src, prefix or None, prefix_end(prefix), reverse)

    def iter_range(
        self, start: bytes | None, end: bytes | None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """``(key, value)`` for ``start <= key < end`` (``None`` = unbounded), in key order."""
        return _scan(self._src, start, end, reverse)

    def count_prefix(self, prefix: bytes) -> int:
        """How many keys start with ``prefix`` (reads keys only, no values)."""
        it = _iterator(self._src, prefix_end(prefix))
        it.seek(prefix)
        n = 0
        while it.valid():
            n += 1
            it.next()
        return n

    def _release(self) -> None:
        """Drop the RocksDB handles so the database can really close."""
        self._src = _Closed()
        self.handle = None
