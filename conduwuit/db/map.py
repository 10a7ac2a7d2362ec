"""A named map (column family): point reads and writes, bounded scans.

rocksdict 0.3.29 quirks worked around here:
- ``ReadOptions.set_iterate_lower_bound`` sets the upper bound, so the lower
  end of a scan is enforced by ``seek`` forward and a key comparison backward;
- iterators of a ``Snapshot`` ignore the snapshot and read live data, so a
  snapshot offers point reads only (:class:`SnapshotMap`).

Scans use RocksDB iterators with an upper bound, so a prefix or range scan
reads only what it yields.

A map in the shared column family (maps.key_prefix) stores each key behind its
prefix; the methods here add it and strip it, so callers never see it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rocksdict import ReadOptions

from .codec import prefix_end
from .errors import DatabaseError
from .maps import MapSpec, column_family, key_prefix

if TYPE_CHECKING:
    from .database import Database


def _iterator(src: Any, end: bytes | None) -> Any:
    opts = ReadOptions()
    if end is not None:
        opts.set_iterate_upper_bound(end)
    return src.iter(opts)


def _scan(
    src: Any, start: bytes | None, end: bytes | None, reverse: bool, strip: int = 0
) -> Iterator[tuple[bytes, bytes]]:
    """Keys ``start <= key < end`` of ``src``, each without its first ``strip`` bytes
    (the map's prefix in a shared column family)."""
    it = _iterator(src, end)
    if reverse:
        it.seek_to_last()
        while it.valid():
            k: bytes = it.key()
            if start is not None and k < start:
                break
            yield (k[strip:] if strip else k), it.value()
            it.prev()
    else:
        if start is None:
            it.seek_to_first()
        else:
            it.seek(start)
        while it.valid():
            yield (it.key()[strip:] if strip else it.key()), it.value()
            it.next()
    it.status()


class _Closed:
    """Stands in for the column family of a closed database."""

    def __getattr__(self, name: str) -> Any:
        raise DatabaseError("database is closed")


class SnapshotMap:
    """Point reads of one map as of the moment a snapshot was taken."""

    __slots__ = ("_prefix", "_snap", "spec")

    def __init__(self, spec: MapSpec, snap: Any, prefix: bytes) -> None:
        self.spec = spec
        self._snap = snap
        self._prefix = prefix

    def get(self, key: bytes) -> bytes | None:
        try:
            value: bytes = self._snap[self._prefix + key]
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

    __slots__ = ("_db", "_src", "column", "handle", "prefix", "spec")

    def __init__(
        self, spec: MapSpec, cf: Any, handle: Any, db: Database, column: str | None = None
    ) -> None:
        self.spec = spec
        self.handle = handle
        #: The column family it is in: its layout's (maps.column_family), unless a
        #: database from before schema 5 still has it in its own (db/regroup.py).
        self.column = column or column_family(spec)
        #: Before each key in the column family (b"" in a column family of its own).
        self.prefix = key_prefix(spec) if self.column == column_family(spec) else b""
        self._src = cf
        self._db = db

    def __repr__(self) -> str:
        return f"<Map {self.spec.name}>"

    def get(self, key: bytes) -> bytes | None:
        """The value stored under ``key``, or ``None``."""
        value: bytes | None = self._src.get(self.prefix + key)
        return value

    def contains(self, key: bytes) -> bool:
        return self._src.get(self.prefix + key) is not None

    def put(self, key: bytes, value: bytes) -> None:
        with self._db.write_lock:
            self._src.put(self.prefix + key, value, self._db.write_options)

    def delete(self, key: bytes) -> None:
        with self._db.write_lock:
            self._src.delete(self.prefix + key, self._db.write_options)

    def iter_prefix(self, prefix: bytes, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        """``(key, value)`` for every key starting with ``prefix``, in key order."""
        full = self.prefix + prefix
        return _scan(self._src, full or None, prefix_end(full), reverse, len(self.prefix))

    def iter_range(
        self, start: bytes | None, end: bytes | None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """``(key, value)`` for ``start <= key < end`` (``None`` = unbounded), in key order."""
        p = self.prefix
        if not p:
            return _scan(self._src, start, end, reverse)
        low = p + start if start is not None else p
        high = p + end if end is not None else prefix_end(p)
        return _scan(self._src, low, high, reverse, len(p))

    def count_prefix(self, prefix: bytes) -> int:
        """How many keys start with ``prefix`` (reads keys only, no values)."""
        full = self.prefix + prefix
        it = _iterator(self._src, prefix_end(full))
        it.seek(full)
        n = 0
        while it.valid():
            n += 1
            it.next()
        return n

    def _release(self) -> None:
        """Drop the RocksDB handles so the database can really close."""
        self._src = _Closed()
        self.handle = None
