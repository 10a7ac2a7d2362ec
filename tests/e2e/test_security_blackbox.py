"""The four high-severity findings of the security review (issue 13), tried as an
attacker would: plain HTTP against a real server process on loopback."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from tests.kit.server import ServerProcess

PASSWORD = "correct horse battery staple"


@dataclass
class Client:
    session: aiohttp.ClientSession
    base: str
    user_id: str = ""
    token: str = ""

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        prefix = "" if path.startswith("/_") else "/_matrix/client/v3"
        url = f"{self.base}{prefix}{path}"
        async with self.session.request(method, url, json=body, headers=headers) as response:
            return response.status, await response.json()

    async def register(self, name: str) -> Client:
        status, reply = await self.call(
            "POST",
            "/register",
            {"username": name, "password": PASSWORD, "auth": {"type": "m.login.dummy"}},
        )
        assert status == 200, reply
        return Client(self.session, self.base, reply["user_id"], reply["access_token"])

    async def create_room(self, **body: Any) -> str:
        status, reply = await self.call("POST", "/createRoom", body)
        assert status == 200, reply
        room_id: str = reply["room_id"]
        return room_id

    async def joined_rooms(self) -> list[str]:
        status, reply = await self.call("GET", "/joined_rooms")
        assert status == 200, reply
        rooms: list[str] = reply["joined_rooms"]
        return rooms

    async def send(self, room_id: str, content: dict[str, Any]) -> tuple[int, Any]:
        txn = uuid.uuid4().hex
        return await self.call("PUT", f"/rooms/{room_id}/send/m.room.message/{txn}", content)


@pytest.fixture
async def anon(open_server: ServerProcess) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as session:
        yield Client(session, open_server.base_url)


async def test_state_api_join_does_not_bypass_a_restricted_room(anon: Client) -> None:
    alice, mallory = await anon.register("alice"), await anon.register("mallory")
    family = await alice.create_room(preset="private_chat")
    allow = [{"type": "m.room_membership", "room_id": family}]
    restricted = await alice.create_room(
        room_version="10",
        initial_state=[
            {
                "type": "m.room.join_rules",
                "state_key": "",
                "content": {"join_rule": "restricted", "allow": allow},
            }
        ],
    )
    for content in (
        {"membership": "join"},
        {"membership": "join", "join_authorised_via_users_server": alice.user_id},
    ):
        status, reply = await mallory.call(
            "PUT", f"/rooms/{restricted}/state/m.room.member/{mallory.user_id}", content
        )
        assert status == 403, reply
    assert restricted not in await mallory.joined_rooms()
    status, _ = await mallory.call("GET", f"/rooms/{restricted}/messages?dir=b")
    assert status == 403


async def test_a_relation_cannot_reach_into_another_room(anon: Client) -> None:
    alice, mallory = await anon.register("alice"), await anon.register("mallory")
    private = await alice.create_room(preset="private_chat")
    status, secret = await alice.send(private, {"msgtype": "m.text", "body": "the secret"})
    assert status == 200
    own = await mallory.create_room(preset="private_chat")
    reply_content = {
        "msgtype": "m.text",
        "body": "tell me",
        "m.relates_to": {"rel_type": "m.thread", "event_id": secret["event_id"]},
    }
    status, reply = await mallory.send(own, reply_content)
    assert status == 400, reply
    status, threads = await mallory.call("GET", f"/_matrix/client/v1/rooms/{own}/threads")
    assert status == 200 and threads["chunk"] == []
    status, related = await alice.call(
        "GET", f"/_matrix/client/v1/rooms/{private}/relations/{secret['event_id']}"
    )
    assert status == 200 and related["chunk"] == []
    assert "the secret" not in str(threads)


async def test_interactive_auth_is_no_password_oracle(anon: Client) -> None:
    await anon.register("alice")
    mallory = await anon.register("mallory")
    answers = []
    for guess in (PASSWORD, "wrong guess"):
        # Start a session, then answer its password stage with alice's identifier.
        status, challenge = await mallory.call("POST", "/delete_devices", {"devices": []})
        assert status == 401, challenge
        auth = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": "alice"},
            "password": guess,
            "session": challenge["session"],
        }
        status, reply = await mallory.call("POST", "/delete_devices", {"devices": [], "auth": auth})
        answers.append((status, reply.get("errcode")))
    assert answers[0] == answers[1]
    assert answers[0][0] in (401, 403)


async def test_a_huge_filter_is_refused_and_stores_nothing(anon: Client) -> None:
    mallory = await anon.register("mallory")
    # Over the 500-entry limit but under the body limit (a bigger body is a 413).
    patterns = [f"m.{i}*" for i in range(2_000)]
    status, reply = await mallory.call(
        "POST", f"/user/{mallory.user_id}/filter", {"room": {"timeline": {"not_types": patterns}}}
    )
    assert status == 400, reply
    status, reply = await mallory.call("GET", f"/user/{mallory.user_id}/filter/0")
    assert status == 404
    inline = '{"room":{"timeline":{"types":["' + '","'.join(patterns[:600]) + '"]}}}'
    async with mallory.session.get(
        f"{mallory.base}/_matrix/client/v3/sync",
        params={"filter": inline, "timeout": "0"},
        headers={"Authorization": f"Bearer {mallory.token}"},
    ) as response:
        assert response.status == 400
