"""Account data, global and per room, with stream positions."""

from __future__ import annotations

from tests.kit.homeserver import Homeserver

ALICE = "@alice:test.example"


async def test_put_get_global_and_room(hs: Homeserver) -> None:
    token = (await hs.register("alice"))["access_token"]
    path = f"/user/{ALICE}/account_data/org.example.config"
    assert (await hs.request("PUT", path, {"a": 1}, token=token))[0] == 200
    assert await hs.request("GET", path, token=token) == (200, {"a": 1})
    room_path = f"/user/{ALICE}/rooms/!room:test.example/account_data/m.tag"
    assert (await hs.request("PUT", room_path, {"tags": {}}, token=token))[0] == 200
    assert await hs.request("GET", room_path, token=token) == (200, {"tags": {}})
    # Per-room and global data are separate namespaces.
    status, _ = await hs.request("GET", f"/user/{ALICE}/account_data/m.tag", token=token)
    assert status == 404


async def test_positions_and_overwrite(hs: Homeserver) -> None:
    await hs.register("alice")
    data = hs.services.users.account_data
    start = hs.services.db.current_count()
    first = data.put(ALICE, "t", {"v": 1})
    second = data.put(ALICE, "t", {"v": 2})
    third = data.put(ALICE, "u", {"v": 3})
    assert start < first < second < third
    assert [(p, e["type"]) for p, e in data.since(ALICE, start)] == [(second, "t"), (third, "u")]
    assert list(data.since(ALICE, second)) == [(third, {"type": "u", "content": {"v": 3}})]
    assert data.get(ALICE, "t") == {"v": 2}


async def test_refusals_change_nothing(hs: Homeserver) -> None:
    token = (await hs.register("alice"))["access_token"]
    bob = (await hs.register("bob"))["access_token"]
    start = hs.services.db.current_count()
    for path, who, body, want in (
        (f"/user/{ALICE}/account_data/x", bob, {}, (403, "M_FORBIDDEN")),
        (f"/user/{ALICE}/account_data/m.fully_read", token, {}, (405, "M_BAD_JSON")),
        (f"/user/{ALICE}/account_data/m.push_rules", token, {}, (405, "M_BAD_JSON")),
        (f"/user/{ALICE}/account_data/x", token, [1], (400, "M_BAD_JSON")),
        (f"/user/{ALICE}/rooms/not-a-room/account_data/x", token, {}, (400, "M_INVALID_PARAM")),
    ):
        status, reply = await hs.request("PUT", path, body, token=token if who == token else bob)
        assert (status, reply["errcode"]) == want, path
    assert list(hs.services.users.account_data.since(ALICE, 0)) == []
    assert hs.services.db.current_count() == start
    status, reply = await hs.request("GET", f"/user/{ALICE}/account_data/x", token=token)
    assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")


async def test_delete_msc3391(hs: Homeserver) -> None:
    token = (await hs.register("alice"))["access_token"]
    await hs.request("PUT", f"/user/{ALICE}/account_data/x", {"a": 1}, token=token)
    status, _ = await hs.request(
        "DELETE",
        f"/_matrix/client/unstable/org.matrix.msc3391/user/{ALICE}/account_data/x",
        token=token,
    )
    assert status == 200
    assert (await hs.request("GET", f"/user/{ALICE}/account_data/x", token=token))[0] == 404


async def test_a_deletion_reaches_incremental_syncs_but_not_initial_ones(hs: Homeserver) -> None:
    """MSC3391 (Complement TestRemovingAccountData): a deleted type comes down an
    incremental /sync with content {}, and an initial /sync leaves it out."""
    token = (await hs.register("alice"))["access_token"]
    status, reply = await hs.request("POST", "/createRoom", {}, token=token)
    assert status == 200, reply
    room = reply["room_id"]
    paths = {
        "global": f"/user/{ALICE}/account_data/org.example.test",
        "room": f"/user/{ALICE}/rooms/{room}/account_data/org.example.test",
    }
    for path in paths.values():
        assert (await hs.request("PUT", path, {"test_data": 1}, token=token))[0] == 200

    async def sync(**params: str) -> dict[str, list[dict[str, object]]]:
        status, reply = await hs.request(
            "GET", "/sync", token=token, params={"timeout": "0", **params}
        )
        assert status == 200, reply
        joined = reply.get("rooms", {}).get("join", {}).get(room, {})
        return {
            "next_batch": reply["next_batch"],
            "global": reply.get("account_data", {}).get("events", []),
            "room": joined.get("account_data", {}).get("events", []),
        }

    since = (await sync())["next_batch"]
    # Deleted one way each: DELETE for the global type, PUT {} for the room's.
    unstable = "/_matrix/client/unstable/org.matrix.msc3391"
    status, _ = await hs.request("DELETE", unstable + paths["global"], token=token)
    assert status == 200
    assert (await hs.request("PUT", paths["room"], {}, token=token))[0] == 200
    incremental = await sync(since=str(since))
    for where in ("global", "room"):
        assert {"type": "org.example.test", "content": {}} in incremental[where], where
    initial = await sync()
    for where in ("global", "room"):
        assert all(e["type"] != "org.example.test" for e in initial[where]), where
