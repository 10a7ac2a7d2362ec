"""Room tags (client-server API "Room Tagging"): one ``m.tag`` room account-data
event per user and room, ``{"tags": {name: {"order": 0.5, ...}}}``, so /sync
delivers them with the room's account data like any other.

``order`` is a JSON number and usually a fraction, which canonical JSON (and so
the generic account-data endpoint) refuses; tags are stored by ``AccountData``,
whose JSON encoding keeps floats, so they reach /sync unchanged.
"""

from __future__ import annotations

import copy
from typing import Any

from conduwuit.core.errors import bad_json, invalid_param
from conduwuit.core.event_types import EventType
from conduwuit.core.ids import RoomId, UserId
from conduwuit.service.account_data import AccountData

TAG_EVENT = EventType.TAG
#: Spec: "The name of a tag MUST NOT exceed 255 bytes."
MAX_TAG_BYTES = 255


def check_tag(tag: str) -> None:
    if not tag or len(tag.encode("utf-8")) > MAX_TAG_BYTES:
        raise invalid_param(f"A tag name must be 1 to {MAX_TAG_BYTES} bytes long")


def check_info(info: dict[str, Any]) -> None:
    """``order``, if given, is a number from 0 to 1 (spec: "A number in a range [0,1]")."""
    if "order" not in info:
        return
    order = info["order"]
    if isinstance(order, bool) or not isinstance(order, int | float):
        raise bad_json("order must be a number")
    if not 0 <= order <= 1:
        raise invalid_param("order must be between 0 and 1")


class Tags:
    def __init__(self, account_data: AccountData) -> None:
        self._account_data = account_data

    def get(self, user: UserId, room_id: RoomId) -> dict[str, dict[str, Any]]:
        content = self._account_data.get(str(user), TAG_EVENT, str(room_id)) or {}
        tags = content.get("tags")
        return tags if isinstance(tags, dict) else {}

    def put(self, user: UserId, room_id: RoomId, tag: str, info: dict[str, Any]) -> None:
        """Add or replace ``tag`` on the room (nothing awaits between read and write,
        so concurrent requests cannot lose each other's tags)."""
        check_tag(tag)
        check_info(info)
        tags = copy.deepcopy(self.get(user, room_id))
        tags[tag] = info
        self._account_data.put(str(user), TAG_EVENT, {"tags": tags}, str(room_id))

    def delete(self, user: UserId, room_id: RoomId, tag: str) -> None:
        """Remove ``tag``; removing a tag the room does not have succeeds (as Synapse)."""
        check_tag(tag)
        tags = copy.deepcopy(self.get(user, room_id))
        if tags.pop(tag, None) is None:
            return
        self._account_data.put(str(user), TAG_EVENT, {"tags": tags}, str(room_id))
