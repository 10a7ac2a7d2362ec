"""Space hierarchies of local rooms (client-server API "Spaces", ``/hierarchy``).

Breadth-first from the requested room over ``m.space.child`` state events with a
non-empty ``via``; a child is listed when the user may see it (joined, or its
history is world-readable, or its join rule lets anyone in or knock). Remote
children need federation and are skipped. ``next_batch`` is an offset into the
walk, which is deterministic for an unchanged hierarchy.
"""

from __future__ import annotations

from typing import Any

from conduwuit.core.client_event import stripped_state
from conduwuit.core.errors import forbidden, invalid_param
from conduwuit.core.event_types import EventType
from conduwuit.core.ids import RoomId, UserId
from conduwuit.core.membership import IN_ROOM, MembershipState
from conduwuit.core.numbers import parse_uint
from conduwuit.service.rooms.directory import Directory

MAX_LIMIT = 50
MAX_DEPTH = 10


class Hierarchy:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.storage = directory.storage

    def _visible(self, user: str, room_id: str) -> bool:
        if not self.storage.state.exists(room_id):
            return False
        if self.storage.member_index.membership(user, room_id) in (
            MembershipState.JOIN,
            MembershipState.INVITE,
        ):
            return True
        summary = self.directory.summary(room_id)
        return bool(summary["world_readable"]) or summary["join_rule"] in (
            "public",
            "knock",
            "knock_restricted",
        )

    def children(self, room_id: str, suggested_only: bool) -> list[dict[str, Any]]:
        """Child events with a non-empty ``via``, in the spec's order: by ``order``
        (valid ones first), then the child event's timestamp, then room ID."""
        state = self.storage.state
        current = state.current_hash(room_id)
        out = []
        for event_id in state.state_ids_of_type(current, EventType.SPACE_CHILD).values():
            pdu = self.storage.timeline.get(event_id)
            content = (pdu or {}).get("content") or {}
            via = content.get("via")
            if pdu is None or not isinstance(via, list) or not via:
                continue
            if suggested_only and content.get("suggested") is not True:
                continue
            out.append(pdu)

        def order_key(pdu: dict[str, Any]) -> tuple[int, str, int, str]:
            order = pdu["content"].get("order")
            valid = (
                isinstance(order, str)
                and len(order) <= 50
                and all(0x20 <= ord(c) <= 0x7E for c in order)
            )
            return (
                0 if valid else 1,
                order if valid else "",
                int(pdu.get("origin_server_ts", 0)),
                str(pdu.get("state_key")),
            )

        return sorted(out, key=order_key)

    def hierarchy(
        self,
        user: UserId,
        room_id: RoomId,
        *,
        suggested_only: bool = False,
        max_depth: int | None = None,
        limit: int | None = None,
        from_token: str | None = None,
    ) -> dict[str, Any]:
        root = str(room_id)
        if not self._visible(str(user), root):
            raise forbidden("You may not preview this room")
        offset = 0
        if from_token is not None:
            from_offset = parse_uint(from_token)
            if from_offset is None:
                raise invalid_param("Invalid from token")
            offset = from_offset
        depth_limit = min(MAX_DEPTH, max_depth if max_depth is not None else MAX_DEPTH)
        page_limit = max(1, min(limit or MAX_LIMIT, MAX_LIMIT))
        walk: list[dict[str, Any]] = []
        seen = {root}
        queue = [(root, 0)]
        while queue and len(walk) < offset + page_limit + 1:
            current, depth = queue.pop(0)
            children = self.children(current, suggested_only) if depth < depth_limit else []
            summary = self.directory.summary(current)
            summary["children_state"] = [
                {**stripped_state(c), "origin_server_ts": c.get("origin_server_ts", 0)}
                for c in children
            ]
            walk.append(summary)
            for child in children:
                child_id = str(child.get("state_key"))
                if child_id not in seen and self._visible(str(user), child_id):
                    seen.add(child_id)
                    queue.append((child_id, depth + 1))
        body: dict[str, Any] = {"rooms": walk[offset : offset + page_limit]}
        if len(walk) > offset + page_limit:
            body["next_batch"] = str(offset + page_limit)
        return body


def room_summary(directory: Directory, room_id: str, viewer: str | None) -> dict[str, Any] | None:
    """``GET /room_summary`` (client-server API, MSC3266): the public summary of a
    local room, or ``None`` when the viewer may not see it (the spec's 404)."""
    storage = directory.storage
    if not storage.state.exists(room_id):
        return None
    summary = directory.summary(room_id)
    membership = storage.member_index.membership(viewer, room_id) if viewer else None
    state = storage.state
    current = state.current_hash(room_id)
    rules = state.content_at(current, EventType.JOIN_RULES) or {}
    allow = rules.get("allow")
    allowed_rooms = [
        a["room_id"]
        for a in (allow if isinstance(allow, list) else [])
        if isinstance(a, dict) and isinstance(a.get("room_id"), str)
    ]
    previewable = bool(summary["world_readable"]) or summary["join_rule"] in (
        "public",
        "knock",
        "knock_restricted",
    )
    if not previewable and membership not in IN_ROOM:
        # MSC3266 (as Synapse's _is_local_room_accessible): a restricted room only to
        # those who could join it, members of a room in its allow list.
        if (
            viewer is None
            or summary["join_rule"] != "restricted"
            or not any(storage.member_index.is_joined(viewer, r) for r in allowed_rooms)
        ):
            return None
    if isinstance(allow, list):
        summary["allowed_room_ids"] = allowed_rooms
    encryption = state.content_at(current, EventType.ENCRYPTION) or {}
    if isinstance(encryption.get("algorithm"), str):
        summary["encryption"] = encryption["algorithm"]
    rv = storage.state.room_version(room_id)
    if rv is not None:
        summary["room_version"] = rv.identifier
    if viewer is not None and membership is not None:
        summary["membership"] = membership
    return summary
