"""MSC3757 owned state in its unstable room versions (Element Call's per-device
call membership): a user's own suffixed keys, more power for others' keys, 400
M_BAD_JSON for keys that are no user ID; stable versions unchanged."""

from __future__ import annotations

from urllib.parse import quote

from tests.kit.homeserver import Homeserver

from .conftest import Users

STATE = "org.example.state"


async def test_owned_state_room(hs: Homeserver, users: Users) -> None:
    creator, alice = await users.add("creator"), await users.add("alice")
    body = {
        "room_version": "org.matrix.msc3757.10",
        "preset": "public_chat",
        "power_level_content_override": {"events": {STATE: 0}},
    }
    room = (await users.ok(creator, "POST", "/createRoom", body))["room_id"]
    await users.ok(alice, "POST", f"/rooms/{room}/join", {})

    async def put(user: str, key: str) -> tuple[int, str | None]:
        path = f"/rooms/{room}/state/{STATE}/{quote(key)}"
        status, reply = await users.call(user, "PUT", path, {})
        return status, reply.get("errcode")

    assert await put(alice, f"{alice}_DEVICE") == (200, None)
    assert await put(creator, f"{alice}_DEVICE") == (200, None)
    assert await put(creator, alice) == (200, None)
    assert await put(alice, creator) == (403, "M_FORBIDDEN")
    assert await put(alice, f"{creator}_DEVICE") == (403, "M_FORBIDDEN")
    assert await put(creator, "@oops") == (400, "M_BAD_JSON")
    # Nothing of the refused ones was written.
    status, _ = await users.call(alice, "GET", f"/rooms/{room}/state/{STATE}/{quote(creator)}")
    assert status == 404
    capabilities = await users.ok(alice, "GET", "/capabilities")
    available = capabilities["capabilities"]["m.room_versions"]["available"]
    assert available["org.matrix.msc3757.10"] == "unstable"
    assert available["org.matrix.msc3757.11"] == "unstable"


async def test_stable_rooms_keep_keys_to_their_owner(hs: Homeserver, users: Users) -> None:
    creator, alice = await users.add("creator"), await users.add("alice")
    body = {"preset": "public_chat", "power_level_content_override": {"events": {STATE: 0}}}
    room = (await users.ok(creator, "POST", "/createRoom", body))["room_id"]
    await users.ok(alice, "POST", f"/rooms/{room}/join", {})
    path = f"/rooms/{room}/state/{STATE}/{quote(alice + '_DEVICE')}"
    status, reply = await users.call(creator, "PUT", path, {})
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
