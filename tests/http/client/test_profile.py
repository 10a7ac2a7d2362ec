"""Profiles: display name, avatar, custom fields, limits, guests."""

from __future__ import annotations

from typing import Any

from tests.kit.homeserver import Homeserver, StartHomeserver

ALICE = "@alice:test.example"


async def test_default_profile_and_public_reads(hs: Homeserver) -> None:
    await hs.register("alice")
    assert await hs.request("GET", f"/profile/{ALICE}") == (200, {"displayname": "alice"})
    assert await hs.request("GET", f"/profile/{ALICE}/displayname") == (
        200,
        {"displayname": "alice"},
    )
    status, reply = await hs.request("GET", f"/profile/{ALICE}/avatar_url")
    assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")
    status, reply = await hs.request("GET", "/profile/@nobody:test.example")
    assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")


async def test_set_fields(hs: Homeserver) -> None:
    token = (await hs.register("alice"))["access_token"]
    for key, value in (
        ("displayname", "Alice W"),
        ("avatar_url", "mxc://test.example/abc"),
        ("m.tz", "Europe/Paris"),
        ("org.example.pronouns", {"en": ["she", "her"]}),
    ):
        status, _ = await hs.request("PUT", f"/profile/{ALICE}/{key}", {key: value}, token=token)
        assert status == 200, key
        assert await hs.request("GET", f"/profile/{ALICE}/{key}") == (200, {key: value})
    status, _ = await hs.request("DELETE", f"/profile/{ALICE}/m.tz", token=token)
    assert status == 200
    status, profile = await hs.request("GET", f"/profile/{ALICE}")
    assert "m.tz" not in profile and profile["displayname"] == "Alice W"


async def test_refusals_change_nothing(hs: Homeserver) -> None:
    token = (await hs.register("alice"))["access_token"]
    bob = (await hs.register("bob"))["access_token"]
    cases = [
        ("/profile/@alice:test.example/displayname", {"displayname": "x"}, bob, 403, "M_FORBIDDEN"),
        ("/profile/@alice:test.example/displayname", {"other": "x"}, token, 400, "M_MISSING_PARAM"),
        ("/profile/@alice:test.example/displayname", {"displayname": 5}, token, 400, "M_BAD_JSON"),
        ("/profile/@alice:test.example/Bad-Key", {"Bad-Key": 1}, token, 400, "M_INVALID_PARAM"),
        (
            "/profile/@alice:test.example/avatar_url",
            {"avatar_url": "mxc://a/" + "b" * 1000},
            token,
            400,
            "M_INVALID_PARAM",
        ),
        (
            "/profile/@alice:test.example/org.example.big",
            {"org.example.big": "x" * 70_000},
            token,
            400,
            "M_PROFILE_TOO_LARGE",
        ),
        (f"/profile/{ALICE}/a." + "b" * 300, {"a." + "b" * 300: 1}, token, 400, "M_KEY_TOO_LARGE"),
    ]
    for path, body, who, want_status, errcode in cases:
        status, reply = await hs.request("PUT", path, body, token=who)
        assert (status, reply["errcode"]) == (want_status, errcode), path
    assert hs.services.users.profiles.get(ALICE) == {"displayname": "alice"}
    status, _ = await hs.request("PUT", f"/profile/{ALICE}/displayname", {"displayname": "x"})
    assert status == 401


async def test_avatar_url_is_any_string(hs: Homeserver) -> None:
    """As Synapse (Complement TestAvatarUrlUpdate sets "LemurLover")."""
    token = (await hs.register("alice"))["access_token"]
    path = f"/profile/{ALICE}/avatar_url"
    assert (await hs.request("PUT", path, {"avatar_url": "LemurLover"}, token=token))[0] == 200
    assert await hs.request("GET", path) == (200, {"avatar_url": "LemurLover"})


async def test_null_clears_displayname(hs: Homeserver) -> None:
    token = (await hs.register("alice"))["access_token"]
    status, _ = await hs.request(
        "PUT", f"/profile/{ALICE}/displayname", {"displayname": None}, token=token
    )
    assert status == 200
    assert hs.services.users.profiles.get(ALICE) == {}


async def test_guests_may_change_only_displayname(start: StartHomeserver) -> None:
    hs = await start(allow_guest_registration=True)
    _, guest = await hs.request("POST", "/register", {}, params={"kind": "guest"})
    user, token = guest["user_id"], guest["access_token"]
    status, _ = await hs.request(
        "PUT", f"/profile/{user}/displayname", {"displayname": "G"}, token=token
    )
    assert status == 200
    status, reply = await hs.request(
        "PUT", f"/profile/{user}/avatar_url", {"avatar_url": "mxc://a/b"}, token=token
    )
    assert (status, reply["errcode"]) == (403, "M_GUEST_ACCESS_FORBIDDEN")
    assert hs.services.users.profiles.get(user) == {"displayname": "G"}
    assert await hs.request("GET", f"/profile/{user}", token=token) == (200, {"displayname": "G"})
    assert (await hs.request("GET", "/capabilities", token=token))[0] == 200
    status, reply = await hs.request("GET", f"/user/{user}/account_data/x", token=token)
    assert (status, reply["errcode"]) == (403, "M_GUEST_ACCESS_FORBIDDEN")


async def test_auth_required_for_profiles(start: StartHomeserver) -> None:
    hs = await start(require_auth_for_profile_requests=True)
    token = (await hs.register("alice"))["access_token"]
    status, reply = await hs.request("GET", f"/profile/{ALICE}")
    assert (status, reply["errcode"]) == (401, "M_MISSING_TOKEN")
    assert (await hs.request("GET", f"/profile/{ALICE}", token=token))[0] == 200


async def test_listener_hook(hs: Homeserver) -> None:
    seen: list[tuple[str, object, object]] = []

    async def listener(user_id: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        seen.append((user_id, old, new))

    hs.services.users.profiles.add_listener(listener)
    token = (await hs.register("alice"))["access_token"]
    await hs.request("PUT", f"/profile/{ALICE}/displayname", {"displayname": "A"}, token=token)
    assert seen == [(ALICE, {"displayname": "alice"}, {"displayname": "A"})]
