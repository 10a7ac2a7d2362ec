"""Memory budgets derived from the machine: RocksDB's block cache and write buffers.

conduwuit derives ``db_cache_capacity_mb`` and ``db_write_buffer_capacity_mb`` from
the CPU core count alone (128 + 64 per core and 48 + 4 per core), which on a 4-core
Raspberry Pi 3 with 1 GB would be 384 + 64 MiB: too much for a family server. Here
the defaults follow the memory the server may use (the machine's, or its cgroup's
limit when lower), capped by a core-scaled figure so that a large machine does not
give a small family server hundreds of MiB it never needs. :func:`derive` is the
pure rule; the composition root calls it with :func:`machine`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

#: A cgroup v2 memory limit: a systemd ``MemoryMax=`` or a container's ``--memory``.
CGROUP_MEMORY_MAX: Final = Path("/sys/fs/cgroup/memory.max")
#: Fraction of the memory given to the block cache / to the write buffers (all maps).
#: The block cache is small on purpose: a family's hot data is in the memtables and
#: the OS page cache keeps the SST files; every MiB of block cache is RSS once read
#: (docs/performance.md, "Memory": 32 MiB of it was a quarter of the family's RSS).
CACHE_SHARE: Final = 1 / 128
WRITE_BUFFER_SHARE: Final = 1 / 64
#: The caps, in MiB: a base plus this much per core.
CACHE_CAP_BASE, CACHE_CAP_PER_CORE = 4.0, 2.0
WRITE_BUFFER_CAP_BASE, WRITE_BUFFER_CAP_PER_CORE = 8.0, 4.0
#: Smallest total write buffer, MiB: below it every few writes would flush.
WRITE_BUFFER_FLOOR: Final = 4.0
#: One map's write buffer is at most this share of the total (and at most 8 MiB), so
#: that the total, not one busy map, is what triggers a flush.
MAP_WRITE_BUFFER_SHARE: Final = 1 / 2
MAP_WRITE_BUFFER_MAX: Final = 8.0


@dataclass(frozen=True, slots=True)
class Machine:
    memory_mib: float
    """Memory the server may use: physical memory, or the cgroup's limit when lower."""
    cores: int


@dataclass(frozen=True, slots=True)
class MemoryBudget:
    db_cache_capacity_mb: float
    """RocksDB block cache, shared by every map."""
    db_write_buffer_capacity_mb: float
    """RocksDB memtables of all maps together: past it, the maps are flushed."""
    map_write_buffer_mb: float
    """One map's memtable before it is flushed on its own account."""


def derive(machine: Machine) -> MemoryBudget:
    """The default budget for a machine; pure, so that tests can pin every case.

    Block cache: 1/128 of the memory, at most 4 + 2 MiB per core (8 MiB on a 1 GB
    Pi, 4 on a 512 MB Pi Zero 2). Write buffers: 1/64 of it, at least 4 MiB, at
    most 8 + 4 MiB per core (16 MiB on the 1 GB Pi, 8 on the Pi Zero 2).
    """
    cores = max(1, machine.cores)
    memory = max(0.0, machine.memory_mib)
    cache = min(memory * CACHE_SHARE, CACHE_CAP_BASE + CACHE_CAP_PER_CORE * cores)
    write = min(
        memory * WRITE_BUFFER_SHARE, WRITE_BUFFER_CAP_BASE + WRITE_BUFFER_CAP_PER_CORE * cores
    )
    write = max(WRITE_BUFFER_FLOOR, write)
    return MemoryBudget(
        db_cache_capacity_mb=cache,
        db_write_buffer_capacity_mb=write,
        map_write_buffer_mb=map_write_buffer(write),
    )


def map_write_buffer(total_mb: float) -> float:
    """One map's write buffer for a total budget (an explicit total is split the same way)."""
    return min(MAP_WRITE_BUFFER_MAX, total_mb * MAP_WRITE_BUFFER_SHARE)


def machine(cgroup_max: Path = CGROUP_MEMORY_MAX) -> Machine:
    """This machine: physical memory (or the cgroup's lower limit) and usable cores."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1024 * 1024)
    limit = _cgroup_limit_mib(cgroup_max)
    if limit is not None:
        memory = min(memory, limit)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return Machine(memory_mib=memory, cores=cores)


def _cgroup_limit_mib(path: Path) -> float | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if not text.isdigit():  # "max": no limit
        return None
    return int(text) / (1024 * 1024)
