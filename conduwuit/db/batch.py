"""Atomic write batches across maps."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

from rocksdict import WriteBatch

from .codec import prefix_end
from .errors import DatabaseError
from .map import Map

if TYPE_CHECKING:
    from .database import Database


class Batch:
    """Puts and deletes across any maps, written as ONE RocksDB ``WriteBatch``.

    Either every write of the batch is in the database after a crash, or none
    is. ``commit()`` returning is the acknowledgement: with the WAL on and
    ``sync`` off (the default) the batch survives the process being killed
    (``kill -9``), since the WAL write reached the OS before ``commit``
    returned; it does not survive power loss or a kernel crash unless
    ``sync=True`` (fsync of the WAL per commit).

    As a context manager it commits on normal exit and discards on exception.
    """

    __slots__ = ("_after", "_counts", "_db", "_done", "_staged", "_sync", "_wb")

    def __init__(self, db: Database, sync: bool) -> None:
        self._db = db
        self._sync = sync
        self._wb = WriteBatch(raw_mode=True)
        self._counts: list[int] = []
        self._done = False
        self._after: list[Callable[[], None]] = []
        self._staged: dict[str, dict[bytes, bytes]] = {}

    def __len__(self) -> int:
        n: int = self._wb.len()
        return n

    def _check(self, m: Map) -> None:
        if self._done:
            raise DatabaseError("batch already committed or discarded")
        if m._db is not self._db:
            raise DatabaseError(f"map {m.spec.name} belongs to another database")

    def put(self, m: Map, key: bytes, value: bytes) -> None:
        self._check(m)
        self._wb.put(m.prefix + key, value, m.handle)

    def delete(self, m: Map, key: bytes) -> None:
        self._check(m)
        self._wb.delete(m.prefix + key, m.handle)

    def delete_range(self, m: Map, start: bytes, end: bytes) -> None:
        """Delete every key with ``start <= key < end``."""
        self._check(m)
        self._wb.delete_range(m.prefix + start, m.prefix + end, m.handle)

    def clear(self, m: Map) -> None:
        """Delete every key of ``m``, a map in the shared column family."""
        self._check(m)
        end = prefix_end(m.prefix)
        if not m.prefix or end is None:
            raise DatabaseError(f"map {m.spec.name} has a column family of its own")
        self._wb.delete_range(m.prefix, end, m.handle)

    def staged(self, m: Map) -> dict[bytes, bytes]:
        """A scratch record of puts to ``m`` that later reads in this batch must see.

        A batch is write-only: a get before commit does not see its puts. Code that
        creates a value at most once per key (interned ids) records its puts here and
        looks here first; the record lives exactly as long as the batch.
        """
        self._check(m)
        return self._staged.setdefault(m.spec.name, {})

    def next_count(self) -> int:
        """Reserve the next global count; the counter is persisted with this batch.

        Until this batch is committed or discarded, ``Database.current_count`` stays
        below the reserved count, whatever later counts other batches commit: keep
        the time between short (the room's lock, not this, orders events of a room).
        """
        if self._done:
            raise DatabaseError("batch already committed or discarded")
        count = self._db._reserve_count()
        self._counts.append(count)
        return count

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the batch is committed and its counts are visible
        (``current_count`` has reached them); never if it is discarded.

        For what must not happen before the writes are visible, such as waking
        the long-polls of users a staged change concerns. Callbacks of batches
        that wait for an earlier count run, in count order, when it is committed.
        """
        if self._done:
            raise DatabaseError("batch already committed or discarded")
        self._after.append(callback)

    def commit(self) -> None:
        if self._done:
            raise DatabaseError("batch already committed or discarded")
        self._done = True
        self._staged = {}
        after, self._after = self._after, []
        try:
            self._db._commit(self._wb, self._counts, self._sync, after)
        except BaseException:
            self._db._release(self._counts)  # nothing was written: the counts are unused
            raise

    def discard(self) -> None:
        if self._done:
            return
        self._done = True
        self._after = []
        self._staged = {}
        self._db._release(self._counts)

    def __del__(self) -> None:
        # A batch dropped without commit or discard must not hold back the visible
        # count forever.
        if not self._done and self._counts:
            self.discard()

    def __enter__(self) -> Batch:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None and not self._done:
            self.commit()
        else:
            self.discard()
