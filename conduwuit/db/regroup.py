"""Schema 5: small maps leave their own column families for the shared one.

Until schema 5 every map was its own column family; now the small ones share
``SHARED_COLUMN`` behind a key prefix (maps.py). In a database written before (or
a backup of one, restored) those maps are still in their own column families:
the database opens them there ("old layout") so that the migrations before 5 read
and write them where they are, and migration 5 (:func:`move_into_shared`) copies
them over; the last of the copy and the version bump are one synced batch. Only
after that commit are the maps switched to the shared column family and the old
column families dropped.

Crash-safe at every point: killed before the commit, the database is at schema
4 or below with the old column families whole, and the move is redone from the
start (each map's prefix cleared first, whatever the cut-short move left there);
a release from before schema 5 opens it as it was. Killed after the commit, the
database is at schema 5: a release from before refuses it, and the next open
drops the old column families that are left (:func:`drop_moved`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from .map import Map
from .maps import MapSpec, column_family

if TYPE_CHECKING:
    from .batch import Batch
    from .database import Database

log = logging.getLogger(__name__)

SHARED_COLUMN_VERSION: Final = 5
"""The schema version from which the small maps are in the shared column family."""

#: Keys per write while copying (bounds the memory of one write batch).
CHUNK = 5000


def moved_maps(specs: Iterable[MapSpec], on_disk: Iterable[str]) -> list[MapSpec]:
    """The maps in ``specs`` that now share a column family but have their own (old)
    column family among ``on_disk``."""
    present = set(on_disk)
    return [s for s in specs if s.name in present and column_family(s) != s.name]


def move_into_shared(db: Database, batch: Batch) -> None:
    """Migration 5: copy every map the database opened in the old layout into its
    column family; the last of it goes in ``batch`` with the version bump, and once
    that is committed the maps are switched over and the old column families dropped."""
    moves = [(old, db.shared_layout(old.spec)) for old in db.old_layout_maps()]
    for old, new in moves:
        log.warning("database: moving map %s into the shared column family", old.spec.name)
        _copy(db, old, new, batch)
    if moves:
        batch.after_commit(lambda: _switch(db, [new for _, new in moves]))


def _copy(db: Database, old: Map, new: Map, last: Batch) -> None:
    pending: list[tuple[bytes, bytes]] = []
    cleared = False
    for k, v in old.iter_prefix(b""):
        pending.append((k, v))
        if len(pending) == CHUNK:
            chunk = db.batch(sync=False)
            if not cleared:
                chunk.clear(new)  # what a move cut short left
                cleared = True
            for ck, cv in pending:
                chunk.put(new, ck, cv)
            _commit_chunk(chunk)
            pending = []
    # The rest goes with the version bump; the chunks before are in the WAL ahead
    # of it, and its fsync makes them durable too.
    if not cleared:
        last.clear(new)
    for k, v in pending:
        last.put(new, k, v)


def _commit_chunk(chunk: Batch) -> None:
    chunk.commit()


def _switch(db: Database, maps: list[Map]) -> None:
    for m in maps:
        db.adopt(m)
    drop_moved(db)


def drop_moved(db: Database) -> None:
    """Drop the old column families of maps now in the shared one (schema 5 or
    later: their data was moved by the committed migration)."""
    for name in db.old_columns():
        log.warning("database: dropping the old column family of map %s", name)
        _drop(db, name)


def _drop(db: Database, name: str) -> None:
    db.drop_column(name)
