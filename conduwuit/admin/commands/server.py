"""``!admin server``: the running process."""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
from dataclasses import dataclass

from conduwuit.admin.parser import Command, CommandError, Group
from conduwuit.admin.render import code_block
from conduwuit.config import GlobalConfig
from conduwuit.db import Database

#: Option names whose values never leave the process (show-config redacts them).
SECRET_MARKERS = ("secret", "password", "token", "key")


def redact_config(config: GlobalConfig) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, value in sorted(config.model_dump(mode="json").items()):
        secret = any(marker in name for marker in SECRET_MARKERS)
        # Only strings hold secrets (a TTL or a flag named after tokens is not one).
        out[name] = "<redacted>" if secret and isinstance(value, str) and value else value
    return out


def format_duration(seconds: float) -> str:
    s = int(seconds)
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    return f"{days} days, {hours} hours, {minutes} minutes and {s} seconds"


def rss_bytes() -> int:
    """The resident set size now (Linux /proc), else the peak (getrusage)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


@dataclass
class ServerCommands:
    config: GlobalConfig
    db: Database
    started: float  # time.monotonic() at start

    async def uptime(self, ns: argparse.Namespace) -> str:
        return f"Up for {format_duration(time.monotonic() - self.started)}."

    async def show_config(self, ns: argparse.Namespace) -> str:
        rows = [f"{name} = {value!r}" for name, value in redact_config(self.config).items()]
        return "Configuration (secrets redacted):\n```\n" + "\n".join(rows) + "\n```"

    async def memory_usage(self, ns: argparse.Namespace) -> str:
        return f"Resident set size: {rss_bytes() / (1024 * 1024):.1f} MiB"

    async def backup_database(self, ns: argparse.Namespace) -> str:
        if self.config.database_backup_path is None:
            raise CommandError("Backups are disabled: database_backup_path is not set")
        # A checkpoint hard-links the SST files but flushes first: off the loop.
        path = await asyncio.to_thread(self.db.backup)
        return f"Backup written to `{path}`."

    async def list_backups(self, ns: argparse.Namespace) -> str:
        if self.config.database_backup_path is None:
            raise CommandError("Backups are disabled: database_backup_path is not set")
        backups = [p.name for p in self.db.list_backups()]
        return f"{len(backups)} backup(s), oldest first:\n" + code_block(backups)

    def group(self) -> Group:
        return Group(
            "server",
            "The running server process",
            (
                Command(
                    "server",
                    "uptime",
                    "How long the server has been running",
                    self.uptime,
                    (),
                    "!admin server uptime",
                ),
                Command(
                    "server",
                    "show-config",
                    "The configuration in use, secrets redacted",
                    self.show_config,
                    (),
                    "!admin server show-config",
                ),
                Command(
                    "server",
                    "memory-usage",
                    "The process's resident memory (RSS)",
                    self.memory_usage,
                    (),
                    "!admin server memory-usage",
                ),
                Command(
                    "server",
                    "backup-database",
                    "Write an online backup of the database now (database_backup_path)",
                    self.backup_database,
                    (),
                    "!admin server backup-database",
                ),
                Command(
                    "server",
                    "list-backups",
                    "List the database backups, oldest first",
                    self.list_backups,
                    (),
                    "!admin server list-backups",
                ),
            ),
        )
