"""Room aliases and the published room directory as a user sees them (client-server
API "Room aliases", "Room directory"), with Synapse's permission rules: an alias is
created by a member, deleted by its creator, an admin or whoever may change the
room's canonical alias; publishing needs that power too (and, with
``lockdown_public_room_directory``, admin rights).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from conduwuit.core.errors import MatrixError, forbidden, invalid_param, not_found
from conduwuit.core.event_types import EventType
from conduwuit.core.ids import RoomAlias, RoomId, UserId
from conduwuit.core.membership import MembershipState
from conduwuit.core.numbers import parse_uint
from conduwuit.core.power_levels import CREATE_KEY, POWER_LEVELS_KEY, PowerLevels
from conduwuit.service.rooms.actions import RoomActions
from conduwuit.service.rooms.history import RoomHistory

log = logging.getLogger(__name__)

IsAdmin = Callable[[str], bool]


def never_admin(user_id: str) -> bool:
    return False


class Directory:
    def __init__(
        self,
        actions: RoomActions,
        history: RoomHistory,
        is_admin: IsAdmin = never_admin,
        lockdown: bool = False,
    ) -> None:
        self.actions = actions
        self.history = history
        self.aliases = actions.aliases
        self.storage = actions.storage
        self.is_admin = is_admin
        self.lockdown = lockdown

    def _may_edit(self, user: UserId, room_id: str) -> bool:
        """May send m.room.canonical_alias (Synapse's test for alias and directory edits)."""
        if not self.storage.member_index.is_joined(str(user), room_id):
            return False
        rv = self.actions.room_version(room_id)
        state = self.storage.state
        auth = state.auth_state(state.current_hash(room_id), [CREATE_KEY, POWER_LEVELS_KEY], rv)
        levels = PowerLevels(auth, rv)
        needed = levels.send_level(EventType.CANONICAL_ALIAS, True)
        return levels.user_level(str(user)) >= needed

    # -- aliases ---------------------------------------------------------------------
    async def lookup(self, alias: RoomAlias) -> dict[str, Any]:
        """``resolve``, after asking the application services interested in a local
        alias nobody created yet (Application Service API, "Querying": room aliases)."""
        ask = self.aliases.ask_appservices
        if ask is not None and self.aliases.resolve(alias) is None:
            await ask(str(alias))
        return self.resolve(alias)

    def resolve(self, alias: RoomAlias) -> dict[str, Any]:
        room_id = self.aliases.resolve(alias)
        if room_id is None:
            raise not_found(f"Room alias {alias} not found")
        servers = [self.actions.config.server_name]
        partial = self.storage.partial.get(room_id)
        if partial is not None:
            # A room joined with partial state: the servers its resident listed, as
            # Synapse's approximation of the room's servers until the resync ends.
            servers.extend(s for s in partial.servers if s not in servers)
        return {"room_id": room_id, "servers": servers}

    def create(self, user: UserId, alias: RoomAlias, room_id: RoomId) -> None:
        self.aliases.check_may_create(alias, str(user))
        self.actions.room_version(room_id)
        if not self.storage.member_index.is_joined(str(user), str(room_id)) and not self.is_admin(
            str(user)
        ):
            raise forbidden("You must be in the room to create an alias for it")
        self.aliases.put(alias, str(room_id), str(user))

    async def delete_and_unset(self, user: UserId, alias: RoomAlias) -> None:
        """DELETE /directory/room/{alias}: ``delete``, then take the alias out of the
        room's canonical alias event."""
        room_id = self.delete(user, alias)
        await self.unset_canonical(user, room_id, alias)

    async def unset_canonical(self, user: UserId, room_id: str, alias: RoomAlias) -> None:
        """Take a deleted alias out of ``m.room.canonical_alias`` (``alias`` and
        ``alt_aliases``) with an event from the deleting user, as Synapse does
        (``_update_canonical_alias``); if they may not send it, the alias stays deleted
        and the event unchanged (Synapse logs the AuthError and carries on)."""
        state = self.storage.state
        current = state.content_at(state.current_hash(room_id), EventType.CANONICAL_ALIAS)
        if not isinstance(current, dict):
            return
        content = dict(current)
        name = str(alias)
        changed = False
        if content.get("alias") == name:
            content.pop("alias")
            changed = True
        alt_aliases = content.pop("alt_aliases", None)
        if isinstance(alt_aliases, list):
            changed = True
            kept = [a for a in alt_aliases if a != name]
            if kept:
                content["alt_aliases"] = kept
        elif alt_aliases is not None:
            content["alt_aliases"] = alt_aliases
        if not changed:
            return
        try:
            await self.actions.send(
                user, RoomId.parse(room_id), EventType.CANONICAL_ALIAS, content, ""
            )
        except MatrixError as exc:
            log.info("alias %s deleted; canonical alias of %s unchanged: %s", name, room_id, exc)

    def delete(self, user: UserId, alias: RoomAlias) -> str:
        """Remove ``alias`` if ``user`` may; the room it pointed to."""
        room_id = self.aliases.resolve(alias)
        if room_id is None:
            raise not_found(f"Room alias {alias} not found")
        if not (
            self.aliases.creator(alias) == str(user)
            or self.is_admin(str(user))
            or self._may_edit(user, room_id)
        ):
            raise forbidden("You may not delete this alias")
        self.aliases.delete(alias)
        return room_id

    def room_aliases(self, user: UserId, room_id: RoomId) -> list[str]:
        self.history.access(user, room_id)
        return self.aliases.of_room(str(room_id))

    # -- the published directory -----------------------------------------------------
    def visibility(self, room_id: RoomId) -> str:
        self.actions.room_version(room_id)
        return "public" if self.aliases.is_published(str(room_id)) else "private"

    def set_visibility(self, user: UserId, room_id: RoomId, visibility: str) -> None:
        if visibility not in ("public", "private"):
            raise invalid_param("visibility must be public or private")
        self.actions.room_version(room_id)
        admin = self.is_admin(str(user))
        if not admin and not self._may_edit(user, str(room_id)):
            raise forbidden("You may not change this room's visibility")
        if visibility == "public" and self.lockdown and not admin:
            raise forbidden("Only server admins may publish rooms")
        self.aliases.set_published(str(room_id), visibility == "public")

    def summary(self, room_id: str) -> dict[str, Any]:
        state = self.storage.state
        current = state.current_hash(room_id)

        def content(event_type: str) -> dict[str, Any]:
            found = state.content_at(current, event_type)
            return found if isinstance(found, dict) else {}

        chunk: dict[str, Any] = {
            "room_id": room_id,
            "num_joined_members": self.storage.member_index.count(room_id, MembershipState.JOIN),
            "world_readable": content(EventType.HISTORY_VISIBILITY).get("history_visibility")
            == "world_readable",
            "guest_can_join": content(EventType.GUEST_ACCESS).get("guest_access") == "can_join",
            "join_rule": content(EventType.JOIN_RULES).get("join_rule", "invite"),
        }
        for key, event_type, field in (
            ("name", EventType.NAME, "name"),
            ("topic", EventType.TOPIC, "topic"),
            ("canonical_alias", EventType.CANONICAL_ALIAS, "alias"),
            ("avatar_url", EventType.AVATAR, "url"),
            ("room_type", EventType.CREATE, "type"),
        ):
            value = content(event_type).get(field)
            if isinstance(value, str):
                chunk[key] = value
        return chunk

    def public_rooms(
        self,
        limit: int | None = None,
        since: str | None = None,
        search: str | None = None,
        room_types: Sequence[str | None] | None = None,
    ) -> dict[str, Any]:
        """Published rooms, most members first; tokens are offsets (``n<offset>``).

        ``room_types`` (spec v1.4, MSC3827) keeps only rooms of those types, ``None``
        standing for rooms without a type; absent, every type is listed."""
        rooms = [self.summary(r) for r in self.aliases.published() if self.storage.state.exists(r)]
        if room_types is not None:
            wanted = set(room_types)
            rooms = [r for r in rooms if r.get("room_type") in wanted]
        if search:
            needle = search.lower()
            rooms = [
                r
                for r in rooms
                if any(
                    needle in str(r.get(k, "")).lower()
                    for k in ("name", "topic", "canonical_alias")
                )
            ]
        rooms.sort(key=lambda r: (-int(r["num_joined_members"]), r["room_id"]))
        offset = 0
        if since:
            since_offset = parse_uint(since[1:] if since[:1] in ("n", "p") else since)
            if since_offset is None:
                raise invalid_param("Invalid since token")
            offset = since_offset
        end = len(rooms) if limit is None else offset + max(0, limit)
        body: dict[str, Any] = {
            "chunk": rooms[offset:end],
            "total_room_count_estimate": len(rooms),
        }
        if end < len(rooms):
            body["next_batch"] = f"n{end}"
        if offset > 0:
            body["prev_batch"] = f"n{max(0, offset - (limit or offset))}"
        return body
