"""``!admin rooms``: the rooms this server knows."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

from conduwuit.admin.commands.targets import room_id_of
from conduwuit.admin.parser import Command, CommandError, Group, arg
from conduwuit.admin.render import code_block
from conduwuit.core.event_types import EventType
from conduwuit.core.membership import MembershipState
from conduwuit.service.rooms.aliases import Aliases
from conduwuit.service.rooms.storage import RoomStorage


@dataclass
class RoomCommands:
    storage: RoomStorage
    aliases: Aliases

    def _room(self, raw: str) -> str:
        room_id = room_id_of(self.aliases, raw)
        if not self.storage.state.exists(room_id):
            raise CommandError(f"Room {raw} is not known here")
        return room_id

    def _name(self, room_id: str) -> str:
        state = self.storage.state
        content = state.content_at(state.current_hash(room_id), EventType.NAME) or {}
        name = content.get("name")
        return name if isinstance(name, str) and name else "-"

    async def list_rooms(self, ns: argparse.Namespace) -> str:
        members = self.storage.member_index
        rows = [
            f"{room_id}  members: {members.count(room_id, MembershipState.JOIN)}  "
            f"name: {self._name(room_id)}"
            for room_id in self.storage.short.room_ids()
            if self.storage.state.exists(room_id)
        ]
        return f"Rooms ({len(rows)}):\n" + code_block(rows)

    async def info(self, ns: argparse.Namespace) -> str:
        room_id = self._room(ns.room)
        state = self.storage.state
        current = state.current_hash(room_id)
        members = self.storage.member_index
        rv = state.room_version(room_id)
        topic = (state.content_at(current, EventType.TOPIC) or {}).get("topic", "-")
        lines = [
            f"Room ID: {room_id}",
            f"Name: {self._name(room_id)}",
            f"Topic: {topic}",
            f"Version: {rv.identifier if rv else '?'}",
            f"Joined members: {members.count(room_id, MembershipState.JOIN)}",
            f"Invited members: {members.count(room_id, MembershipState.INVITE)}",
            f"Local aliases: {', '.join(self.aliases.of_room(room_id)) or '-'}",
        ]
        joined = sorted(members.members(room_id, MembershipState.JOIN))
        return "\n".join(lines) + "\n\nJoined:\n" + code_block(joined)

    async def state(self, ns: argparse.Namespace) -> str:
        room_id = self._room(ns.room)
        state = self.storage.state
        current = state.current_hash(room_id)
        pdus = []
        for (event_type, state_key), _ in sorted(state.state_ids(current).items()):
            pdu = state.pdu_at(current, event_type, state_key)
            if pdu is not None:
                pdus.append(pdu)
        return f"State of {room_id}:\n```\n{json.dumps(pdus, indent=2, sort_keys=True)}\n```"

    def group(self, subgroups: tuple[Group, ...] = ()) -> Group:
        room = arg("room", help="a room ID or alias")
        return Group(
            "rooms",
            "Inspect and moderate the rooms this server knows",
            (
                Command(
                    "rooms",
                    "list-rooms",
                    "List the rooms with their joined member counts",
                    self.list_rooms,
                    (),
                    "!admin rooms list-rooms",
                ),
                Command(
                    "rooms",
                    "info",
                    "A room's name, topic, version, members and aliases",
                    self.info,
                    (room,),
                    "!admin rooms info '#admins:example.org'",
                ),
                Command(
                    "rooms",
                    "state",
                    "A room's current state events as JSON",
                    self.state,
                    (room,),
                    "!admin rooms state !abc:example.org",
                ),
            ),
            subgroups,
        )
