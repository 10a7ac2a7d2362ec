"""What a user is shown of a room this server is not in (their "out-of-band"
membership, ``Persister.persist_out_of_band``): the stripped state of an invite or
knock answer, and their own member event with its ID."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from conduwuit.core.event_types import EventType
from conduwuit.core.room_versions import RoomVersion
from conduwuit.core.room_versions import get as get_room_version


def own_member_event(shown: Sequence[Any], user_id: str) -> dict[str, Any] | None:
    """The user's own member event (an invite, a knock, a leave) with its ID."""
    for event in shown:
        if (
            isinstance(event, dict)
            and event.get("type") == EventType.MEMBER
            and event.get("state_key") == user_id
            and isinstance(event.get("event_id"), str)
        ):
            return event
    return None


def room_version_shown(shown: Sequence[Any]) -> RoomVersion:
    """The room's version from the stripped create event (without one: version 1,
    the version of a create event without ``room_version``)."""
    version = "1"
    for event in shown:
        if (
            isinstance(event, dict)
            and event.get("type") == EventType.CREATE
            and event.get("state_key", "") == ""
            and isinstance(event.get("content"), dict)
        ):
            version = str(event["content"].get("room_version", "1"))
    found = get_room_version(version) or get_room_version("1")
    assert found is not None
    return found
