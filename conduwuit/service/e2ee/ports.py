"""What the e2ee services need from other areas, as small Protocols.

The accounts service (devices) and the rooms service (membership) satisfy these;
tests use tiny in-memory fakes. Keeping the surface this small is what lets the
e2ee services be built and tested on their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol


class DeviceInfo(Protocol):
    """A device of a local user, as the devices service describes it."""

    @property
    def device_id(self) -> str: ...

    @property
    def display_name(self) -> str | None: ...


class DeviceDirectory(Protocol):
    """The local users' devices (conduwuit.service.devices.Devices)."""

    def get(self, user_id: str, device_id: str) -> DeviceInfo | None: ...

    def list_devices(self, user_id: str) -> Sequence[DeviceInfo]: ...


class RoomMembership(Protocol):
    """Who shares a room with whom (the rooms service's membership indexes).

    Only joined memberships count, as the spec's /keys/changes says ("both users
    have membership state join").
    """

    def users_sharing_rooms(self, user_id: str) -> set[str]:
        """Every user (local or remote) joined to a room ``user_id`` is joined to."""
        ...

    def room_members(self, room_id: str) -> set[str]:
        """Every user currently joined to ``room_id``."""
        ...


class RemoteKeys(Protocol):
    """Other servers' users' keys (the federation's ``RemoteUserKeys``): answers
    shaped like /keys/query and /keys/claim, with ``failures`` by server."""

    async def query(self, wanted: Mapping[str, list[str]], timeout_s: float) -> dict[str, Any]: ...

    async def claim(
        self, wanted: Mapping[str, Mapping[str, str]], timeout_s: float
    ) -> dict[str, Any]: ...


#: Wakes the long-polling /sync requests of these users (the rooms notifier).
Wake = Callable[[Iterable[str]], None]


def no_wake(user_ids: Iterable[str]) -> None:
    """The Wake used until a notifier is wired: nobody is long-polling."""


class JoinedMembership:
    """A RoomMembership from two reads of the rooms' membership indexes.

    ``rooms_of(user)``: rooms the user is joined to; ``members(room)``: users
    joined to the room. "Users sharing a room" is the union of the members of the
    user's rooms: reads proportional to the user's rooms, done on a key change or
    a leave, never on a sync.
    """

    def __init__(
        self,
        rooms_of: Callable[[str], Iterable[str]],
        members: Callable[[str], Iterable[str]],
    ) -> None:
        self._rooms_of = rooms_of
        self._members = members

    def users_sharing_rooms(self, user_id: str) -> set[str]:
        sharing: set[str] = set()
        for room_id in self._rooms_of(user_id):
            sharing.update(self._members(room_id))
        return sharing

    def room_members(self, room_id: str) -> set[str]:
        return set(self._members(room_id))
