"""What the e2ee services need from other areas, as small Protocols.

The accounts service (devices) and the rooms service (membership) satisfy these;
tests use tiny in-memory fakes. Keeping the surface this small is what lets the
e2ee services be built and tested on their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol


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


#: Wakes the long-polling /sync requests of these users (the rooms notifier).
Wake = Callable[[Iterable[str]], None]


def no_wake(user_ids: Iterable[str]) -> None:
    """The Wake used until a notifier is wired: nobody is long-polling."""
