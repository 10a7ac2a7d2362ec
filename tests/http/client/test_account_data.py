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
