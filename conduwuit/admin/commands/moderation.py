"""``!admin rooms moderation``: banning rooms (conduwuit's command names). A banned
room loses its local members (each leaves), local aliases and directory entry; no
local non-admin may join, knock on or be invited to it again, and its federation
is disabled (every room-scoped request from other servers refused). Persisted."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from conduwuit.admin.commands.targets import room_id_of
from conduwuit.admin.parser import Command, CommandError, Group, arg
from conduwuit.admin.render import code_block
from conduwuit.core.errors import MatrixError
from conduwuit.core.ids import RoomAlias
from conduwuit.service.rooms.admin import RoomAdmin
from conduwuit.service.rooms.aliases import Aliases
from conduwuit.service.rooms.metadata import RoomMetadata


def _remote_server(raw: str, server_name: str) -> str | None:
    """The server of another server's well-formed alias, else None."""
    if not raw.startswith("#"):
        return None
    try:
        server = str(RoomAlias.parse(raw).server_name)
    except ValueError:
        return None
    return server if server != server_name else None


@dataclass
class ModerationCommands:
    server_name: str
    #: Shuts rooms down (the admin API's room deletion does the same).
    rooms: RoomAdmin
    aliases: Aliases
    metadata: RoomMetadata
    admin_room: Callable[[], str | None]
    #: ``FederationQueries.alias``: another server's alias, asked of that server.
    remote_alias: Callable[[str, str], Awaitable[dict[str, Any]]]

    async def _target(self, raw: str) -> str:
        """A room ID, or the room of an alias: a local one, or another server's asked
        over federation (``query/directory``)."""
        remote = _remote_server(raw, self.server_name)
        if remote is not None:
            try:
                room_id = str((await self.remote_alias(raw, remote))["room_id"])
            except MatrixError as exc:
                raise CommandError(f"Could not resolve {raw}: {exc.message}") from None
        else:
            room_id = room_id_of(self.aliases, raw)
        if room_id == self.admin_room():
            raise CommandError("The admin room cannot be banned")
        return room_id

    async def _ban(self, room_id: str) -> str:
        done = await self.rooms.shutdown(room_id, block=True)
        text = f"Banned {room_id}; {len(done.kicked_users)} local user(s) made to leave."
        if done.failures:
            text += f"\nCould not remove {len(done.failures)}:\n" + code_block(done.failures)
        return text

    async def ban_room(self, ns: argparse.Namespace) -> str:
        return await self._ban(await self._target(ns.room))

    async def ban_list_of_rooms(self, ns: argparse.Namespace) -> str:
        if not ns.code_block:
            raise CommandError("Give the rooms (IDs or aliases) in a code block, one a line")
        try:
            rooms = [await self._target(raw) for raw in ns.code_block]
        except CommandError as exc:
            raise CommandError(f"{exc}; no room was banned") from None
        return "\n".join([await self._ban(room_id) for room_id in dict.fromkeys(rooms)])

    async def unban_room(self, ns: argparse.Namespace) -> str:
        room_id = await self._target(ns.room)
        if not self.metadata.is_banned(room_id):
            raise CommandError(f"{room_id} is not banned")
        self.metadata.set_banned(room_id, False)
        return f"Unbanned {room_id}: local users may join it again, its federation is enabled."

    async def list_banned_rooms(self, ns: argparse.Namespace) -> str:
        rooms = self.metadata.banned()
        return f"Banned rooms ({len(rooms)}):\n" + code_block(rooms)

    def group(self) -> Group:
        room = arg("room", help="a room ID or alias")
        return Group(
            "moderation",
            "Ban rooms: evict local users, block joins, invites and federation",
            (
                Command(
                    "rooms moderation",
                    "ban-room",
                    "Ban a room: local users leave it, its local aliases and directory entry "
                    "go, no local non-admin may join or be invited, its federation is disabled",
                    self.ban_room,
                    (room,),
                    "!admin rooms moderation ban-room '#spam:example.org'",
                ),
                Command(
                    "rooms moderation",
                    "ban-list-of-rooms",
                    "Ban every room (ID or alias) listed in a code block, one a line",
                    self.ban_list_of_rooms,
                    (),
                    "!admin rooms moderation ban-list-of-rooms",
                ),
                Command(
                    "rooms moderation",
                    "unban-room",
                    "Unban a room: local users may join it again, its federation is enabled",
                    self.unban_room,
                    (room,),
                    "!admin rooms moderation unban-room !abc:example.org",
                ),
                Command(
                    "rooms moderation",
                    "list-banned-rooms",
                    "List the banned rooms",
                    self.list_banned_rooms,
                    (),
                    "!admin rooms moderation list-banned-rooms",
                ),
            ),
        )
