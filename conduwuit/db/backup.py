"""Backups as RocksDB checkpoints: hard-linked, consistent copies that open as a database.

Each backup is a directory ``<backup_path>/<NNNNNN>-<UTC timestamp>``; the
number orders them. A checkpoint is made under a temporary name and renamed,
so a crash never leaves a half-written backup in the list.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from typing import Any

from rocksdict import Checkpoint

_NAME = re.compile(r"(\d{6,})-\d{8}T\d{6}Z")


def list_backups(backup_path: Path) -> list[Path]:
    """Backups under ``backup_path``, oldest first."""
    if not backup_path.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in backup_path.iterdir() if (m := _NAME.fullmatch(p.name))]
    return [p for _, p in sorted(found)]


def create_backup(rdict: Any, backup_path: Path, keep: int) -> Path:
    """Checkpoint ``rdict`` into a new backup and delete all but the ``keep`` newest."""
    backup_path.mkdir(parents=True, exist_ok=True)
    existing = list_backups(backup_path)
    number = int(existing[-1].name.split("-", 1)[0]) + 1 if existing else 1
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    final = backup_path / f"{number:06d}-{stamp}"
    tmp = backup_path / f".tmp-{final.name}"
    if tmp.exists():
        shutil.rmtree(tmp)
    Checkpoint(rdict).create_checkpoint(str(tmp))
    tmp.rename(final)
    for old in list_backups(backup_path)[:-keep]:
        shutil.rmtree(old)
    return final
