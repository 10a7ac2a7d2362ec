"""``POST /user_directory/search`` (client-server API "User directory"): users who
share a joined room with the searcher, and members of rooms published in the
directory (Synapse's default scope), matched on user ID or display name. Locked
accounts are left out (Synapse's default, ``show_locked_users: false``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from conduwuit.core.event_types import EventType
from conduwuit.core.ids import UserId
from conduwuit.core.membership import MembershipState
from conduwuit.service.rooms.aliases import Aliases
from conduwuit.service.rooms.storage import RoomStorage

MAX_LIMIT = 100


#: A local user's global profile (displayname, avatar_url), or None for others.
LocalProfile = Callable[[str], Mapping[str, object] | None]


def no_local_profiles(user_id: str) -> Mapping[str, object] | None:
    return None


def never(user_id: str) -> bool:
    return False


class UserDirectory:
    def __init__(
        self,
        storage: RoomStorage,
        aliases: Aliases,
        local_profile: LocalProfile = no_local_profiles,
        is_locked: Callable[[str], bool] = never,
    ) -> None:
        self.storage = storage
        self.aliases = aliases
        self.local_profile = local_profile
        self.is_locked = is_locked

    def search(self, user: UserId, term: str, limit: int = 10) -> dict[str, Any]:
        limit = max(1, min(limit, MAX_LIMIT))
        needle = term.lower()
        rooms = [
            r.room_id
            for r in self.storage.member_index.rooms_of(str(user), (MembershipState.JOIN,))
        ]
        published = set(self.aliases.published())
        rooms += [r for r in published if r not in rooms]
        state = self.storage.state
        found: dict[str, dict[str, Any]] = {}
        for room in rooms:
            current = state.current_hash(room)
            public = room in published or _publicly_visible(
                state.content_at(current, EventType.JOIN_RULES, ""),
                state.content_at(current, EventType.HISTORY_VISIBILITY, ""),
            )
            for member in self.storage.member_index.members(room, MembershipState.JOIN):
                if member in found or self.is_locked(member):
                    continue
                if member == str(user) and not public:
                    # Sharing a room with oneself does not count: as in Synapse, the
                    # searcher is found only through a public room (Complement
                    # TestRoomSpecificUsername*: "Bob can find Alice by mxid"), one
                    # published or, as Synapse's ``users_in_public_rooms`` counts it,
                    # publicly joinable or world-readable (Complement
                    # TestPartialStateJoin "User directory is correctly updated …").
                    continue
                # A local user is listed with their global profile, never a per-room
                # name (Synapse: the directory follows local users' profile changes
                # only, so a name shown in one room does not leak to the others;
                # Complement TestRoomSpecificUsernameChange).
                local = self.local_profile(member)
                content = (
                    local
                    if local is not None
                    else state.content_at(current, EventType.MEMBER, member) or {}
                )
                name = content.get("displayname")
                if needle in member.lower() or (isinstance(name, str) and needle in name.lower()):
                    entry: dict[str, Any] = {"user_id": member}
                    if isinstance(name, str):
                        entry["display_name"] = name
                    if isinstance(content.get("avatar_url"), str):
                        entry["avatar_url"] = content["avatar_url"]
                    found[member] = entry
        results = sorted(found.values(), key=lambda e: (e.get("display_name") or "", e["user_id"]))
        return {"results": results[:limit], "limited": len(results) > limit}


def _publicly_visible(join_rules: object, history: object) -> bool:
    """Synapse's ``is_room_world_readable_or_publicly_joinable``: the room's join rule
    is ``public`` or its history is ``world_readable``."""
    return (isinstance(join_rules, dict) and join_rules.get("join_rule") == "public") or (
        isinstance(history, dict) and history.get("history_visibility") == "world_readable"
    )
