"""Options for opening the database.

The config layer maps its ``rocksdb_*`` / ``database_*`` options onto
:class:`DatabaseOptions`; this module knows nothing of the config file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

COMPRESSIONS: Final = ("zstd", "lz4", "snappy", "zlib", "bz2", "none")
LOG_LEVELS: Final = ("debug", "info", "warn", "error", "fatal")
DEFAULT_COMPRESSION_LEVEL: Final = 32767
"""RocksDB's ``kDefaultCompressionLevel``: let the library pick the level."""


@dataclass(frozen=True, slots=True)
class DatabaseOptions:
    """How to open and tune the RocksDB database.

    ``recovery_mode`` follows conduwuit's ``rocksdb_recovery_mode`` exactly:
    0 = AbsoluteConsistency, 1 = TolerateCorruptedTailRecords (default),
    2 = PointInTime, 3 = SkipAnyCorruptedRecord.
    """

    path: Path
    compression: str = "zstd"
    compression_level: int = DEFAULT_COMPRESSION_LEVEL
    bottommost_compression: bool = False
    bottommost_compression_level: int = DEFAULT_COMPRESSION_LEVEL
    cache_capacity_mb: float = 32.0
    """Block cache shared by all maps; 0 disables the block cache."""
    write_buffer_capacity_mb: float = 16.0
    """Memtables of all maps together (RocksDB's ``db_write_buffer_size``): past it,
    the maps are flushed."""
    map_write_buffer_mb: float = 8.0
    """One map's memtable (``write_buffer_size``) before that map alone fills up."""
    direct_io: bool = False
    optimize_for_spinning_disks: bool = False
    recovery_mode: int = 1
    parallelism: int = 0
    """Background threads for flush and compaction; 0 = number of cores (at least 2)."""
    log_level: str = "error"
    max_log_file_size: int = 4 * 1024 * 1024
    log_time_to_roll: int = 0
    """Seconds after which RocksDB starts a new LOG file; 0 = never by time."""
    max_log_files: int = 3
    backup_path: Path | None = None
    backups_to_keep: int = 1
    sync_writes: bool = False
    """fsync the WAL on every write: survives power loss, at a large cost per write.

    Off (the default), an acknowledged write survives the process being killed
    (the WAL is in the OS page cache) but not a power cut or kernel crash.
    """

    def __post_init__(self) -> None:
        if not isinstance(self.path, Path):
            raise ValueError(f"database path must be a Path, got {self.path!r}")
        if self.compression not in COMPRESSIONS:
            raise ValueError(
                f"compression must be one of {', '.join(COMPRESSIONS)}; got {self.compression!r}"
            )
        _check_level("compression_level", self.compression_level)
        _check_level("bottommost_compression_level", self.bottommost_compression_level)
        if not self.cache_capacity_mb >= 0:  # also rejects NaN
            raise ValueError(f"cache_capacity_mb must be >= 0; got {self.cache_capacity_mb!r}")
        for name in ("write_buffer_capacity_mb", "map_write_buffer_mb"):
            size = getattr(self, name)
            if not size > 0:  # also rejects NaN
                raise ValueError(f"{name} must be > 0; got {size!r}")
        if self.recovery_mode not in (0, 1, 2, 3):
            raise ValueError(
                "recovery_mode must be 0 (AbsoluteConsistency), 1 (TolerateCorruptedTailRecords),"
                f" 2 (PointInTime) or 3 (SkipAnyCorruptedRecord); got {self.recovery_mode!r}"
            )
        if self.parallelism < 0:
            raise ValueError(f"parallelism must be >= 0 (0 = all cores); got {self.parallelism}")
        if self.log_level not in LOG_LEVELS:
            raise ValueError(
                f"log_level must be one of {', '.join(LOG_LEVELS)}; got {self.log_level!r}"
            )
        if self.max_log_file_size < 0:
            raise ValueError(f"max_log_file_size must be >= 0; got {self.max_log_file_size}")
        if self.log_time_to_roll < 0:
            raise ValueError(f"log_time_to_roll must be >= 0; got {self.log_time_to_roll}")
        if self.max_log_files < 1:
            raise ValueError(f"max_log_files must be >= 1; got {self.max_log_files}")
        if self.backup_path is not None and not isinstance(self.backup_path, Path):
            raise ValueError(f"backup_path must be a Path or None, got {self.backup_path!r}")
        if self.backups_to_keep < 1:
            raise ValueError(f"backups_to_keep must be >= 1; got {self.backups_to_keep}")
        if self.backup_path is not None and _inside(self.backup_path, self.path):
            raise ValueError("backup_path must not be inside the database path")


def _check_level(name: str, level: int) -> None:
    # RocksDB levels are library-specific (zstd allows negatives); only the int range is ours.
    if isinstance(level, bool) or not isinstance(level, int) or not -(2**31) <= level < 2**31:
        raise ValueError(f"{name} must be a 32-bit integer; got {level!r}")


def _inside(child: Path, parent: Path) -> bool:
    try:
        child.resolve().relative_to(parent.resolve())
    except ValueError:
        return False
    return True
