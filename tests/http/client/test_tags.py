"""Room tags over HTTP: set, list, delete, delivered as ``m.tag`` in /sync; refusals
(another user's tags, bad order, long names, bad room IDs) change nothing."""

from __future__ import annotations

from typing import Any

from tests.kit.homeserver import Homeserver

ROOM = "!room:test.example"


def tags_path(user: str, room: str = ROOM) -> str:
    return f"/user/{user}/rooms/{room}/tags"


async def sync_tags(hs: Homeserver, token: str, room_id: str) -> Any:
    status, reply = await hs.request("GET", "/sync", token=token)
    assert status == 200, reply
    events = reply["rooms"]["join"][room_id]["account_data"]["events"]
    return [e["content"] for e in events if e["type"] == "m.tag"]


async def test_tags_set_list_delete_and_sync(hs: Homeserver) -> None:
    me = await hs.register("alice")
    user, token = me["user_id"], me["access_token"]
    status, room = await hs.request("POST", "/createRoom", {}, token=token)
    room_id = room["room_id"]
    path = tags_path(user, room_id)

    status, reply = await hs.request("GET", path, token=token)
    assert (status, reply) == (200, {"tags": {}})
    status, _ = await hs.request("PUT", f"{path}/m.favourite", {"order": 0.25}, token=token)
    assert status == 200
    status, _ = await hs.request("PUT", f"{path}/u.work", {}, token=token)
    assert status == 200
    status, reply = await hs.request("GET", path, token=token)
    assert reply == {"tags": {"m.favourite": {"order": 0.25}, "u.work": {}}}
    assert await sync_tags(hs, token, room_id) == [reply]

    status, _ = await hs.request("DELETE", f"{path}/u.work", token=token)
    assert status == 200
    status, _ = await hs.request("DELETE", f"{path}/u.absent", token=token)
    assert status == 200  # as Synapse: removing a missing tag succeeds
    status, reply = await hs.request("GET", path, token=token)
    assert reply == {"tags": {"m.favourite": {"order": 0.25}}}
    assert await sync_tags(hs, token, room_id) == [reply]


async def test_tag_refusals_change_nothing(hs: Homeserver) -> None:
    me = await hs.register("alice")
    other = await hs.register("bob")
    user, token = me["user_id"], me["access_token"]
    bob = other["access_token"]
    await hs.request("PUT", f"{tags_path(user)}/m.favourite", {"order": 0.5}, token=token)
    before = {"tags": {"m.favourite": {"order": 0.5}}}

    refusals: list[tuple[str, str, Any, str | None, int, str]] = [
        ("PUT", f"{tags_path(user)}/u.x", {"order": 1.5}, token, 400, "M_INVALID_PARAM"),
        ("PUT", f"{tags_path(user)}/u.x", {"order": -0.1}, token, 400, "M_INVALID_PARAM"),
        ("PUT", f"{tags_path(user)}/u.x", {"order": "0.5"}, token, 400, "M_BAD_JSON"),
        ("PUT", f"{tags_path(user)}/u.x", {"order": True}, token, 400, "M_BAD_JSON"),
        ("PUT", f"{tags_path(user)}/{'x' * 256}", {}, token, 400, "M_INVALID_PARAM"),
        ("PUT", f"{tags_path(user, 'not-a-room')}/u.x", {}, token, 400, "M_INVALID_PARAM"),
        ("PUT", f"{tags_path(user)}/m.favourite", {}, bob, 403, "M_FORBIDDEN"),
        ("DELETE", f"{tags_path(user)}/m.favourite", None, bob, 403, "M_FORBIDDEN"),
        ("GET", tags_path(user), None, bob, 403, "M_FORBIDDEN"),
        ("PUT", f"{tags_path(user)}/u.x", {}, None, 401, "M_MISSING_TOKEN"),
    ]
    for method, path, body, who, status, errcode in refusals:
        got, reply = await hs.request(method, path, body, token=who)
        assert (got, reply.get("errcode")) == (status, errcode), (method, path, body, reply)
    status, reply = await hs.request("GET", tags_path(user), token=token)
    assert (status, reply) == (200, before)

    # A body that is not JSON (or NaN) is refused by the strict parser.
    async with hs.client.put(
        f"/_matrix/client/v3{tags_path(user)}/u.x",
        data=b'{"order": NaN}',
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        assert response.status == 400
        assert (await response.json())["errcode"] == "M_BAD_JSON"
    status, reply = await hs.request("GET", tags_path(user), token=token)
    assert reply == before
