"""A real encrypted conversation: matrix-nio clients with E2EE on a real server process.

Alice and Bob share an encrypted room, trust each other's devices, exchange
messages and each decrypts the other's; then Bob logs in a second device, which
gets the room key over to-device (Olm) and decrypts what Alice sends next.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from nio import (
    AsyncClient,
    JoinResponse,
    LoginResponse,
    RegisterResponse,
    RoomCreateResponse,
    RoomSendResponse,
)

from tests.kit.nio_e2ee import (
    ENCRYPTION,
    decrypted_texts,
    nio_client,
    nio_sync,
    sync_until,
    trust_all,
)
from tests.kit.server import ServerProcess

pytest.importorskip("vodozemac")


@pytest.fixture
def server(open_server: ServerProcess) -> ServerProcess:
    return open_server


async def test_encrypted_conversation_and_a_new_device(
    server: ServerProcess, tmp_path: Path
) -> None:
    alice = nio_client(server, tmp_path, "alice", "ALICEPHONE")
    bob = nio_client(server, tmp_path, "bob", "BOBPHONE")
    bob2: AsyncClient | None = None
    try:
        for client, name in ((alice, "alice"), (bob, "bob")):
            reply = await client.register(name, f"{name} password!", client.device_id)
            assert isinstance(reply, RegisterResponse), reply
            await nio_sync(client)  # uploads device keys and one-time keys
        alice_id, bob_id = alice.user_id, bob.user_id

        created = await alice.room_create(initial_state=[ENCRYPTION], invite=[bob_id])
        assert isinstance(created, RoomCreateResponse), created
        room_id = created.room_id
        joined = await bob.join(room_id)
        assert isinstance(joined, JoinResponse), joined
        await sync_until(alice, lambda: bob_id in alice.rooms[room_id].users)
        await sync_until(bob, lambda: room_id in bob.rooms and bob.rooms[room_id].encrypted)
        assert alice.rooms[room_id].encrypted

        # Each trusts the other's devices, as far as the library allows in a test.
        await sync_until(alice, lambda: bool(alice.device_store.active_user_devices(bob_id)))
        await sync_until(bob, lambda: bool(bob.device_store.active_user_devices(alice_id)))
        trust_all(alice, [bob_id])
        trust_all(bob, [alice_id])

        bob_saw: list[str] = []
        bob_got_text = decrypted_texts(bob, room_id, bob_saw)
        sent = await alice.room_send(
            room_id, "m.room.message", {"msgtype": "m.text", "body": "hello bob, secretly"}
        )
        assert isinstance(sent, RoomSendResponse), sent
        await sync_until(bob, bob_got_text)
        assert bob_saw == ["hello bob, secretly"]
        # The room key came over an Olm session: keys claimed and to-device delivered.
        assert bob.olm is not None and alice.olm is not None
        assert bob.olm.session_store.get(alice.olm.account.identity_keys["curve25519"])

        alice_saw: list[str] = []
        alice_got_text = decrypted_texts(alice, room_id, alice_saw)
        sent = await bob.room_send(
            room_id, "m.room.message", {"msgtype": "m.text", "body": "hi alice, also secretly"}
        )
        assert isinstance(sent, RoomSendResponse), sent
        await sync_until(alice, lambda: "hi alice, also secretly" in alice_saw)
        assert alice_got_text()

        # The server only ever saw ciphertext.
        status, reply = server.get_json(
            f"/_matrix/client/v3/rooms/{room_id}/messages?dir=b&limit=20&access_token={alice.access_token}"
        )
        assert status == 200, reply
        types = {e["type"] for e in reply["chunk"] if e.get("sender") in (alice_id, bob_id)}
        assert "m.room.message" not in types and "m.room.encrypted" in types

        # Bob's second device: its keys reach Alice through device-list tracking,
        # and it gets the room key by to-device when Alice next sends.
        bob2 = nio_client(server, tmp_path, "bob", "BOBLAPTOP")
        login = await bob2.login("bob password!", device_name="laptop")
        assert isinstance(login, LoginResponse), login
        await nio_sync(bob2)
        await sync_until(
            alice,
            lambda: (
                "BOBLAPTOP" in {d.device_id for d in alice.device_store.active_user_devices(bob_id)}
            ),
        )
        trust_all(alice, [bob_id])
        trust_all(bob2, [alice_id])
        laptop_saw: list[str] = []
        laptop_got_text = decrypted_texts(bob2, room_id, laptop_saw)
        sent = await alice.room_send(
            room_id, "m.room.message", {"msgtype": "m.text", "body": "welcome, laptop"}
        )
        assert isinstance(sent, RoomSendResponse), sent
        await sync_until(bob2, lambda: "welcome, laptop" in laptop_saw)
        assert laptop_got_text()
    finally:
        for client in (alice, bob, bob2):
            if client is not None:
                await client.close()
