"""The account services on a real RocksDB: atomic changes, tokens, UIA, limits."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import pytest

from conduwuit.core.errors import MatrixError
from conduwuit.db import Database
from conduwuit.db.maps import MAPS
from conduwuit.service.ratelimit import RateLimiter
from conduwuit.service.services import UserServices
from conduwuit.service.uiaa import DUMMY, PASSWORD
from conduwuit.service.users.ids import AccountUserId
from conduwuit.service.users.passwords import (
    GENERATED_PASSWORD_LENGTH,
    PasswordHasher,
    generate_password,
)
from tests.kit.homeserver import FakeClock

ALICE = AccountUserId("@alice:test.example")
T = TypeVar("T")


async def test_hashing_runs_off_the_event_loop() -> None:
    hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    threads: list[int] = []
    original = hasher.hash_sync

    def spy(password: str) -> str:
        threads.append(threading.get_ident())
        return original(password)

    hasher.hash_sync = spy  # type: ignore[method-assign]
    hashed = await hasher.hash("pw")
    assert threads and threads[0] != threading.get_ident()
    assert hashed.startswith("$argon2id$")
    assert await hasher.verify(hashed, "pw")
    assert not await hasher.verify(hashed, "nope")
    assert not await hasher.verify("garbage", "pw")


async def test_concurrent_hashes_are_bounded() -> None:
    """Ten logins at once, two slots: never more than two argon2 buffers held at once,
    and every hash and check still answers."""
    hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1, max_concurrent=2)
    running = 0
    most = 0
    lock = threading.Lock()
    original_hash, original_verify = hasher.hash_sync, hasher.verify_sync

    def counted(call: Callable[..., T], *args: str) -> T:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            time.sleep(0.02)  # long enough for the others to pile up
            return call(*args)
        finally:
            with lock:
                running -= 1

    def hash_sync(password: str) -> str:
        return counted(original_hash, password)

    def verify_sync(password_hash: str, password: str) -> bool:
        return counted(original_verify, password_hash, password)

    hasher.hash_sync = hash_sync  # type: ignore[method-assign]
    hasher.verify_sync = verify_sync  # type: ignore[method-assign]
    hashes = await asyncio.gather(*(hasher.hash(f"pw{n}") for n in range(10)))
    checks = await asyncio.gather(*(hasher.verify(h, f"pw{n}") for n, h in enumerate(hashes)))
    assert all(checks) and len(set(hashes)) == 10
    assert most == 2
    assert PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).max_concurrent >= 1


def test_generated_passwords() -> None:
    passwords = {generate_password() for _ in range(20)}
    assert len(passwords) == 20
    assert all(len(p) == GENERATED_PASSWORD_LENGTH for p in passwords)


async def test_register_writes_one_batch(users: UserServices, db: Database) -> None:
    session = await users.registration.register(ALICE, "pw", device_id="D")
    assert session is not None
    assert users.accounts.get(ALICE) is not None
    assert users.accounts.password_hash(ALICE) is not None
    assert users.devices.owner(session.access_token) is not None
    # The token index and the device's token agree, byte for byte.
    assert db.map(MAPS.userdeviceid_token).get(b"@alice:test.example\xffD") == (
        session.access_token.encode()
    )


async def test_deactivation_removes_everything_but_the_record(users: UserServices) -> None:
    session = await users.registration.register(ALICE, "pw", refresh=True)
    assert session is not None and session.refresh_token is not None
    await users.registration.deactivate(ALICE)
    account = users.accounts.get(ALICE)
    assert account is not None and account.deactivated
    assert users.accounts.password_hash(ALICE) is None
    assert users.devices.list_devices(ALICE) == []
    assert users.devices.owner(session.access_token) is None
    assert users.devices.refresh(session.refresh_token) is None
    assert users.profiles.get(ALICE) == {}
    with pytest.raises(MatrixError, match="taken"):
        users.registration.check_available("alice")


async def test_forbidden_usernames_do_not_apply_to_admins(users: UserServices) -> None:
    with pytest.raises(MatrixError):
        users.registration.check_available("myadmin")
    assert users.registration.check_available("myadmin", admin=True) == "@myadmin:test.example"


async def test_concurrent_registration_of_one_id(users: UserServices) -> None:
    results = await asyncio.gather(
        users.registration.register(ALICE, "one"),
        users.registration.register(ALICE, "two"),
        return_exceptions=True,
    )
    assert sum(isinstance(r, MatrixError) for r in results) == 1


async def test_uiaa_session_expires(users: UserServices, clock: FakeClock) -> None:
    with pytest.raises(MatrixError) as info:
        await users.uiaa.authenticate(None, [[DUMMY]])
    session = info.value.to_json()["session"]
    clock.advance(users.uiaa._timeout)
    with pytest.raises(MatrixError) as info:
        await users.uiaa.authenticate({"type": DUMMY, "session": session}, [[DUMMY]])
    assert info.value.status == 400


async def test_uiaa_session_is_bound_to_its_user(users: UserServices) -> None:
    await users.registration.register(ALICE, "pw")
    with pytest.raises(MatrixError) as info:
        await users.uiaa.authenticate(None, [[PASSWORD]], user_id=ALICE)
    session = info.value.to_json()["session"]
    with pytest.raises(MatrixError) as info:
        await users.uiaa.authenticate(
            {"type": PASSWORD, "session": session}, [[PASSWORD]], user_id="@bob:test.example"
        )
    assert info.value.status == 400


async def test_uiaa_multi_stage_flow(users: UserServices) -> None:
    await users.registration.register(ALICE, "pw")
    flows = [[DUMMY, PASSWORD]]
    with pytest.raises(MatrixError) as info:
        await users.uiaa.authenticate({"type": DUMMY}, flows, user_id=ALICE)
    body = info.value.to_json()
    assert body["completed"] == [DUMMY]
    auth = {"type": PASSWORD, "user": "alice", "password": "pw", "session": body["session"]}
    session = await users.uiaa.authenticate(auth, flows, user_id=ALICE)
    assert session.completed == [DUMMY, PASSWORD]


def test_rate_limiter_buckets() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock, per_second=1, burst=2)
    limiter.check("a")
    limiter.check("a")
    with pytest.raises(MatrixError) as info:
        limiter.check("a")
    assert info.value.status == 429 and info.value.extra["retry_after_ms"] > 0
    limiter.check("b")  # other keys have their own bucket
    clock.advance(1000)
    limiter.check("a")
    # Checking several keys takes from none of them when one is empty.
    with pytest.raises(MatrixError):
        limiter.check("b", "a")
    clock.advance(1000)
    limiter.check("b")
    disabled = RateLimiter(clock, per_second=0, burst=1)
    for _ in range(10):
        disabled.check("a")


async def test_account_data_keeps_only_latest_per_type(users: UserServices, db: Database) -> None:
    users.account_data.put(ALICE, "t", {"v": 1})
    users.account_data.put(ALICE, "t", {"v": 2})
    events = list(db.map(MAPS.roomuserdataid_accountdata).iter_prefix(b""))
    assert len(events) == 1


def test_filters_get_distinct_ids(users: UserServices) -> None:
    one = users.filters.create(ALICE, {"a": 1})
    two = users.filters.create(ALICE, {"a": 2})
    assert one != two
    assert users.filters.get(ALICE, one) == {"a": 1}
    assert users.filters.get("@bob:test.example", one) is None
