"""Erasure (``erase: true`` on ``POST /account/deactivate``, spec v1.10): whoever was
not joined when an erased user's event was sent is served its redacted copy, on
every read path; whoever was joined keeps seeing the original (as Synapse)."""

from __future__ import annotations

import json
from typing import Any

from conduwuit.db.maps import MAPS
from tests.http.client.test_devices import password_auth
from tests.kit.homeserver import Homeserver

from .conftest import Users

V1 = "/_matrix/client/v1"
SECRET = {"msgtype": "m.text", "body": "the plum secret"}


async def send(users: Users, user: str, room: str, txn: str, content: dict[str, Any]) -> str:
    reply = await users.ok(user, "PUT", f"/rooms/{room}/send/m.room.message/{txn}", content)
    return str(reply["event_id"])


def in_thread(root: str) -> dict[str, Any]:
    return {
        "msgtype": "m.text",
        "body": "plum in a thread",
        "m.relates_to": {"rel_type": "m.thread", "event_id": root},
    }


async def deactivate(hs: Homeserver, user: str, token: str, **extra: Any) -> tuple[int, Any]:
    localpart = user[1:].split(":")[0]
    return await hs.request(
        "POST", "/account/deactivate", {"auth": password_auth(localpart), **extra}, token=token
    )


async def erased_room(hs: Homeserver, users: Users, *, erase: bool) -> dict[str, str]:
    """alice's room; bob joined throughout; erin posts, then deactivates (erasing or
    not); carol joins afterwards. History is ``shared``, so carol reads all of it."""
    alice, bob, erin = await users.add("alice"), await users.add("bob"), await users.add("erin")
    room = (await users.ok(alice, "POST", "/createRoom", {"preset": "private_chat"}))["room_id"]
    for user in (bob, erin):
        await users.ok(alice, "POST", f"/rooms/{room}/invite", {"user_id": user})
        await users.ok(user, "POST", f"/join/{room}", {})
    secret = await send(users, erin, room, "1", SECRET)
    root = await send(users, alice, room, "2", {"msgtype": "m.text", "body": "thread root"})
    reply = await send(users, erin, room, "3", in_thread(root))
    erin_root = await send(users, erin, room, "4", {"msgtype": "m.text", "body": "erin root"})
    await send(users, alice, room, "5", in_thread(erin_root))
    status, body = await deactivate(hs, erin, hs.tokens[erin], erase=erase)
    assert (status, body) == (200, {"id_server_unbind_result": "success"})
    carol = await users.add("carol")
    await users.ok(alice, "POST", f"/rooms/{room}/invite", {"user_id": carol})
    await users.ok(carol, "POST", f"/join/{room}", {})
    return {
        "room": room,
        "bob": bob,
        "carol": carol,
        "erin": erin,
        "secret": secret,
        "root": root,
        "reply": reply,
        "erin_root": erin_root,
    }


async def reads(users: Users, viewer: str, r: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Erin's events as ``viewer`` gets them from each read path: path -> event."""
    room = r["room"]
    got: dict[str, dict[str, Any]] = {}

    def find(events: list[dict[str, Any]], event_id: str) -> dict[str, Any]:
        return next(e for e in events if e["event_id"] == event_id)

    messages = await users.ok(viewer, "GET", f"/rooms/{room}/messages", dir="b", limit="50")
    got["messages"] = find(messages["chunk"], r["secret"])
    got["event"] = await users.ok(viewer, "GET", f"/rooms/{room}/event/{r['secret']}")
    context = await users.ok(viewer, "GET", f"/rooms/{room}/context/{r['secret']}")
    got["context"] = context["event"]
    got["context_after"] = find(context["events_after"], r["reply"])
    sync_filter = json.dumps({"room": {"timeline": {"limit": 50}}})
    synced = await users.ok(viewer, "GET", "/sync", filter=sync_filter)
    timeline = synced["rooms"]["join"][room]["timeline"]["events"]
    got["sync"] = find(timeline, r["secret"])
    relations = await users.ok(viewer, "GET", f"{V1}/rooms/{room}/relations/{r['root']}")
    got["relations"] = find(relations["chunk"], r["reply"])
    threads = (await users.ok(viewer, "GET", f"{V1}/rooms/{room}/threads"))["chunk"]
    got["threads"] = find(threads, r["erin_root"])
    alice_root = find(threads, r["root"])
    got["bundled_latest"] = alice_root["unsigned"]["m.relations"]["m.thread"]["latest_event"]
    initial = await users.ok(viewer, "GET", f"/rooms/{room}/initialSync")
    got["initial_sync"] = find(initial["messages"]["chunk"], r["secret"])
    return got


async def search(users: Users, viewer: str) -> list[dict[str, Any]]:
    body = {"search_categories": {"room_events": {"search_term": "plum"}}}
    reply = await users.ok(viewer, "POST", "/search", body)
    results: list[dict[str, Any]] = reply["search_categories"]["room_events"]["results"]
    return results


async def test_later_joiner_gets_redacted_copies_on_every_read_path(
    hs: Homeserver, users: Users
) -> None:
    r = await erased_room(hs, users, erase=True)
    assert hs.services.users.erasures.is_erased(r["erin"])
    for path, event in (await reads(users, r["carol"], r)).items():
        assert event["sender"] == r["erin"], path
        assert event["content"] == {}, path
    # A search cannot find what an erased user said (alice's reply it still finds).
    senders = [result["result"]["sender"] for result in await search(users, r["carol"])]
    assert senders == ["@alice:test.example"]


async def test_user_joined_at_the_time_keeps_the_originals(hs: Homeserver, users: Users) -> None:
    r = await erased_room(hs, users, erase=True)
    got = await reads(users, r["bob"], r)
    for path in ("messages", "event", "context", "sync", "initial_sync"):
        assert got[path]["content"] == SECRET, path
    for path in ("context_after", "relations", "bundled_latest"):
        assert got[path]["content"]["body"] == "plum in a thread", path
    assert got["threads"]["content"]["body"] == "erin root"
    found = {result["result"]["event_id"] for result in await search(users, r["bob"])}
    assert {r["secret"], r["reply"]} <= found
    assert all(result["result"]["content"] for result in await search(users, r["bob"]))


async def test_without_erase_nothing_is_redacted(hs: Homeserver, users: Users) -> None:
    r = await erased_room(hs, users, erase=False)
    assert not hs.services.users.erasures.is_erased(r["erin"])
    got = await reads(users, r["carol"], r)
    assert got["messages"]["content"] == SECRET
    assert got["relations"]["content"]["body"] == "plum in a thread"
    senders = [result["result"]["sender"] for result in await search(users, r["carol"])]
    assert senders.count(r["erin"]) == 2


async def test_erase_drops_account_data(hs: Homeserver, users: Users) -> None:
    erin, keeper = await users.add("erin"), await users.add("keeper")
    room = (await users.ok(erin, "POST", "/createRoom", {}))["room_id"]
    for user in (erin, keeper):
        await users.ok(user, "PUT", f"/user/{user}/account_data/org.example.k", {"a": 1})
        await users.ok(user, "PUT", f"/user/{user}/rooms/{room}/tags/u.work", {})
    status, _ = await deactivate(hs, erin, hs.tokens[erin], erase=True)
    assert status == 200
    data = hs.services.users.account_data
    assert data.get(erin, "org.example.k") is None
    assert data.get(erin, "m.tag", room) is None
    # Other users' account data stays.
    assert data.get(keeper, "org.example.k") == {"a": 1}
    assert data.get(keeper, "m.tag", room) == {"tags": {"u.work": {}}}


async def test_bad_erase_is_refused_and_changes_nothing(hs: Homeserver, users: Users) -> None:
    erin = await users.add("erin")
    token = hs.tokens[erin]
    for bad in ("yes", 1, None, {}):
        status, reply = await deactivate(hs, erin, token, erase=bad)
        assert (status, reply["errcode"]) == (400, "M_BAD_JSON"), bad
    assert hs.services.users.accounts.is_active(erin)
    assert not hs.services.users.erasures.is_erased(erin)
    assert hs.services.db.map(MAPS.userid_erased).get(erin.encode()) is None
    assert (await users.call(erin, "GET", "/account/whoami"))[0] == 200


async def test_erased_creator_of_a_v12_room(hs: Homeserver, users: Users) -> None:
    """A room version 12 create event carries no room_id; an erased creator's create
    event is still served (its redacted form keeps all of its content)."""
    erin, alice = await users.add("erin"), await users.add("alice")
    body = {"room_version": "12", "preset": "public_chat"}
    room = (await users.ok(erin, "POST", "/createRoom", body))["room_id"]
    await users.ok(alice, "POST", f"/join/{room}", {})
    secret = await send(users, erin, room, "1", SECRET)
    status, _ = await deactivate(hs, erin, hs.tokens[erin], erase=True)
    assert status == 200
    carol = await users.add("carol")
    await users.ok(carol, "POST", f"/join/{room}", {})
    chunk = (await users.ok(carol, "GET", f"/rooms/{room}/messages", dir="b", limit="50"))["chunk"]
    by_id = {event["event_id"]: event for event in chunk}
    create = by_id["$" + room[1:]]
    assert create["type"] == "m.room.create" and create["room_id"] == room
    assert create["content"]["room_version"] == "12"
    assert by_id[secret]["content"] == {}
