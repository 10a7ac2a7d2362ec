"""What commands name: a room by ID or by local alias, an alias by localpart."""

from __future__ import annotations

from conduwuit.admin.parser import CommandError
from conduwuit.core.ids import RoomAlias, RoomId
from conduwuit.service.rooms.aliases import Aliases


def room_id_of(aliases: Aliases, raw: str) -> str:
    """A room ID as given (well-formed, known here or not), or the room a local alias
    points to."""
    if raw.startswith("#"):
        try:
            found = aliases.resolve(RoomAlias.parse(raw))
        except ValueError:
            raise CommandError(f"{raw!r} is not a valid room alias") from None
        if found is None:
            raise CommandError(f"No room has the alias {raw}")
        return found
    try:
        RoomId.parse(raw)
    except ValueError:
        raise CommandError(f"{raw!r} is not a room ID or alias") from None
    return raw


def local_alias(server_name: str, raw: str) -> RoomAlias:
    """``name`` or ``#name:server`` as an alias of this server."""
    text = raw if raw.startswith("#") else f"#{raw}:{server_name}"
    try:
        alias = RoomAlias.parse(text)
    except ValueError:
        raise CommandError(f"{raw!r} is not a valid alias localpart") from None
    if str(alias.server_name) != server_name:
        raise CommandError(f"{raw} is not an alias of this server")
    return alias
