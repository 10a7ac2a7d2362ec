"""Which server may read what of a room (server-server API: "Server Access Control
Lists", and the history visibility rules applied to servers).

Every room-scoped federation request passes :meth:`RoomAccess.check_acl`: the
room's federation must not be disabled by the admins (conduwuit's ``!admin
federation disable-room``, and banned rooms), then the room's ``m.room.server_acl``
(pure matching in ``core.server_acl``). Reads of a
room's events and state also need the origin to be *in* the room: one of its users
joined in the current state (Synapse's ``assert_host_in_room``). Each event served
is then judged as Synapse's ``filter_events_for_server`` does: under ``shared`` or
``world_readable`` history it is visible; under ``invited``/``joined`` only if one
of the origin's users was joined (or, for ``invited``, invited) at the event.
Events the origin may not see are served redacted where the DAG needs them
(backfill, missing events) and refused where asked for by ID. Events of erased
users are served redacted too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from conduwuit.core import visibility
from conduwuit.core.errors import forbidden
from conduwuit.core.event_types import EventType
from conduwuit.core.membership import MembershipState
from conduwuit.core.redaction import redact
from conduwuit.core.room_versions import RoomVersion
from conduwuit.core.server_acl import server_allowed
from conduwuit.service.rooms.metadata import RoomMetadata
from conduwuit.service.rooms.storage import RoomStorage
from conduwuit.service.rooms.timeline import PduJson


def server_of(user_id: str) -> str:
    """The server name of a user ID (everything after the first colon)."""
    return user_id.split(":", 1)[1] if ":" in user_id else ""


def outgoing(pdu: PduJson, rv: RoomVersion) -> dict[str, Any]:
    """A stored PDU as sent over federation: without the server-computed ``unsigned``
    and, where the event ID is a hash (v3+), without ``event_id``."""
    out = {k: v for k, v in pdu.items() if k != "unsigned"}
    if rv.event_format.value != 1:
        out.pop("event_id", None)
    return out


class RoomAccess:
    def __init__(
        self, storage: RoomStorage, is_erased: Callable[[str], bool], metadata: RoomMetadata
    ) -> None:
        self.storage = storage
        self.is_erased = is_erased
        self.metadata = metadata

    def room_version(self, room_id: str) -> RoomVersion | None:
        return self.storage.state.room_version(room_id)

    def check_enabled(self, room_id: str) -> None:
        """403 when the admins disabled the room's federation (or banned the room)."""
        if self.metadata.is_disabled(room_id):
            raise forbidden("Federation of this room is disabled on this server.")

    def check_acl(self, room_id: str, origin: str) -> None:
        """403 when the room's federation is disabled or its server ACL denies ``origin``."""
        self.check_enabled(room_id)
        state = self.storage.state
        acl = state.content_at(state.current_hash(room_id), EventType.SERVER_ACL)
        if not server_allowed(acl if isinstance(acl, dict) else None, origin):
            raise forbidden(f"Server {origin} is denied by the room's server ACL.")

    def server_joined(self, room_id: str, server: str) -> bool:
        """Whether a user of ``server`` is joined to the room now."""
        suffix = ":" + server
        return any(u.endswith(suffix) for u in self.storage.member_index.members(room_id))

    def check_in_room(self, room_id: str, origin: str) -> RoomVersion:
        """ACL and residency of ``origin``; the room's version. An unknown room is a
        room the origin is not in (403, telling nothing more)."""
        rv = self.room_version(room_id)
        if rv is None or not self.server_joined(room_id, origin):
            raise forbidden(f"Server {origin} is not in room {room_id}.")
        self.check_acl(room_id, origin)
        return rv

    def _memberships_at(self, pdu: PduJson, server: str) -> Iterable[str]:
        """The memberships of ``server``'s users at ``pdu`` (after it, so a join
        sees itself)."""
        state = self.storage.state
        before = state.hash_before(str(pdu["event_id"])) or 0
        suffix = ":" + server
        own = None
        if pdu.get("type") == EventType.MEMBER and str(pdu.get("state_key", "")).endswith(suffix):
            own = pdu.get("state_key")
            yield str((pdu.get("content") or {}).get("membership"))
        short = self.storage.short
        for sk, se in state.store.full(before).items():
            event_type, state_key = short.statekey_of(sk)
            if event_type != EventType.MEMBER or not state_key.endswith(suffix):
                continue
            if state_key == own:
                continue
            event_id = short.event_id(se)
            member = self.storage.timeline.get(event_id) if event_id else None
            if member is not None:
                yield str((member.get("content") or {}).get("membership"))

    def visible(self, pdu: PduJson, server: str) -> bool:
        state = self.storage.state
        before = state.hash_before(str(pdu["event_id"])) or 0
        content = state.content_at(before, EventType.HISTORY_VISIBILITY) or {}
        vis = visibility.visibility_at(
            pdu, visibility.effective_visibility(content.get("history_visibility"))
        )
        if vis not in ("invited", "joined"):
            return True
        for membership in self._memberships_at(pdu, server):
            if membership == MembershipState.JOIN:
                return True
            if membership == MembershipState.INVITE and vis == "invited":
                return True
        return False

    def view(self, pdu: PduJson, server: str, rv: RoomVersion) -> PduJson:
        """The event as ``server`` may have it: whole, or redacted."""
        if self.visible(pdu, server) and not self.is_erased(str(pdu.get("sender"))):
            return pdu
        return {**redact(pdu, rv), "event_id": pdu["event_id"]}
