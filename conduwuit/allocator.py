"""Large freed buffers go back to the OS: glibc's mmap threshold, pinned; and the
heap's free pages given back once after start-up (:func:`trim`).

glibc serves an allocation of at least ``M_MMAP_THRESHOLD`` bytes (128 KiB at
first) with its own ``mmap`` and unmaps it when freed. But the threshold is
dynamic: freeing such a buffer raises it to the buffer's size (up to 32 MiB), so
from then on buffers that size come from the heap arenas, which keep their pages.
argon2id's 19 MiB per password hash is such a buffer: after a few concurrent
logins, each thread's arena held one for good, and the family scenario's steady
RSS was 160 MiB instead of 84 (docs/performance.md, "Memory"). Setting the
threshold explicitly turns the dynamic adjustment off.

1 MiB, not glibc's 128 KiB: buffers between the two (request bodies, RocksDB's
blocks) stay in the arenas, without a syscall per allocation. An operator's own
``MALLOC_MMAP_THRESHOLD_`` or ``GLIBC_TUNABLES=glibc.malloc.mmap_threshold=...``
wins; other C libraries (musl, macOS) are left alone.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Mapping

#: ``M_MMAP_THRESHOLD`` of glibc's ``<malloc.h>``.
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 1024 * 1024


def operator_set(environ: Mapping[str, str]) -> bool:
    """Whether the environment already sets glibc's mmap threshold."""
    tunables = environ.get("GLIBC_TUNABLES", "")
    return "MALLOC_MMAP_THRESHOLD_" in environ or "glibc.malloc.mmap_threshold" in tunables


def pin_mmap_threshold(
    threshold: int = MMAP_THRESHOLD, environ: Mapping[str, str] = os.environ
) -> bool:
    """Pin glibc's mmap threshold at ``threshold`` bytes; whether it was set."""
    if operator_set(environ):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # no mallopt: not glibc's allocator
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # glibc answers 1 on success; musl's mallopt is a stub answering 0
    return bool(mallopt(M_MMAP_THRESHOLD, threshold) == 1)


def trim() -> bool:
    """Give the heap's free pages back to the OS (glibc's ``malloc_trim``); whether
    any were. Once, after start-up: opening RocksDB's 87 column families leaves
    ~5 MiB of freed temporaries in the main arena, resident until reused (the
    arena grows by 10 MiB, 5 of them in use). Not on a hot path: it walks the heap."""
    try:
        malloc_trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return False
    malloc_trim.argtypes = [ctypes.c_size_t]
    malloc_trim.restype = ctypes.c_int
    return bool(malloc_trim(0) == 1)
