"""RocksDB storage: one Database, named maps, key codec, batches, backups, migrations.

This package knows bytes, not Matrix.
"""

from .batch import Batch
from .database import Database, Snapshot
from .errors import DatabaseError, DatabaseInUseError, SchemaVersionError
from .map import Map, SnapshotMap
from .maps import ALL_MAPS, MAPS, Maps, MapSpec
from .migrations import MIGRATIONS, Migration
from .options import DatabaseOptions

__all__ = [
    "ALL_MAPS",
    "MAPS",
    "MIGRATIONS",
    "Batch",
    "Database",
    "DatabaseError",
    "DatabaseInUseError",
    "DatabaseOptions",
    "Map",
    "MapSpec",
    "Maps",
    "Migration",
    "SchemaVersionError",
    "Snapshot",
    "SnapshotMap",
]
