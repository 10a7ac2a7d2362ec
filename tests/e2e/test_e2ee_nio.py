"""A real encrypted conversation: matrix-nio clients with E2EE on a real server process.

Alice and Bob share an encrypted room, trust each other's devices, exchange
messages and each decrypts the other's; then Bob logs in a second device, which
gets the room key over to-device (Olm) and decrypts what Alice sends next.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinResponse,
    LoginResponse,
    MegolmEvent,
    RegisterResponse,
    RoomCreateResponse,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
)

from tests.kit.server import ServerProcess

pytest.importorskip("vodozemac")

ENCRYPTION = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}


@pytest.fixture
def server(open_server: ServerProcess) -> ServerProcess:
    return open_server


def _client(server: ServerProcess, tmp_path: Path, name: str, device: str) -> AsyncClient:
    store = tmp_path / f"store-{name}-{device}"
    store.mkdir()
    config = AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False)
    return AsyncClient(
        server.base_url, name, device_id=device, store_path=str(store), config=config
    )


async def _sync(client: AsyncClient) -> SyncResponse:
    reply = await client.sync(timeout=200, full_state=client.next_batch is None)
    assert isinstance(reply, SyncResponse), reply
    if client.should_upload_keys:
        await client.keys_upload()
    if client.should_query_keys:
        await client.keys_query()
    if client.should_claim_keys:
        await client.keys_claim(client.get_users_for_key_claiming())
    await client.send_to_device_messages()
    return reply


async def _sync_until(client: AsyncClient, done: Callable[[], bool], tries: int = 30) -> None:
    for _ in range(tries):
        await _sync(client)
        if done():
            return
    raise AssertionError(
        f"{client.user_id}/{client.device_id}: condition not met after {tries} syncs"
    )


def _trust_all(client: AsyncClient, user_ids: list[str]) -> None:
    for user_id in user_ids:
        for device in client.device_store.active_user_devices(user_id):
            if device.device_id != client.device_id or user_id != client.user_id:
                client.verify_device(device)


def _texts(client: AsyncClient, room_id: str, seen: list[str]) -> Callable[[], bool]:
    """Collect decrypted message bodies in ``seen``; fail on undecryptable events."""

    def on_text(room: object, event: RoomMessageText) -> None:
        if getattr(room, "room_id", None) == room_id:
            # nio marks events it decrypted from m.room.encrypted; plaintext would fail.
            assert event.decrypted, event
            seen.append(event.body)

    def undecryptable(room: object, event: MegolmEvent) -> None:
        raise AssertionError(f"{client.device_id} could not decrypt {event.event_id}")

    client.add_event_callback(on_text, RoomMessageText)  # type: ignore[arg-type]
    client.add_event_callback(undecryptable, MegolmEvent)  # type: ignore[arg-type]
    return lambda: bool(seen)


async def test_encrypted_conversation_and_a_new_device(
    server: ServerProcess, tmp_path: Path
) -> None:
    alice = _client(server, tmp_path, "alice", "ALICEPHONE")
    bob = _client(server, tmp_path, "bob", "BOBPHONE")
    bob2: AsyncClient | None = None
    try:
        for client, name in ((alice, "alice"), (bob, "bob")):
            reply = await client.register(name, f"{name} password!", client.device_id)
            assert isinstance(reply, RegisterResponse), reply
            await _sync(client)  # uploads device keys and one-time keys
        alice_id, bob_id = alice.user_id, bob.user_id

        created = await alice.room_create(initial_state=[ENCRYPTION], invite=[bob_id])
        assert isinstance(created, RoomCreateResponse), created
        room_id = created.room_id
        joined = await bob.join(room_id)
        assert isinstance(joined, JoinResponse), joined
        await _sync_until(alice, lambda: bob_id in alice.rooms[room_id].users)
        await _sync_until(bob, lambda: room_id in bob.rooms and bob.rooms[room_id].encrypted)
        assert alice.rooms[room_id].encrypted

        # Each trusts the other's devices, as far as the library allows in a test.
        await _sync_until(alice, lambda: bool(alice.device_store.active_user_devices(bob_id)))
        await _sync_until(bob, lambda: bool(bob.device_store.active_user_devices(alice_id)))
        _trust_all(alice, [bob_id])
        _trust_all(bob, [alice_id])

        bob_saw: list[str] = []
        bob_got_text = _texts(bob, room_id, bob_saw)
        sent = await alice.room_send(
            room_id, "m.room.message", {"msgtype": "m.text", "body": "hello bob, secretly"}
        )
        assert isinstance(sent, RoomSendResponse), sent
        await _sync_until(bob, bob_got_text)
        assert bob_saw == ["hello bob, secretly"]
        # The room key came over an Olm session: keys claimed and to-device delivered.
        assert bob.olm is not None and alice.olm is not None
        assert bob.olm.session_store.get(alice.olm.account.identity_keys["curve25519"])

        alice_saw: list[str] = []
        alice_got_text = _texts(alice, room_id, alice_saw)
        sent = await bob.room_send(
            room_id, "m.room.message", {"msgtype": "m.text", "body": "hi alice, also secretly"}
        )
        assert isinstance(sent, RoomSendResponse), sent
        await _sync_until(alice, lambda: "hi alice, also secretly" in alice_saw)
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
        bob2 = _client(server, tmp_path, "bob", "BOBLAPTOP")
        login = await bob2.login("bob password!", device_name="laptop")
        assert isinstance(login, LoginResponse), login
        await _sync(bob2)
        await _sync_until(
            alice,
            lambda: (
                "BOBLAPTOP" in {d.device_id for d in alice.device_store.active_user_devices(bob_id)}
            ),
        )
        _trust_all(alice, [bob_id])
        _trust_all(bob2, [alice_id])
        laptop_saw: list[str] = []
        laptop_got_text = _texts(bob2, room_id, laptop_saw)
        sent = await alice.room_send(
            room_id, "m.room.message", {"msgtype": "m.text", "body": "welcome, laptop"}
        )
        assert isinstance(sent, RoomSendResponse), sent
        await _sync_until(bob2, lambda: "welcome, laptop" in laptop_saw)
        assert laptop_got_text()
    finally:
        for client in (alice, bob, bob2):
            if client is not None:
                await client.close()
