"""The server's own limits on local users entering rooms, beyond the auth rules
(conduwuit's moderation): banned rooms (``!admin rooms moderation ban-room``), rooms
and aliases of ``forbidden_remote_server_names`` ("global ACLs"), aliases matching
``forbidden_alias_names``. Server admins are never limited (conduwuit: "for our user
(client) checks, admin users are allowed"). With ``auto_deactivate_banned_room_attempts``
a refused join deactivates the user who tried (conduwuit's remediation). A
suspended account may not join or knock at all, admins included (403
M_USER_SUSPENDED, core/suspension.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from conduwuit.core.errors import forbidden
from conduwuit.core.suspension import JOIN_REFUSAL, suspended_error
from conduwuit.service.rooms.metadata import RoomMetadata

log = logging.getLogger(__name__)


def _server(room_id_or_alias: str) -> str | None:
    """The server part of an alias or of a v1-v11 room ID (v12 IDs have none)."""
    _, sep, server = room_id_or_alias.partition(":")
    return server if sep else None


def never(user_id: str) -> bool:
    return False


@dataclass
class JoinPolicy:
    metadata: RoomMetadata
    is_admin: Callable[[str], bool] = never
    forbidden_servers: frozenset[str] = frozenset()
    forbidden_alias_names: tuple[str, ...] = ()
    auto_deactivate: bool = False
    #: Deactivates an account (set by the composition root: the users service).
    deactivate: Callable[[str], Awaitable[None]] | None = field(default=None, repr=False)
    is_suspended: Callable[[str], bool] = never

    def refusal(self, target: str, room_id: str) -> str | None:
        """Why a join of ``room_id`` (asked for as ``target``: an ID or an alias) is
        refused, or None."""
        if self.metadata.is_banned(room_id):
            return "This room is banned on this homeserver."
        servers = {_server(target), _server(room_id)} - {None}
        if servers & self.forbidden_servers:
            return "This remote server is banned on this homeserver."
        if target.startswith("#"):
            name = target[1:].partition(":")[0].lower()
            if any(f.lower() in name for f in self.forbidden_alias_names if f):
                return "This room alias is forbidden on this homeserver."
        return None

    async def check_join(self, user_id: str, target: str, room_id: str) -> None:
        """403 (and, with auto_deactivate_banned_room_attempts, deactivation) when a
        non-admin may not join, knock on or be invited to the room."""
        if self.is_suspended(user_id):
            raise suspended_error(JOIN_REFUSAL)
        if self.is_admin(user_id):
            return
        reason = self.refusal(target, room_id)
        if reason is None:
            return
        if self.auto_deactivate and self.deactivate is not None:
            log.warning("deactivating %s: tried to join %s (%s)", user_id, target, reason)
            await self.deactivate(user_id)
        raise forbidden(reason)

    def check_invite(self, sender: str, room_id: str) -> None:
        """Invites to a banned room are refused (admins excepted), local and remote."""
        if self.metadata.is_banned(room_id) and not self.is_admin(sender):
            raise forbidden("This room is banned on this homeserver.")
