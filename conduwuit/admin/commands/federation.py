"""``!admin federation``: incoming federation being handled and per room, and what
other servers' users share with us (conduwuit's command names)."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Any, Protocol

from conduwuit.admin.commands.targets import room_id_of
from conduwuit.admin.parser import Command, CommandError, Group, arg
from conduwuit.admin.render import code_block
from conduwuit.core.ids import UserId
from conduwuit.service.federation.inbound import HandledPdu
from conduwuit.service.federation.well_known import WellKnownError
from conduwuit.service.rooms.aliases import Aliases
from conduwuit.service.rooms.metadata import RoomMetadata
from conduwuit.service.rooms.storage import RoomStorage

SUPPORT_PATH = "/.well-known/matrix/support"


class DocumentFetch(Protocol):
    """``WellKnownClient.fetch_document``: HTTPS, redirects, size cap, IP denylist."""

    async def fetch_document(self, server_name: str, path: str) -> bytes: ...


class IncomingPdus(Protocol):
    """``InboundTransactions``: the received PDUs being handled now."""

    def handling(self) -> list[HandledPdu]: ...

    def monotonic(self) -> float: ...


def _support_lines(document: dict[str, Any]) -> list[str]:
    """The spec's support document ("Server support information"): contacts with a
    role and a Matrix ID and/or an email address, and a support page."""
    lines = []
    contacts = document.get("contacts")
    for contact in contacts if isinstance(contacts, list) else []:
        if not isinstance(contact, dict):
            continue
        how = [
            str(contact[k])
            for k in ("matrix_id", "email_address")
            if isinstance(contact.get(k), str)
        ]
        lines.append(f"{contact.get('role', '?')}: {', '.join(how) or '-'}")
    page = document.get("support_page")
    if isinstance(page, str):
        lines.append(f"support page: {page}")
    return lines


@dataclass
class FederationCommands:
    server_name: str
    storage: RoomStorage
    aliases: Aliases
    metadata: RoomMetadata
    documents: DocumentFetch
    incoming: IncomingPdus

    async def incoming_federation(self, ns: argparse.Namespace) -> str:
        handling = self.incoming.handling()
        if not handling:
            return "No incoming PDU is being handled."
        now = self.incoming.monotonic()
        lines = [
            f"{h.room_id} {h.event_id} from {h.origin}, for {now - h.started:.1f} s"
            for h in handling
        ]
        return f"Handling {len(lines)} incoming PDU(s):\n" + code_block(lines)

    async def disable_room(self, ns: argparse.Namespace) -> str:
        room_id = room_id_of(self.aliases, ns.room)
        if self.metadata.is_disabled(room_id):
            raise CommandError(f"Federation of {room_id} is already disabled")
        self.metadata.set_disabled(room_id, True)
        return f"Incoming federation of {room_id} is disabled."

    async def enable_room(self, ns: argparse.Namespace) -> str:
        room_id = room_id_of(self.aliases, ns.room)
        if self.metadata.is_banned(room_id):
            raise CommandError(f"{room_id} is banned: unban it (rooms moderation unban-room)")
        if not self.metadata.is_disabled(room_id):
            raise CommandError(f"Federation of {room_id} is not disabled")
        self.metadata.set_disabled(room_id, False)
        return f"Incoming federation of {room_id} is enabled."

    async def remote_user_in_rooms(self, ns: argparse.Namespace) -> str:
        try:
            user = UserId.parse(ns.user)
        except ValueError as exc:
            raise CommandError(f"{ns.user!r} is not a user ID: {exc}") from None
        if str(user.server_name) == self.server_name:
            raise CommandError(f"{user} is a local user: see users list-joined-rooms")
        rooms = sorted(r.room_id for r in self.storage.member_index.rooms_of(str(user)))
        if not rooms:
            raise CommandError(f"{user} shares no room with this server")
        return f"{user} is joined to {len(rooms)} room(s) known here:\n" + code_block(rooms)

    async def fetch_support_well_known(self, ns: argparse.Namespace) -> str:
        try:
            raw = await self.documents.fetch_document(ns.server, SUPPORT_PATH)
        except WellKnownError as exc:
            raise CommandError(f"No support information from {ns.server}: {exc}") from None
        try:
            document = json.loads(raw)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise CommandError(f"{ns.server}'s {SUPPORT_PATH} is not a JSON object")
        lines = _support_lines(document)
        if not lines:
            raise CommandError(f"{ns.server}'s {SUPPORT_PATH} names no contact nor page")
        return f"Support information of {ns.server}:\n" + code_block(lines)

    def group(self) -> Group:
        room = arg("room", help="a room ID or local alias")
        return Group(
            "federation",
            "Federation of rooms, and other servers' users",
            (
                Command(
                    "federation",
                    "incoming-federation",
                    "List the PDUs other servers sent that are being handled now (their "
                    "room, event, origin and for how long)",
                    self.incoming_federation,
                    (),
                    "!admin federation incoming-federation",
                ),
                Command(
                    "federation",
                    "disable-room",
                    "Refuse every federation request about a room (its events, joins, "
                    "invites, reads) until enable-room",
                    self.disable_room,
                    (room,),
                    "!admin federation disable-room !abc:example.org",
                ),
                Command(
                    "federation",
                    "enable-room",
                    "Take a room's federation requests again",
                    self.enable_room,
                    (room,),
                    "!admin federation enable-room !abc:example.org",
                ),
                Command(
                    "federation",
                    "remote-user-in-rooms",
                    "List the rooms known here that another server's user is joined to",
                    self.remote_user_in_rooms,
                    (arg("user", help="a user ID of another server"),),
                    "!admin federation remote-user-in-rooms @someone:matrix.org",
                ),
                Command(
                    "federation",
                    "fetch-support-well-known",
                    "Fetch a server's support contacts (/.well-known/matrix/support)",
                    self.fetch_support_well_known,
                    (arg("server", help="a server name, e.g. matrix.org"),),
                    "!admin federation fetch-support-well-known matrix.org",
                ),
            ),
        )
