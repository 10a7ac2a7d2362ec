"""Media files on disk, content-addressed by sha256 so duplicates are stored once.

Layout under ``<database_path>/media``::

    blobs/<2 hex>/<2 hex>/<64 hex sha256>   finished files, never changed after rename
    tmp/<random>.part                       uploads being written

A file is written to ``tmp/`` in chunks while its sha256 is computed, then fsynced,
renamed to its blob path and the directory fsynced: a reader (and a restart after a
crash) sees either no blob or the whole one, never half a file. Whatever is left in
``tmp/`` at start is what a crash interrupted, and is removed then.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
from collections.abc import AsyncIterable, Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

#: Chunk size of reads and writes: large enough for few syscalls, small enough
#: that memory use does not depend on the file's size.
CHUNK = 256 * 1024

#: What a stored blob's name is: 64 lowercase hex digits.
_HEX = frozenset("0123456789abcdef")


class TooLargeError(Exception):
    """The stream passed the size limit; nothing was stored."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"larger than {limit} bytes")
        self.limit = limit


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int


@dataclass(frozen=True)
class PartialBlob:
    """A written, fsynced temp file not yet renamed to its blob path."""

    temp: Path
    blob: StoredBlob


def is_sha256(name: str) -> bool:
    return len(name) == 64 and set(name) <= _HEX


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class MediaStore:
    """The files of the media repository; metadata lives in the database
    (service/media/repository.py)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs"
        self.tmp = root / "tmp"

    def open(self) -> int:
        """Create the directories and remove temp files a crash left; how many."""
        self.blobs.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.tmp.mkdir(parents=True, exist_ok=True, mode=0o700)
        removed = 0
        for leftover in self.tmp.iterdir():
            leftover.unlink(missing_ok=True)
            removed += 1
        if removed:
            log.warning("media: removed %d unfinished upload(s) left by a crash", removed)
        return removed

    def path(self, sha256: str) -> Path:
        if not is_sha256(sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.blobs / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def _temp_path(self) -> Path:
        return self.tmp / f"{secrets.token_hex(16)}.part"

    async def write(self, chunks: AsyncIterable[bytes], *, limit: int | None) -> PartialBlob:
        """Stream ``chunks`` into a fsynced temp file; its digest and size.

        Raises TooLargeError (leaving nothing behind) once more than ``limit`` bytes
        arrived. Writes happen chunk by chunk, so memory does not grow with the size
        of the file; fsync runs in a worker thread. :meth:`commit` makes it a blob.
        """
        temp = self._temp_path()
        digest = hashlib.sha256()
        size = 0
        try:
            with temp.open("xb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if limit is not None and size > limit:
                        raise TooLargeError(limit)
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                await asyncio.to_thread(os.fsync, out.fileno())
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return PartialBlob(temp, StoredBlob(digest.hexdigest(), size))

    def import_file(self, source: Path, *, limit: int | None = None) -> PartialBlob:
        """Copy a finished local file into a fsynced temp file (blocking: call it in
        a thread); :meth:`commit` makes it a blob."""
        temp = self._temp_path()
        digest = hashlib.sha256()
        size = 0
        try:
            with source.open("rb") as src, temp.open("xb") as out:
                while chunk := src.read(CHUNK):
                    size += len(chunk)
                    if limit is not None and size > limit:
                        raise TooLargeError(limit)
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return PartialBlob(temp, StoredBlob(digest.hexdigest(), size))

    def commit(self, partial: PartialBlob) -> StoredBlob:
        """Rename the temp file to its blob path and fsync the directory (blocking).
        When the same content is stored already, the temp file is dropped instead."""
        blob = partial.blob
        target = self.path(blob.sha256)
        if target.is_file():
            partial.temp.unlink(missing_ok=True)
            return blob
        parent = target.parent
        parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.replace(partial.temp, target)
        _fsync_dir(parent)
        return blob

    @staticmethod
    def discard(partial: PartialBlob) -> None:
        partial.temp.unlink(missing_ok=True)

    def delete(self, sha256: str) -> bool:
        """Remove a blob (the caller checked that no media refers to it)."""
        path = self.path(sha256)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def blob_names(self) -> Iterator[str]:
        """Every stored blob's digest (for the startup check)."""
        for first in sorted(self.blobs.iterdir()):
            if not first.is_dir():
                continue
            for second in sorted(first.iterdir()):
                if not second.is_dir():
                    continue
                for blob in sorted(second.iterdir()):
                    yield blob.name
