"""Server notices as Synapse sends them: POST/PUT /_synapse/admin/v1/send_server_notice,
for server admins; each user's notices room (created by the notices user, tagged
m.server_notice, the user invited, the invite not rejectable, re-used after a leave)."""

from __future__ import annotations

from typing import Any

from tests.http.client.test_devices import password_auth
from tests.kit.homeserver import Homeserver, StartHomeserver

PATH = "/_synapse/admin/v1/send_server_notice"
NOTICES_USER = "@_server:test.example"
MESSAGE = {"msgtype": "m.text", "body": "hello from server notices!"}


async def notices_server(start: StartHomeserver, **options: Any) -> Homeserver:
    return await start(
        server_notices_mxid_localpart="_server",
        server_notices_mxid_display_name="Server Notices",
        **options,
    )


async def send(hs: Homeserver, token: str, body: dict[str, Any], txn: str | None = None) -> str:
    method, path = ("POST", PATH) if txn is None else ("PUT", f"{PATH}/{txn}")
    status, reply = await hs.request(method, path, body, token=token)
    assert status == 200, reply
    event_id: str = reply["event_id"]
    return event_id


def invites(hs: Homeserver, user_id: str) -> list[str]:
    index = hs.services.rooms.storage.member_index
    return [r.room_id for r in index.rooms_of(user_id, ("invite",))]


def membership(hs: Homeserver, user_id: str, room_id: str) -> str | None:
    return hs.services.rooms.storage.member_index.membership(user_id, room_id)


async def test_notice_room_lifecycle(start: StartHomeserver) -> None:
    hs = await notices_server(start)
    admin = await hs.register("admin")  # the first account is an admin
    alice = await hs.register("alice")
    token = alice["access_token"]
    body = {"user_id": alice["user_id"], "content": MESSAGE}

    event_id = await send(hs, admin["access_token"], body)
    (room_id,) = invites(hs, alice["user_id"])
    # The invite (and every stripped state event) comes from the notices user.
    status, reply = await hs.request("GET", "/sync", token=token)
    assert status == 200, reply
    stripped = reply["rooms"]["invite"][room_id]["invite_state"]["events"]
    assert stripped and {e["sender"] for e in stripped} == {NOTICES_USER}
    names = [e["content"].get("name") for e in stripped if e["type"] == "m.room.name"]
    assert names == ["Server Notices"]
    # Tagged for the recipient, as Synapse does.
    status, reply = await hs.request(
        "GET", f"/user/{alice['user_id']}/rooms/{room_id}/tags", token=token
    )
    assert (status, reply) == (200, {"tags": {"m.server_notice": {}}})

    # A second notice while the invite is pending goes to the same room.
    await send(hs, admin["access_token"], body)
    assert invites(hs, alice["user_id"]) == [room_id]

    # The invite cannot be rejected, by /leave or by the state API.
    status, reply = await hs.request("POST", f"/rooms/{room_id}/leave", {}, token=token)
    assert (status, reply["errcode"]) == (403, "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM")
    status, reply = await hs.request(
        "PUT",
        f"/rooms/{room_id}/state/m.room.member/{alice['user_id']}",
        {"membership": "leave"},
        token=token,
    )
    assert (status, reply["errcode"]) == (403, "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM")
    assert membership(hs, alice["user_id"], room_id) == "invite"

    # Joined, the user sees the notice (sent by the notices user) and may leave.
    status, reply = await hs.request("POST", f"/join/{room_id}", {}, token=token)
    assert status == 200, reply
    status, event = await hs.request("GET", f"/rooms/{room_id}/event/{event_id}", token=token)
    assert status == 200, event
    assert (event["sender"], event["type"], event["content"]) == (
        NOTICES_USER,
        "m.room.message",
        MESSAGE,
    )
    status, reply = await hs.request("GET", "/sync", token=token)
    assert status == 200, reply
    timeline = reply["rooms"]["join"][room_id]["timeline"]["events"]
    assert event_id in [e["event_id"] for e in timeline]
    # Members are below the default message level: only the notices user speaks.
    status, reply = await hs.request(
        "PUT", f"/rooms/{room_id}/send/m.room.message/t1", MESSAGE, token=token
    )
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    status, reply = await hs.request("POST", f"/rooms/{room_id}/leave", {}, token=token)
    assert status == 200, reply
    assert membership(hs, alice["user_id"], room_id) == "leave"

    # After leaving, the next notice re-invites the user to the same room.
    await send(hs, admin["access_token"], body)
    assert invites(hs, alice["user_id"]) == [room_id]
    status, reply = await hs.request(
        "GET", f"/user/{alice['user_id']}/rooms/{room_id}/tags", token=token
    )
    assert reply == {"tags": {"m.server_notice": {}}}


async def test_transaction_is_idempotent_per_device(start: StartHomeserver) -> None:
    hs = await notices_server(start)
    admin = await hs.register("admin")
    alice = await hs.register("alice")
    body = {"user_id": alice["user_id"], "content": MESSAGE}
    first = await send(hs, admin["access_token"], body, txn="1")
    assert await send(hs, admin["access_token"], body, txn="1") == first
    # Another txnId, or the same one from another device, is another notice.
    assert await send(hs, admin["access_token"], body, txn="2") != first
    other_device = await hs.login("admin")
    assert await send(hs, other_device["access_token"], body, txn="1") != first


async def test_state_event_notice(start: StartHomeserver) -> None:
    """Synapse lets the admin choose the type and a state key."""
    hs = await notices_server(start)
    admin = await hs.register("admin")
    alice = await hs.register("alice")
    body = {
        "user_id": alice["user_id"],
        "type": "m.room.topic",
        "state_key": "",
        "content": {"topic": "Read me"},
    }
    event_id = await send(hs, admin["access_token"], body)
    (room_id,) = invites(hs, alice["user_id"])
    state = hs.services.rooms.storage.state
    topic = state.pdu_at(state.current_hash(room_id), "m.room.topic", "")
    assert topic is not None and topic["event_id"] == event_id


async def test_refusals_change_nothing(start: StartHomeserver) -> None:
    hs = await notices_server(start)
    admin = await hs.register("admin")
    alice = await hs.register("alice")
    good = {"user_id": alice["user_id"], "content": MESSAGE}
    refusals = [
        # Not an admin: 403 before the body is read (Complement sends none).
        (alice["access_token"], None, 403, "M_FORBIDDEN"),
        (alice["access_token"], good, 403, "M_FORBIDDEN"),
        (admin["access_token"], {"content": MESSAGE}, 400, "M_MISSING_PARAM"),
        (admin["access_token"], {"user_id": alice["user_id"]}, 400, "M_MISSING_PARAM"),
        (admin["access_token"], {**good, "content": "hi"}, 400, "M_BAD_JSON"),
        (admin["access_token"], {**good, "content": {"x": 1.5}}, 400, "M_BAD_JSON"),
        (admin["access_token"], {**good, "user_id": "not-a-user"}, 400, "M_INVALID_PARAM"),
        (
            admin["access_token"],
            {**good, "user_id": "@a:elsewhere.example"},
            400,
            "M_INVALID_PARAM",
        ),
        (admin["access_token"], {**good, "user_id": NOTICES_USER}, 400, "M_INVALID_PARAM"),
        (admin["access_token"], {**good, "user_id": "@nobody:test.example"}, 404, "M_NOT_FOUND"),
        (
            admin["access_token"],
            {**good, "type": "m.room.member", "state_key": alice["user_id"]},
            400,
            "M_INVALID_PARAM",
        ),
        (None, good, 401, "M_MISSING_TOKEN"),
    ]
    for token, body, status, errcode in refusals:
        got, reply = await hs.request("POST", PATH, body, token=token)
        assert (got, reply.get("errcode")) == (status, errcode), body
    # Nothing was made: no notices user, no room, no invite.
    assert not invites(hs, alice["user_id"])
    assert not hs.services.users.accounts.exists(NOTICES_USER)


async def test_notices_off_answer_400(start: StartHomeserver) -> None:
    hs = await start()
    admin = await hs.register("admin")
    alice = await hs.register("alice")
    body = {"user_id": alice["user_id"], "content": MESSAGE}
    status, reply = await hs.request("POST", PATH, body, token=admin["access_token"])
    assert (status, reply["errcode"]) == (400, "M_UNKNOWN")
    assert not invites(hs, alice["user_id"])


async def test_notices_user_cannot_log_in_or_be_registered(start: StartHomeserver) -> None:
    hs = await notices_server(start)
    admin = await hs.register("admin")
    alice = await hs.register("alice")
    await send(hs, admin["access_token"], {"user_id": alice["user_id"], "content": MESSAGE})
    accounts = hs.services.users.accounts
    assert accounts.exists(NOTICES_USER) and not accounts.is_admin(NOTICES_USER)
    status, reply = await hs.request(
        "POST",
        "/login",
        {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": "_server"},
            "password": "x",
        },
    )
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    status, reply = await hs.request(
        "POST",
        "/register",
        {"username": "_server", "password": "pw", "auth": {"type": "m.login.dummy"}},
    )
    assert (status, reply["errcode"]) == (400, "M_USER_IN_USE")
    profile = hs.services.users.profiles.get(NOTICES_USER)
    assert profile == {"displayname": "Server Notices"}


async def test_deactivation_leaves_a_pending_notices_invite(start: StartHomeserver) -> None:
    """The leave guard refuses the user, not the server: deactivation still leaves."""
    hs = await notices_server(start)
    admin = await hs.register("admin")
    alice = await hs.register("alice")
    await send(hs, admin["access_token"], {"user_id": alice["user_id"], "content": MESSAGE})
    (room_id,) = invites(hs, alice["user_id"])
    deactivate = "/account/deactivate"
    status, challenge = await hs.request("POST", deactivate, {}, token=alice["access_token"])
    assert status == 401
    status, reply = await hs.request(
        "POST",
        deactivate,
        {"auth": password_auth("alice", challenge["session"])},
        token=alice["access_token"],
    )
    assert status == 200, reply
    assert membership(hs, alice["user_id"], room_id) == "leave"
