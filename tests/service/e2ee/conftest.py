from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conduwuit.db import Database, DatabaseOptions
from conduwuit.service.e2ee import E2ee

SERVER = "example.org"
ALICE = "@alice:example.org"
BOB = "@bob:example.org"
CAROL = "@carol:example.org"
REMOTE = "@dave:remote.test"


@dataclass(frozen=True)
class Device:
    device_id: str
    display_name: str | None = None


@dataclass
class FakeDevices:
    devices: dict[str, dict[str, Device]] = field(default_factory=dict)

    def add(self, user_id: str, device_id: str, name: str | None = None) -> None:
        self.devices.setdefault(user_id, {})[device_id] = Device(device_id, name)

    def get(self, user_id: str, device_id: str) -> Device | None:
        return self.devices.get(user_id, {}).get(device_id)

    def list_devices(self, user_id: str) -> list[Device]:
        return list(self.devices.get(user_id, {}).values())


@dataclass
class FakeRooms:
    rooms: dict[str, set[str]] = field(default_factory=dict)

    def users_sharing_rooms(self, user_id: str) -> set[str]:
        return {u for members in self.rooms.values() if user_id in members for u in members}

    def room_members(self, room_id: str) -> set[str]:
        return set(self.rooms.get(room_id, set()))


@dataclass
class Woken:
    calls: list[set[str]] = field(default_factory=list)

    def __call__(self, user_ids: Iterable[str]) -> None:
        self.calls.append(set(user_ids))

    @property
    def users(self) -> set[str]:
        return {u for call in self.calls for u in call}


@dataclass
class Kit:
    db: Database
    devices: FakeDevices
    rooms: FakeRooms
    woken: Woken
    e2ee: E2ee

    def join(self, user_id: str, room_id: str) -> None:
        self.rooms.rooms.setdefault(room_id, set()).add(user_id)
        self.e2ee.device_lists.membership_changed(user_id, room_id, joined=True)

    def leave(self, user_id: str, room_id: str) -> None:
        self.rooms.rooms[room_id].discard(user_id)
        self.e2ee.device_lists.membership_changed(user_id, room_id, joined=False)


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    db = Database.open(DatabaseOptions(path=tmp_path / "db"))
    devices, rooms, woken = FakeDevices(), FakeRooms(), Woken()
    e2ee = E2ee(db, SERVER, devices, rooms, wake=woken)
    yield Kit(db, devices, rooms, woken, e2ee)
    db.close()
