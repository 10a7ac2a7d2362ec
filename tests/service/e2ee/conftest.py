"""The e2ee services of a server built by the composition root (no HTTP).

``services_over`` builds every service over a real RocksDB in a temp directory, so
the e2ee services see real accounts and devices, real rooms (their joins and
leaves reach device-list tracking through the rooms service's join listeners) and
the real notifier.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conduwuit.core.ids import RoomId, UserId
from conduwuit.db import Database, DatabaseOptions
from conduwuit.server import services_over
from conduwuit.service.e2ee import E2ee
from conduwuit.service.notifier import Notifier
from conduwuit.service.rooms.actions import CreateRoom
from conduwuit.service.services import Services
from tests.kit.homeserver import FakeClock, homeserver_config

SERVER = "example.org"
ALICE = "@alice:example.org"
BOB = "@bob:example.org"
CAROL = "@carol:example.org"
# A user of another server: it cannot be registered or join a room here without
# federation, so the tests that need one use it where no account is needed.
REMOTE = "@dave:remote.test"
LOCAL_USERS = (ALICE, BOB, CAROL)


@dataclass
class Kit:
    """The services, plus the rooms the test named (its name -> the real room ID)."""

    services: Services
    rooms: dict[str, str] = field(default_factory=dict)

    @property
    def db(self) -> Database:
        return self.services.db

    @property
    def e2ee(self) -> E2ee:
        return self.services.e2ee

    @property
    def notifier(self) -> Notifier:
        return self.services.notifier

    def login(self, user_id: str, device_id: str, name: str | None = None) -> str:
        """Log a device in (the registration service's login); its access token."""
        return self.services.users.registration.login(user_id, device_id, name).access_token

    async def join(self, user_id: str, room: str) -> None:
        """Join ``room``; the first joiner of a name creates a public room for it."""
        user = UserId.parse(user_id)
        if room not in self.rooms:
            request = CreateRoom(preset="public_chat")
            self.rooms[room] = await self.services.rooms.actions.create_room(user, request)
        else:
            await self.services.rooms.membership.join(user, self.rooms[room])

    async def leave(self, user_id: str, room: str) -> None:
        await self.services.rooms.membership.leave(
            UserId.parse(user_id), RoomId.parse(self.rooms[room])
        )

    def woken(self, since: int, among: tuple[str, ...] = (*LOCAL_USERS, REMOTE)) -> set[str]:
        """Which of ``among`` the real notifier woke after stream position ``since``."""
        return {u for u in among if self.notifier.last_change(users=[u]) > since}


@pytest.fixture
async def kit(tmp_path: Path) -> AsyncIterator[Kit]:
    db = Database.open(DatabaseOptions(path=tmp_path / "db"))
    config = homeserver_config(tmp_path / "unused", server_name=SERVER)
    services = services_over(config, db, FakeClock())
    registration = services.users.registration
    for user_id in LOCAL_USERS:
        localpart = user_id[1:].split(":", 1)[0]
        await registration.register(registration.check_available(localpart), None, login=False)
    yield Kit(services)
    services.close()
