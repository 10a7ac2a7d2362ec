"""User-interactive auth is no password oracle (issue #13): the password stage only
authenticates the requester, failed attempts are rate-limited per user, and the
sessions a user can hold are bounded."""

from __future__ import annotations

from typing import Any

from conduwuit.service import uiaa
from tests.kit.homeserver import PASSWORD, Homeserver, StartHomeserver


def password_auth(user: str, session: str, password: str = PASSWORD) -> dict[str, Any]:
    return {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": user},
        "password": password,
        "session": session,
    }


async def delete_device(hs: Homeserver, token: str, auth: dict[str, Any] | None) -> Any:
    body = {"auth": auth} if auth is not None else {}
    return await hs.request("DELETE", "/devices/OLD", body, token=token)


async def challenge(hs: Homeserver, token: str) -> str:
    status, reply = await delete_device(hs, token, None)
    assert status == 401, reply
    return str(reply["session"])


async def test_password_stage_for_another_user_is_refused_without_checking(
    hs: Homeserver,
) -> None:
    mallory = (await hs.register("mallory", device_id="M"))["access_token"]
    await hs.register("victim")
    await hs.login("mallory", device_id="OLD")
    replies = []
    for password in ("wrong guess", PASSWORD):  # PASSWORD is victim's password too
        session = await challenge(hs, mallory)
        status, reply = await delete_device(
            hs, mallory, password_auth("@victim:test.example", session, password)
        )
        replies.append((status, reply["errcode"], reply["error"]))
    # The same answer whether the guess was right or wrong: nothing to learn.
    assert replies[0] == replies[1]
    assert replies[0][:2] == (403, "M_FORBIDDEN")
    # Nothing changed: mallory's device is still there.
    status, _ = await hs.request("GET", "/devices/OLD", token=mallory)
    assert status == 200


async def test_failed_attempts_are_rate_limited_per_user(start: StartHomeserver) -> None:
    hs = await start(rate_limit_uiaa_per_second=0.1, rate_limit_uiaa_burst=3)
    alice = (await hs.register("alice", device_id="A"))["access_token"]
    bob = (await hs.register("bob", device_id="B"))["access_token"]
    await hs.login("alice", device_id="OLD")
    await hs.login("bob", device_id="OLD")
    session = await challenge(hs, alice)
    for _ in range(3):
        status, reply = await delete_device(hs, alice, password_auth("alice", session, "nope"))
        assert (status, reply["errcode"]) == (401, "M_FORBIDDEN"), reply
    # Fourth failure in a row: 429, and the right password is not even checked now.
    for password in ("nope", PASSWORD):
        status, reply = await delete_device(hs, alice, password_auth("alice", session, password))
        assert (status, reply["errcode"]) == (429, "M_LIMIT_EXCEEDED"), reply
        assert reply["retry_after_ms"] > 0
    status, _ = await hs.request("GET", "/devices/OLD", token=alice)
    assert status == 200
    # Another user is not affected.
    bob_session = await challenge(hs, bob)
    status, reply = await delete_device(hs, bob, password_auth("bob", bob_session))
    assert status == 200, reply
    # After the wait, alice may try again and succeed.
    hs.clock.advance(10_000)
    status, reply = await delete_device(hs, alice, password_auth("alice", session))
    assert status == 200, reply


async def test_sessions_per_user_are_bounded_oldest_dropped(hs: Homeserver) -> None:
    alice = (await hs.register("alice", device_id="A"))["access_token"]
    await hs.login("alice", device_id="OLD")
    first = await challenge(hs, alice)
    for _ in range(uiaa.MAX_SESSIONS_PER_USER):
        await challenge(hs, alice)
    held = [
        s for s in hs.services.users.uiaa._sessions.values() if s.user_id == "@alice:test.example"
    ]
    assert len(held) == uiaa.MAX_SESSIONS_PER_USER
    # The oldest session is gone: using it is "Unknown session ID" and deletes nothing.
    status, reply = await delete_device(hs, alice, password_auth("alice", first))
    assert (status, reply["errcode"]) == (400, "M_UNKNOWN"), reply
    status, _ = await hs.request("GET", "/devices/OLD", token=alice)
    assert status == 200
