"""Space hierarchies (client-server API "Spaces", ``/hierarchy``).

Breadth-first from the requested room (one of ours) over ``m.space.child`` state
events with a non-empty ``via``. A room this server is joined to is described from
its state and listed when the user may see it (joined or invited, or its history
is world-readable, or its join rule lets anyone in or knock). Any other child is
asked of a server of its ``via`` through ``remote`` (``GET /hierarchy`` over
federation), as Synapse does; such an answer also describes that room's children,
which are used as they are unless they are spaces whose children are wanted. A
remote room is listed when its summary says anyone may preview, knock or join, when
the user is in a room of its ``allowed_room_ids``, or when the user is joined or
invited here (Synapse's ``_is_remote_room_accessible``). ``next_batch`` is an
offset into the walk, which is deterministic for an unchanged hierarchy (remote
answers are cached for a while).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from conduwuit.core.client_event import stripped_state
from conduwuit.core.errors import forbidden, invalid_param
from conduwuit.core.event_types import EventType
from conduwuit.core.ids import RoomId, UserId
from conduwuit.core.membership import IN_ROOM, MembershipState
from conduwuit.core.numbers import parse_uint
from conduwuit.service.rooms.directory import Directory

MAX_LIMIT = 50
MAX_DEPTH = 10
PREVIEWABLE_JOIN_RULES = ("public", "knock", "knock_restricted")


@dataclass(frozen=True)
class RemoteSpace:
    """One level of another server's hierarchy: the room's summary (with its
    ``children_state``), the summaries of the children it described, and the
    children it says we may not see."""

    room: dict[str, Any]
    children: dict[str, dict[str, Any]]
    inaccessible: frozenset[str]


class RemoteHierarchy(Protocol):
    async def fetch(
        self, room_id: str, via: Sequence[str], suggested_only: bool
    ) -> RemoteSpace | None: ...


@dataclass(frozen=True)
class _Queued:
    room_id: str
    depth: int
    via: tuple[str, ...] = ()
    #: The room's summary from its parent's remote answer, if it came with one.
    known: dict[str, Any] | None = None


def _child_state(event: dict[str, Any]) -> dict[str, Any]:
    return {**stripped_state(event), "origin_server_ts": event.get("origin_server_ts", 0)}


def _via(event: dict[str, Any]) -> tuple[str, ...]:
    via = (event.get("content") or {}).get("via")
    return tuple(v for v in via if isinstance(v, str)) if isinstance(via, list) else ()


class Hierarchy:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.storage = directory.storage
        self.server_name = directory.actions.config.server_name
        #: Other servers' hierarchies (set by the composition root with federation).
        self.remote: RemoteHierarchy | None = None

    def _member(self, user: str, room_id: str) -> bool:
        return self.storage.member_index.membership(user, room_id) in (
            MembershipState.JOIN,
            MembershipState.INVITE,
        )

    def _visible(self, user: str, room_id: str) -> bool:
        if not self.storage.state.exists(room_id):
            return False
        if self._member(user, room_id):
            return True
        summary = self.directory.summary(room_id)
        if summary["world_readable"] or summary["join_rule"] in PREVIEWABLE_JOIN_RULES:
            return True
        # Synapse's _is_local_room_accessible: a restricted room to those who could
        # join it, members of a room of its allow list.
        return summary["join_rule"] == "restricted" and any(
            self.storage.member_index.is_joined(user, r) for r in allowed_rooms(self, room_id)
        )

    def _resident(self, user: str, room_id: str) -> bool:
        """A user of ours is joined: our state of the room is current. (The viewer
        first: a scan of the members only for rooms they are not in.)"""
        if not self.storage.state.exists(room_id):
            return False
        if self.storage.member_index.is_joined(user, room_id):
            return True
        suffix = ":" + self.server_name
        return any(m.endswith(suffix) for m in self.storage.member_index.members(room_id))

    def _remote_visible(self, user: str, room_id: str, summary: dict[str, Any]) -> bool:
        """Synapse's ``_is_remote_room_accessible``."""
        if summary.get("world_readable") is True or (
            summary.get("join_rule", "public") in PREVIEWABLE_JOIN_RULES
        ):
            return True
        allowed = summary.get("allowed_room_ids")
        if isinstance(allowed, list) and any(
            isinstance(r, str) and self.storage.member_index.is_joined(user, r) for r in allowed
        ):
            return True
        return self._member(user, room_id)

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

    async def hierarchy(
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
        done: set[str] = set()
        # Depth-first in the children's order, as Synapse walks (and Complement's
        # pagination expects): the next room is the last pushed.
        stack = [_Queued(root, 0)]
        while stack and len(walk) < offset + page_limit + 1:
            item = stack.pop()
            if item.room_id in done:
                continue
            done.add(item.room_id)
            below = item.depth < depth_limit
            if item.room_id == root or self._resident(str(user), item.room_id):
                entry = self._local_entry(str(user), item.room_id, suggested_only)
                described: dict[str, dict[str, Any]] = {}
                hidden: frozenset[str] = frozenset()
            else:
                found = await self._remote_entry(str(user), item, suggested_only, below)
                entry, described, hidden = found if found else (None, {}, frozenset())
            if entry is None:
                continue
            walk.append(entry)
            skip = done | hidden
            children = [
                c
                for c in (entry["children_state"] if below else [])
                if str(c.get("state_key")) not in skip
            ]
            stack.extend(
                _Queued(str(c["state_key"]), item.depth + 1, _via(c), described.get(c["state_key"]))
                for c in reversed(children)
            )
        body: dict[str, Any] = {"rooms": walk[offset : offset + page_limit]}
        if len(walk) > offset + page_limit:
            body["next_batch"] = str(offset + page_limit)
        return body

    def _local_entry(self, user: str, room_id: str, suggested_only: bool) -> dict[str, Any] | None:
        """A room of ours; only a space has children (Synapse ignores the
        ``m.space.child`` events of other rooms)."""
        if not self._visible(user, room_id):
            return None
        summary = self.directory.summary(room_id)
        is_space = summary.get("room_type") == "m.space"
        children = self.children(room_id, suggested_only) if is_space else []
        summary["children_state"] = [_child_state(c) for c in children]
        return summary

    async def _remote_entry(
        self, user: str, item: _Queued, suggested_only: bool, below: bool
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]], frozenset[str]] | None:
        """A room of another server: from its parent's answer when that suffices (not
        a space, or its children are not wanted), else asked of its ``via``."""
        described: dict[str, dict[str, Any]] = {}
        hidden: frozenset[str] = frozenset()
        summary = item.known
        if summary is None or (summary.get("room_type") == "m.space" and below):
            found = (
                await self.remote.fetch(item.room_id, item.via, suggested_only)
                if self.remote is not None and item.via
                else None
            )
            if found is None:
                return None
            summary, described, hidden = found.room, found.children, found.inaccessible
        if not self._remote_visible(user, item.room_id, summary):
            return None
        entry = {k: v for k, v in summary.items() if k != "allowed_room_ids"}
        children = entry.get("children_state")
        entry["children_state"] = [
            c
            for c in (children if isinstance(children, list) else [])
            if isinstance(c, dict)
            and _via(c)
            and not (suggested_only and (c.get("content") or {}).get("suggested") is not True)
        ]
        return entry, described, hidden


def allowed_rooms(directory: Directory | Hierarchy, room_id: str) -> list[str]:
    """The rooms of the ``allow`` list of the room's join rules."""
    state = directory.storage.state
    rules = state.content_at(state.current_hash(room_id), EventType.JOIN_RULES) or {}
    allow = rules.get("allow")
    return [
        a["room_id"]
        for a in (allow if isinstance(allow, list) else [])
        if isinstance(a, dict) and isinstance(a.get("room_id"), str)
    ]


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
    allow = (state.content_at(current, EventType.JOIN_RULES) or {}).get("allow")
    allowed = allowed_rooms(directory, room_id)
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
            or not any(storage.member_index.is_joined(viewer, r) for r in allowed)
        ):
            return None
    if isinstance(allow, list):
        summary["allowed_room_ids"] = allowed
    encryption = state.content_at(current, EventType.ENCRYPTION) or {}
    if isinstance(encryption.get("algorithm"), str):
        summary["encryption"] = encryption["algorithm"]
    rv = storage.state.room_version(room_id)
    if rv is not None:
        summary["room_version"] = rv.identifier
    if viewer is not None and membership is not None:
        summary["membership"] = membership
    return summary
