"""What other servers may browse of our rooms without being in them (server-server
API: "Public Room Directory", "Spaces"): the published rooms, when
``allow_public_room_directory_over_federation`` lets them, and space hierarchies.

A room of a hierarchy is shown to a server when anyone could preview or join it
(world-readable history, or a public, knock or knock_restricted join rule), when a
user of that server is joined to it, or when it is restricted and a user of that
server is joined to a room of its allow list (the server can then join it, as
Synapse's ``_is_remote_room_accessible``). The server ACL of a room applies too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from conduwuit.core.client_event import stripped_state
from conduwuit.core.errors import MatrixError, forbidden, not_found
from conduwuit.service.federation.room_access import RoomAccess
from conduwuit.service.rooms.hierarchy import Hierarchy, allowed_rooms


class FederationDirectory:
    def __init__(self, access: RoomAccess, hierarchy: Hierarchy, *, public_rooms: bool) -> None:
        self.access = access
        self.hierarchy = hierarchy
        self.directory = hierarchy.directory
        self.storage = access.storage
        self.allow_public_rooms = public_rooms

    def public_rooms(
        self,
        limit: int | None,
        since: str | None,
        search: str | None = None,
        room_types: Sequence[str | None] | None = None,
    ) -> dict[str, Any]:
        if not self.allow_public_rooms:
            raise forbidden("This server does not share its room directory over federation.")
        return self.directory.public_rooms(limit, since, search, room_types)

    def _accessible(self, room_id: str, origin: str) -> dict[str, Any] | None:
        """The room's summary for ``origin``, or None if it may not see it."""
        if self.access.room_version(room_id) is None:
            return None
        try:
            self.access.check_acl(room_id, origin)
        except MatrixError:
            return None
        summary = self.directory.summary(room_id)
        allowed = allowed_rooms(self.hierarchy, room_id)
        join_rule = summary["join_rule"]
        visible = (
            bool(summary["world_readable"])
            or join_rule in ("public", "knock", "knock_restricted")
            or self.access.server_joined(room_id, origin)
            or (
                join_rule in ("restricted", "knock_restricted")
                and any(self.access.server_joined(r, origin) for r in allowed)
            )
        )
        if not visible:
            return None
        if join_rule in ("restricted", "knock_restricted"):
            summary["allowed_room_ids"] = allowed
        rv = self.access.room_version(room_id)
        if rv is not None:
            summary["room_version"] = rv.identifier
        return summary

    def space_hierarchy(self, origin: str, room_id: str, suggested_only: bool) -> dict[str, Any]:
        """``GET /hierarchy/{roomId}``: the room and its direct children."""
        root = self._accessible(room_id, origin)
        if root is None:
            raise not_found(f"Room {room_id} is not known or not accessible.")
        children_events = self.hierarchy.children(room_id, suggested_only)
        root["children_state"] = [
            {**stripped_state(c), "origin_server_ts": c.get("origin_server_ts", 0)}
            for c in children_events
        ]
        children: list[dict[str, Any]] = []
        inaccessible: list[str] = []
        for child in children_events:
            child_id = str(child.get("state_key"))
            if self.access.room_version(child_id) is None:
                continue  # not ours to describe
            summary = self._accessible(child_id, origin)
            if summary is None:
                inaccessible.append(child_id)
                continue
            summary["children_state"] = [
                {**stripped_state(c), "origin_server_ts": c.get("origin_server_ts", 0)}
                for c in self.hierarchy.children(child_id, suggested_only)
            ]
            children.append(summary)
        return {"room": root, "children": children, "inaccessible_children": inaccessible}
