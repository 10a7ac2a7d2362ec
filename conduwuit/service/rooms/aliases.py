"""Local room aliases and the published-room list (client-server API "Room aliases",
"Listing rooms in the room directory")."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator

from conduwuit.core.errors import ErrCode, MatrixError, invalid_param
from conduwuit.core.ids import RoomAlias
from conduwuit.db import MAPS, Database
from conduwuit.db.codec import key, prefix


class Aliases:
    def __init__(self, db: Database, server_name: str, forbidden: list[str] | None = None):
        self._db = db
        self._server_name = server_name
        self._forbidden = [f.lower() for f in forbidden or []]
        self._alias_room = db.map(MAPS.alias_roomid)
        self._alias_user = db.map(MAPS.alias_userid)
        self._room_aliases = db.map(MAPS.roomid_aliases)
        self._public = db.map(MAPS.publicroomids)
        #: Who claims an alias exclusively: the application service's sender user,
        #: or None (set by the composition root from the appservice registry).
        self.exclusive_claimant: Callable[[str], str | None] = lambda alias: None
        #: Asks the application services interested in an unknown local alias
        #: (they create it before answering yes).
        self.ask_appservices: Callable[[str], Awaitable[bool]] | None = None

    def check_local(self, alias: RoomAlias) -> None:
        """Refuse aliases of other servers and configured forbidden names."""
        if str(alias.server_name) != self._server_name:
            raise invalid_param("Alias is not on this server")
        if any(f in alias.alias.lower() for f in self._forbidden):
            raise MatrixError(ErrCode.BAD_ALIAS, "Alias name is not allowed", status=400)

    def check_may_create(self, alias: RoomAlias, user_id: str) -> None:
        """A local alias ``user_id`` may create: M_EXCLUSIVE if an application service
        claims it exclusively and ``user_id`` is not that service's sender. Synapse's
        rule (can_modify_alias): the service's namespace users count as others."""
        self.check_local(alias)
        claimant = self.exclusive_claimant(str(alias))
        if claimant is not None and claimant != user_id:
            raise MatrixError(
                ErrCode.EXCLUSIVE, "This alias is reserved by an application service."
            )

    def resolve(self, alias: RoomAlias) -> str | None:
        raw = self._alias_room.get(str(alias).encode())
        return raw.decode() if raw is not None else None

    def creator(self, alias: RoomAlias) -> str | None:
        raw = self._alias_user.get(str(alias).encode())
        return raw.decode() if raw is not None else None

    def put(self, alias: RoomAlias, room_id: str, user_id: str) -> None:
        self.check_local(alias)
        if self.resolve(alias) is not None:
            raise MatrixError(ErrCode.ROOM_IN_USE, "Room alias already exists", status=409)
        with self._db.batch() as b:
            b.put(self._alias_room, str(alias).encode(), room_id.encode())
            b.put(self._alias_user, str(alias).encode(), user_id.encode())
            b.put(self._room_aliases, key(room_id, str(alias)), b"")

    def delete(self, alias: RoomAlias) -> None:
        room_id = self.resolve(alias)
        with self._db.batch() as b:
            b.delete(self._alias_room, str(alias).encode())
            b.delete(self._alias_user, str(alias).encode())
            if room_id is not None:
                b.delete(self._room_aliases, key(room_id, str(alias)))

    def all(self) -> Iterator[tuple[str, str]]:
        """Every local alias with its room, in alias order."""
        for k, v in self._alias_room.iter_prefix(b""):
            yield k.decode(), v.decode()

    def of_room(self, room_id: str) -> list[str]:
        start = prefix(room_id)
        return [k[len(start) :].decode() for k, _ in self._room_aliases.iter_prefix(start)]

    # -- directory -------------------------------------------------------------------
    def is_published(self, room_id: str) -> bool:
        return self._public.contains(room_id.encode())

    def set_published(self, room_id: str, published: bool) -> None:
        if published:
            self._public.put(room_id.encode(), b"")
        else:
            self._public.delete(room_id.encode())

    def published(self) -> Iterator[str]:
        for k, _ in self._public.iter_prefix(b""):
            yield k.decode()
