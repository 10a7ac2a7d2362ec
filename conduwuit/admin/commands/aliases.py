"""``!admin rooms alias`` and ``!admin rooms directory``: local aliases and the
published room directory, changed as the server (conduwuit's command names)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from conduwuit.admin.commands.targets import local_alias, room_id_of
from conduwuit.admin.parser import Command, CommandError, Group, arg
from conduwuit.admin.render import code_block
from conduwuit.core.errors import MatrixError
from conduwuit.service.rooms.aliases import Aliases
from conduwuit.service.rooms.storage import RoomStorage

_ROOM = arg("room", help="a room ID or alias")
_ALIAS = arg("alias", help="the alias's localpart (or the whole #alias:server)")


@dataclass
class AliasCommands:
    server_name: str
    server_user: str
    storage: RoomStorage
    aliases: Aliases

    def _known_room(self, raw: str) -> str:
        room_id = room_id_of(self.aliases, raw)
        if not self.storage.state.exists(room_id):
            raise CommandError(f"Room {raw} is not known here")
        return room_id

    async def set(self, ns: argparse.Namespace) -> str:
        room_id = self._known_room(ns.room)
        alias = local_alias(self.server_name, ns.alias)
        current = self.aliases.resolve(alias)
        if current is not None and not ns.force:
            raise CommandError(f"{alias} already points to {current}: use --force to move it")
        try:
            self.aliases.check_local(alias)
        except MatrixError as exc:
            raise CommandError(exc.message) from None
        if current is not None:
            self.aliases.delete(alias)
        self.aliases.put(alias, room_id, self.server_user)
        moved = f" (it pointed to {current})" if current is not None else ""
        return f"{alias} now points to {room_id}{moved}."

    async def remove(self, ns: argparse.Namespace) -> str:
        alias = local_alias(self.server_name, ns.alias)
        room_id = self.aliases.resolve(alias)
        if room_id is None:
            raise CommandError(f"No alias {alias} here")
        self.aliases.delete(alias)
        return f"Removed {alias} (it pointed to {room_id})."

    async def which(self, ns: argparse.Namespace) -> str:
        alias = local_alias(self.server_name, ns.alias)
        room_id = self.aliases.resolve(alias)
        if room_id is None:
            raise CommandError(f"No alias {alias} here")
        return f"{alias} points to {room_id}."

    async def list(self, ns: argparse.Namespace) -> str:
        if ns.room is not None:
            room_id = self._known_room(ns.room)
            found = self.aliases.of_room(room_id)
            return f"Aliases of {room_id} ({len(found)}):\n" + code_block(found)
        rows = [f"{alias} -> {room_id}" for alias, room_id in self.aliases.all()]
        return f"Local aliases ({len(rows)}):\n" + code_block(rows)

    async def publish(self, ns: argparse.Namespace) -> str:
        room_id = self._known_room(ns.room)
        self.aliases.set_published(room_id, True)
        return f"{room_id} is published in the room directory."

    async def unpublish(self, ns: argparse.Namespace) -> str:
        room_id = self._known_room(ns.room)
        if not self.aliases.is_published(room_id):
            raise CommandError(f"{room_id} is not published")
        self.aliases.set_published(room_id, False)
        return f"{room_id} is no longer published in the room directory."

    async def list_published(self, ns: argparse.Namespace) -> str:
        rooms = sorted(self.aliases.published())
        return f"Published rooms ({len(rooms)}):\n" + code_block(rooms)

    def alias_group(self) -> Group:
        return Group(
            "alias",
            "Manage this server's room aliases",
            (
                Command(
                    "rooms alias",
                    "set",
                    "Make an alias point to a room",
                    self.set,
                    (
                        arg("-f", "--force", action="store_true", help="move an existing alias"),
                        _ROOM,
                        _ALIAS,
                    ),
                    "!admin rooms alias set !abc:example.org family",
                ),
                Command(
                    "rooms alias",
                    "remove",
                    "Remove an alias",
                    self.remove,
                    (_ALIAS,),
                    "!admin rooms alias remove family",
                ),
                Command(
                    "rooms alias",
                    "which",
                    "Show the room an alias points to",
                    self.which,
                    (_ALIAS,),
                    "!admin rooms alias which family",
                ),
                Command(
                    "rooms alias",
                    "list",
                    "List the local aliases, of every room or of one",
                    self.list,
                    (arg("room", nargs="?", help="only this room's aliases"),),
                    "!admin rooms alias list",
                ),
            ),
        )

    def directory_group(self) -> Group:
        return Group(
            "directory",
            "Manage this server's published room directory",
            (
                Command(
                    "rooms directory",
                    "publish",
                    "Publish a room in the room directory",
                    self.publish,
                    (_ROOM,),
                    "!admin rooms directory publish '#family:example.org'",
                ),
                Command(
                    "rooms directory",
                    "unpublish",
                    "Take a room out of the room directory",
                    self.unpublish,
                    (_ROOM,),
                    "!admin rooms directory unpublish !abc:example.org",
                ),
                Command(
                    "rooms directory",
                    "list",
                    "List the rooms published in the room directory",
                    self.list_published,
                    (),
                    "!admin rooms directory list",
                ),
            ),
        )
