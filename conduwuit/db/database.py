"""The one RocksDB database of the server.

All calls are synchronous and short (point reads, bounded scans, one write per
batch), so they are made straight from the event loop. A lock makes writes,
counter updates and snapshots safe if an executor thread uses the database too.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from rocksdict import Rdict, WriteOptions

from . import backup as _backup
from .batch import Batch
from .codec import from_u64, u64
from .errors import DatabaseError, DatabaseInUseError, SchemaVersionError
from .map import Map, SnapshotMap
from .maps import ALL_MAPS, GLOBAL_COUNTER, GLOBAL_VERSION, MAPS, MapSpec, column_family
from .migrations import MIGRATIONS, Migration, check_order, latest_version
from .options import DatabaseOptions
from .regroup import SHARED_COLUMN_VERSION, drop_moved, moved_maps
from .tuning import Tuning

log = logging.getLogger(__name__)


class Snapshot:
    """Consistent point reads across every map at one moment. Close it when done.

    Point reads only: rocksdict's snapshot iterators read live data (see map.py).
    """

    def __init__(self, views: dict[str, SnapshotMap]) -> None:
        self._views = views
        self._closed = False

    def map(self, spec: MapSpec) -> SnapshotMap:
        if self._closed:
            raise DatabaseError("snapshot is closed")
        try:
            return self._views[spec.name]
        except KeyError:
            raise DatabaseError(f"map {spec.name!r} was not opened with this database") from None

    def close(self) -> None:
        self._closed = True
        for view in self._views.values():
            view._release()
        self._views.clear()

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: The database holds access tokens and the server's signing key: it is its owner's
#: alone, whatever the umask. RocksDB creates files with 0666 & ~umask, so the
#: server process also tightens its umask (runtime.private_umask) before opening.
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def make_private(path: Path) -> None:
    """chmod ``path`` 0700 and everything under it 0700 (directories) / 0600 (files),
    so a database created by an older version or under a loose umask is fixed too."""
    path.chmod(PRIVATE_DIR)
    for child in path.rglob("*"):
        if child.is_symlink():
            continue
        child.chmod(PRIVATE_DIR if child.is_dir() else PRIVATE_FILE)


class Database:
    """Named maps over one RocksDB, atomic batches, the global counter, backups."""

    def __init__(self, options: DatabaseOptions, rdict: Any, tuning: Tuning) -> None:
        self.options = options
        self.write_lock = threading.RLock()
        self.write_options = _write_options(options.sync_writes)
        self._rdict = rdict
        self._tuning = tuning
        self._maps: dict[str, Map] = {}
        #: The column families the maps live in, by name (several maps may share one).
        self._columns: dict[str, Any] = {}
        self._snapshots: weakref.WeakSet[Snapshot] = weakref.WeakSet()
        self._closed = False
        self._count = 0  # the highest count handed out
        self._persisted_count = 0  # every count up to this one is written (or dropped)
        self._pending: set[int] = set()  # reserved by batches not yet committed or discarded
        self._written = 0  # the highest count committed
        # Callbacks of committed batches whose counts are not visible yet: (count, callback).
        self._waiting: list[tuple[int, Callable[[], None]]] = []

    @classmethod
    def open(
        cls,
        options: DatabaseOptions,
        *,
        maps: Iterable[MapSpec] = ALL_MAPS,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> Database:
        """Open (creating if missing) the database and every map, then migrate.

        Raises DatabaseInUseError if another process has it open, and
        SchemaVersionError if it was written by a newer schema than ``migrations`` know.
        """
        check_order(migrations)
        specs = {s.name: s for s in maps}
        if MAPS.global_.name not in specs:
            raise ValueError("the global map is required")
        path = options.path
        path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        make_private(path)
        tuning = Tuning.build(options)
        db_opts = tuning.db_options()
        on_disk: list[str] = []
        if (path / "CURRENT").exists():
            on_disk = [n for n in Rdict.list_cf(str(path), db_opts) if n != "default"]
        # Every registered map still in an old column family of its own is opened,
        # even when not asked for, so that migration 5 moves it with the others (a
        # map left behind would be dropped as a leftover later).
        specs.update((s.name, s) for s in moved_maps(ALL_MAPS, on_disk))
        columns = {column_family(s) for s in specs.values()}
        try:
            rdict = Rdict(
                str(path),
                db_opts,
                column_families={n: tuning.cf_options() for n in columns.union(on_disk)},
            )
        except Exception as e:
            if _is_lock_error(e):
                raise DatabaseInUseError(
                    f"database at {path} is already in use by another process"
                ) from e
            raise DatabaseError(f"cannot open database at {path}: {e}") from e
        db = cls(options, rdict, tuning)
        try:
            for name in sorted(columns):
                db._columns[name] = rdict.get_column_family(name)
            db._maps[MAPS.global_.name] = db.shared_layout(MAPS.global_)
            raw = db.map(MAPS.global_).get(GLOBAL_VERSION)
            before_shared = raw is not None and from_u64(raw) < SHARED_COLUMN_VERSION
            # Before schema 5 the small maps had column families of their own: they
            # stay there until migration 5 moves them (db/regroup.py).
            old_layout = {s.name for s in moved_maps(specs.values(), on_disk)}
            for spec in specs.values():
                if before_shared and spec.name in old_layout:
                    cf = db._columns[spec.name] = rdict.get_column_family(spec.name)
                    handle = rdict.get_column_family_handle(spec.name)
                    db._maps[spec.name] = Map(spec, cf, handle, db, column=spec.name)
                else:
                    db._maps[spec.name] = db.shared_layout(spec)
            if not before_shared:
                drop_moved(db)  # left by a move killed after its commit
            stored = db.map(MAPS.global_).get(GLOBAL_COUNTER)
            db._count = db._persisted_count = db._written = from_u64(stored) if stored else 0
            db._migrate(migrations)
        except BaseException:
            db.close()
            raise
        return db

    def _migrate(self, migrations: Sequence[Migration]) -> None:
        glob = self.map(MAPS.global_)
        latest = latest_version(migrations)
        raw = glob.get(GLOBAL_VERSION)
        if raw is None:
            glob.put(GLOBAL_VERSION, u64(latest))
            return
        stored = from_u64(raw)
        if stored > latest:
            raise SchemaVersionError(
                f"database at {self.options.path} has schema version {stored}, newer than the"
                f" {latest} this version of conduwuit knows; refusing to open it"
                " (downgrades are not supported: run a newer release or restore a backup)"
            )
        for m in migrations:
            if m.version > stored:
                log.warning("database migration %d: %s", m.version, m.description)
                with self.batch(sync=True) as b:
                    m.apply(self, b)
                    b.put(glob, GLOBAL_VERSION, u64(m.version))

    def shared_layout(self, spec: MapSpec) -> Map:
        """A map of this database where schema 5 keeps it (maps.column_family)."""
        column = column_family(spec)
        handle = self._rdict.get_column_family_handle(column)
        return Map(spec, self._columns[column], handle, self, column=column)

    def old_layout_maps(self) -> list[Map]:
        """The maps opened in the column family of their own they had before schema 5."""
        return [m for m in self._maps.values() if m.column != column_family(m.spec)]

    def adopt(self, m: Map) -> None:
        """Use ``m`` for its spec from now on (a map moved by migration 5)."""
        self._maps[m.spec.name] = m

    def old_columns(self) -> list[str]:
        """Column families on disk of maps that no longer use them (moved to the
        shared one); what :meth:`drop_column` is for."""
        on_disk = Rdict.list_cf(str(self.options.path), self._tuning.db_options())
        specs = [m.spec for m in self._maps.values()]
        return [s.name for s in moved_maps(specs, on_disk) if self._maps[s.name].column != s.name]

    def drop_column(self, name: str) -> None:
        """Drop a column family no map uses (its data is gone with it)."""
        if any(m.column == name for m in self._maps.values()):
            raise DatabaseError(f"column family {name!r} is in use")
        with self.write_lock:
            cf = self._columns.pop(name, None)
            if cf is not None:
                cf.close()
            self._rdict.drop_column_family(name)

    @property
    def schema_version(self) -> int:
        raw = self.map(MAPS.global_).get(GLOBAL_VERSION)
        return from_u64(raw) if raw else 0

    def map(self, spec: MapSpec) -> Map:
        """The live map for a registered spec (``db.map(MAPS.userid_password)``)."""
        try:
            return self._maps[spec.name]
        except KeyError:
            raise DatabaseError(f"map {spec.name!r} was not opened with this database") from None

    def batch(self, *, sync: bool | None = None) -> Batch:
        """A new atomic batch; ``sync`` overrides ``options.sync_writes`` for it."""
        return Batch(self, self.options.sync_writes if sync is None else sync)

    # Stream positions become visible in order (DESIGN.md "Order per room is explicit"):
    # ``current_count`` is the highest count below which every reserved count is
    # committed or dropped, so a reader never sees N+1 while N may still come, even
    # when two writers (two rooms) reserve N and N+1 and commit the other way round.
    def _commit(
        self,
        wb: Any,
        counts: Sequence[int],
        sync: bool,
        after: Sequence[Callable[[], None]] = (),
    ) -> None:
        with self.write_lock:
            if counts:
                # The highest count handed out so far: the stored counter never goes back.
                wb.put(GLOBAL_COUNTER, u64(self._count), self.map(MAPS.global_).handle)
            opts = self.write_options if sync == self.options.sync_writes else _write_options(sync)
            self._rdict.write(wb, opts)
            threshold = max(counts, default=0)
            self._written = max(self._written, threshold)
            self._waiting.extend((threshold, callback) for callback in after)
            ready = self._settle(counts)
        for callback in ready:
            callback()

    def _release(self, counts: Sequence[int]) -> None:
        """Counts of a discarded batch: never used, so they hold back nothing."""
        with self.write_lock:
            ready = self._settle(counts)
        for callback in ready:
            callback()

    def _settle(self, counts: Sequence[int]) -> list[Callable[[], None]]:
        """Retire ``counts``; advance the visible count; the callbacks now due, in order."""
        self._pending.difference_update(counts)
        limit = min(self._pending) - 1 if self._pending else self._count
        self._persisted_count = max(self._persisted_count, min(limit, self._written))
        if not self._waiting:
            return []
        visible = self._persisted_count
        due = sorted((w for w in self._waiting if w[0] <= visible), key=lambda w: w[0])
        self._waiting = [w for w in self._waiting if w[0] > visible]
        return [callback for _, callback in due]

    def _reserve_count(self) -> int:
        with self.write_lock:
            self._count += 1
            self._pending.add(self._count)
            return self._count

    def next_count(self) -> int:
        """Advance the global counter, persist it, and return the new value."""
        with self.write_lock:
            n = self._reserve_count()
            self.map(MAPS.global_).put(GLOBAL_COUNTER, u64(n))
            self._written = max(self._written, n)
            ready = self._settle([n])
        for callback in ready:
            callback()
        return n

    def current_count(self) -> int:
        """The highest count written such that every count below it is written too
        (or was reserved by a batch that was then discarded): the newest stream
        position a reader may use."""
        return self._persisted_count

    def snapshot(self) -> Snapshot:
        """Consistent point reads across all maps (taken while no write is in progress)."""
        with self.write_lock:
            snaps = {name: cf.snapshot() for name, cf in self._columns.items()}
            views = {
                n: SnapshotMap(m.spec, snaps[m.column], m.prefix) for n, m in self._maps.items()
            }
            snap = Snapshot(views)
            self._snapshots.add(snap)
        return snap

    def flush(self) -> None:
        """Write memtables of every map to SST files and fsync the WAL."""
        with self.write_lock:
            self._rdict.flush_wal(True)
            for cf in self._columns.values():
                cf.flush(True)

    def backup(self) -> Path:
        """Checkpoint into ``backup_path``; keep the ``backups_to_keep`` newest."""
        if self.options.backup_path is None:
            raise DatabaseError("no backup_path configured")
        with self.write_lock:
            self._rdict.flush_wal(True)
            return _backup.create_backup(
                self._rdict, self.options.backup_path, self.options.backups_to_keep
            )

    def list_backups(self) -> list[Path]:
        """Existing backups, oldest first."""
        if self.options.backup_path is None:
            return []
        return _backup.list_backups(self.options.backup_path)

    def map_properties(self, names: Sequence[str]) -> dict[str, dict[str, int]]:
        """RocksDB integer properties (``rocksdb.estimate-num-keys`` ...) of every
        column family, by its name (a map's own, or ``shared`` for the small maps
        together); a property RocksDB does not know is left out. Each is a cheap
        read of figures RocksDB keeps anyway (no scan); nothing when closed."""
        out: dict[str, dict[str, int]] = {}
        for map_name, cf in list(self._columns.items()):
            found = {}
            for name in names:
                value = cf.property_int_value(name)
                if value is not None:
                    found[name] = int(value)
            out[map_name] = found
        return out

    def properties(self, names: Sequence[str]) -> dict[str, int]:
        """RocksDB integer properties of the database as a whole (the block cache
        is shared by every map), those RocksDB knows; nothing when closed."""
        if self._closed:
            return {}
        values = {name: self._rdict.property_int_value(name) for name in names}
        return {name: int(value) for name, value in values.items() if value is not None}

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Flush and close; safe to call twice."""
        with self.write_lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._rdict.flush_wal(True)
                for snap in list(self._snapshots):
                    snap.close()
                for m in self._maps.values():
                    m._release()
                for cf in self._columns.values():
                    cf.close()
            finally:
                self._maps.clear()
                self._columns.clear()
                self._rdict.close()
                # Files written since open (rocksdict's config, new SSTs) under the
                # umask of whoever embedded us.
                make_private(self.options.path)
                self._rdict = None

    def __enter__(self) -> Database:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _is_lock_error(e: Exception) -> bool:
    """rocksdict raises a bare Exception; RocksDB's lock failures name the LOCK file.

    (A plain "lock" substring would also match e.g. "block cache".)
    """
    message = str(e)
    return "/LOCK" in message or "lock hold" in message or "While lock file" in message


def _write_options(sync: bool) -> Any:
    opts = WriteOptions()
    opts.sync = sync
    return opts
