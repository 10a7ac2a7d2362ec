"""The admin commands from the shell: ``conduwuit admin <group> <command>`` talks to
the running server over a unix socket (``admin_socket_path``) that only the
service user can open (mode 0600, made so before anyone can connect).

One request per connection: a JSON line ``{"command": "..."}``; the answer is a
JSON line ``{"ok": bool, "text": "..."}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import stat
from pathlib import Path

from conduwuit.admin.bot import AdminBot

log = logging.getLogger(__name__)

#: A command line is short; anything longer is refused unread.
MAX_REQUEST_BYTES = 64 * 1024


class AdminSocket:
    def __init__(self, bot: AdminBot, path: Path) -> None:
        self._bot = bot
        self.path = path
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        if self.path.exists() or self.path.is_symlink():
            if not stat.S_ISSOCK(self.path.lstat().st_mode):
                raise OSError(f"admin_socket_path {self.path} exists and is not a socket")
            self.path.unlink()  # left by a previous run that did not stop cleanly
        old = os.umask(0o177)  # the socket is born 0600: no window where others connect
        try:
            self._server = await asyncio.start_unix_server(
                self._serve, path=str(self.path), limit=MAX_REQUEST_BYTES
            )
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                raw = await reader.readline()
                request = json.loads(raw)
                line = request["command"]
                if not isinstance(line, str):
                    raise TypeError("command must be a string")
            except (ValueError, KeyError, TypeError, asyncio.LimitOverrunError) as exc:
                answer = {"ok": False, "text": f"Bad request: {exc}"}
            else:
                outcome = await self._bot.run(line)
                answer = {"ok": outcome.ok, "text": outcome.text}
            writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


async def send_command(path: Path, line: str) -> tuple[bool, str]:
    """The client side: run ``line`` on the server listening at ``path``."""
    reader, writer = await asyncio.open_unix_connection(str(path), limit=2**26)
    try:
        writer.write(json.dumps({"command": line}).encode() + b"\n")
        await writer.drain()
        answer = json.loads(await reader.readline())
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return bool(answer["ok"]), str(answer["text"])
