"""GET /rooms/{roomId}/initialSync (deprecated, but Element calls it after a reload
and for room previews): one room's state, latest messages, presence and the user's
room account data, under the same rules as the other reads (``RoomHistory.access``):
members, users who left (up to their leave) and anyone in a world-readable room;
403 otherwise, as Synapse's ``room_initial_sync``.
"""

from __future__ import annotations

from typing import Any

from conduwuit.core.errors import MatrixError
from conduwuit.core.event_types import EventType
from conduwuit.core.ids import RoomId, UserId
from conduwuit.core.membership import MembershipState
from conduwuit.service.account_data import AccountData
from conduwuit.service.presence import Presence
from conduwuit.service.rooms.directory import Directory
from conduwuit.service.rooms.history import RoomHistory


class RoomInitialSync:
    def __init__(
        self,
        history: RoomHistory,
        directory: Directory,
        account_data: AccountData,
        presence: Presence,
    ) -> None:
        self._reads = history
        self._directory = directory
        self._account_data = account_data
        self._presence = presence

    def initial_sync(
        self, user: UserId, room_id: RoomId, limit: int = 10, device_id: str | None = None
    ) -> dict[str, Any]:
        access = self._reads.access(user, room_id)
        page = self._reads.messages(user, room_id, direction="b", limit=limit, device_id=device_id)
        # /messages pages backwards from now; initialSync gives the chunk oldest first,
        # `start` the token to paginate back from and `end` the token of now (or of
        # the user's leave), as Synapse does.
        end = str(access.until) if access.until is not None else page["start"]
        body: dict[str, Any] = {
            "room_id": str(room_id),
            "messages": {
                "chunk": list(reversed(page["chunk"])),
                "start": page.get("end", "0"),
                "end": end,
            },
            "state": self._reads.state(user, room_id),
            "presence": self._presence_of_members(user, room_id) if access.joined else [],
            "account_data": [
                event
                for _, event in self._account_data.since(str(user), 0, str(room_id))
                if event.get("content")
            ],
            "visibility": self._directory.visibility(room_id),
        }
        # Synapse says "join" for a world-readable peek; the spec's membership is the
        # user's own, so a peeker who never joined gets none.
        if access.membership is not None:
            body["membership"] = access.membership
        return body

    def _presence_of_members(self, user: UserId, room_id: RoomId) -> list[dict[str, Any]]:
        if not self._presence.enabled:
            return []
        out = []
        for member in sorted(
            self._reads.storage.member_index.members(str(room_id), MembershipState.JOIN)
        ):
            if self._presence.current(member) is None:
                continue
            try:
                content = self._presence.get(user, UserId.parse(member))
            except MatrixError:
                continue
            out.append({"type": EventType.PRESENCE, "sender": member, "content": content})
        return out
