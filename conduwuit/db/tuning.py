"""Translate :class:`DatabaseOptions` into rocksdict ``Options``.

Set here, as conduwuit does: block cache, write buffers (a total across the maps
and one map's), compression (+ level, bottommost),
direct I/O, spinning-disk tuning, parallelism, WAL recovery mode, atomic flush,
RocksDB LOG size/rotation/count.

Not settable through rocksdict 0.3.x (so left at RocksDB defaults):
``log_level`` (no ``set_log_level``; the RocksDB LOG file uses INFO),
``skip_checking_sst_file_sizes_on_db_open`` (spinning disks),
``track_and_verify_wals_in_manifest``, ``manual_wal_flush`` (the default, off,
is what we need: each write reaches the OS before it returns), WAL compression,
statistics level. ``ReadOptions.set_iterate_lower_bound`` exists but sets the
*upper* bound in 0.3.29, so iterators here use only upper bounds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from rocksdict import (
    BlockBasedOptions,
    Cache,
    DBCompressionType,
    DBRecoveryMode,
    Options,
)

from .options import DatabaseOptions

_MIB = 1024 * 1024
#: Memtables per map: the one written and up to this many minus one being flushed.
MAX_WRITE_BUFFERS = 6
#: Memtable arena block, bytes (RocksDB's default: write_buffer_size / 8).
ARENA_BLOCK = 64 * 1024
_ZSTD_WINDOW_BITS = -14  # RocksDB's default window_bits in CompressionOptions

_COMPRESSION = {
    "zstd": DBCompressionType.zstd,
    "lz4": DBCompressionType.lz4,
    "snappy": DBCompressionType.snappy,
    "zlib": DBCompressionType.zlib,
    "bz2": DBCompressionType.bz2,
    "none": DBCompressionType.none,
}

# conduwuit's rocksdb_recovery_mode numbering.
_RECOVERY = {
    0: DBRecoveryMode.absolute_consistency,
    1: DBRecoveryMode.tolerate_corrupted_tail_records,
    2: DBRecoveryMode.point_in_time,
    3: DBRecoveryMode.skip_any_corrupted_record,
}


@dataclass(slots=True)
class Tuning:
    """rocksdict option objects built once per open; the cache must outlive the DB."""

    options: DatabaseOptions
    cache: Any

    @classmethod
    def build(cls, options: DatabaseOptions) -> Tuning:
        capacity = int(options.cache_capacity_mb * _MIB)
        return cls(options, Cache(capacity) if capacity > 0 else None)

    def threads(self) -> int:
        requested = self.options.parallelism or os.cpu_count() or 1
        return max(2, requested)

    def db_options(self) -> Any:
        """Options for the database as a whole (and its ``default`` column family)."""
        o = self.options
        opts = self.cf_options()
        opts.create_if_missing(True)
        opts.create_missing_column_families(True)
        threads = self.threads()
        opts.increase_parallelism(threads)
        opts.set_max_background_jobs(threads)
        opts.set_max_subcompactions(threads)
        opts.set_avoid_unnecessary_blocking_io(True)
        # One flush covers every column family, so a checkpoint or a crash after a
        # flush never sees one map ahead of another.
        opts.set_atomic_flush(True)
        # Every write since the last flush is in memory: bound it across all maps
        # (RocksDB's own default, 64 MiB per map and no total, grows with history).
        opts.set_db_write_buffer_size(int(o.write_buffer_capacity_mb * _MIB))
        if o.direct_io:
            opts.set_use_direct_reads(True)
            opts.set_use_direct_io_for_flush_and_compaction(True)
        if o.optimize_for_spinning_disks:
            opts.set_skip_stats_update_on_db_open(True)
            opts.set_compaction_readahead_size(4 * _MIB)
        opts.set_wal_recovery_mode(_RECOVERY[o.recovery_mode]())
        opts.set_max_log_file_size(o.max_log_file_size)
        opts.set_log_file_time_to_roll(o.log_time_to_roll)
        opts.set_keep_log_file_num(o.max_log_files)
        opts.set_stats_dump_period_sec(0)
        return opts

    def cf_options(self) -> Any:
        """Options for one column family: table format, cache and compression."""
        o = self.options
        opts = Options(raw_mode=True)
        table = BlockBasedOptions()
        if self.cache is None:
            table.disable_cache()
        else:
            table.set_block_cache(self.cache)
            table.set_cache_index_and_filter_blocks(True)
        table.set_bloom_filter(10, False)
        opts.set_block_based_table_factory(table)
        opts.set_level_compaction_dynamic_level_bytes(True)
        opts.set_write_buffer_size(int(o.map_write_buffer_mb * _MIB))
        # With atomic flush a flush writes a file for every map that has data, so it
        # is slow beside the small buffers: with RocksDB's 2 memtables per map, a burst
        # of writes (a history import) filled the second before the first was
        # flushed and RocksDB stopped all writes ("Stopping writes because we have 2
        # immutable memtables"). More of them let writes go on while a flush runs;
        # the total stays what db_write_buffer_size triggers flushes at, unless the
        # disk cannot keep up for long.
        opts.set_max_write_buffer_number(MAX_WRITE_BUFFERS)
        # A memtable allocates its arena in blocks of write_buffer_size / 8 (1 MiB for
        # 8 MiB) from its first write, and db_write_buffer_size counts blocks, not
        # bytes written: twenty maps with one write each "filled" 16 MiB, and every
        # few writes flushed all 87 maps (hundreds of tiny files). Small blocks make
        # the total count what was written.
        opts.set_arena_block_size(ARENA_BLOCK)
        if o.optimize_for_spinning_disks:
            opts.set_optimize_filters_for_hits(True)
        kind = _COMPRESSION[o.compression]
        opts.set_compression_type(kind())
        opts.set_compression_options(_ZSTD_WINDOW_BITS, o.compression_level, 0, 0)
        if o.bottommost_compression:
            opts.set_bottommost_compression_type(kind())
            opts.set_bottommost_compression_options(
                _ZSTD_WINDOW_BITS, o.bottommost_compression_level, 0, 0, True
            )
        return opts
