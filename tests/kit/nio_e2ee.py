"""matrix-nio clients with end-to-end encryption, for tests with real E2EE clients.

``nio_client`` makes one with its own store; ``nio_sync`` is one sync followed by
what a client does with keys after a sync (upload, query, claim, to-device);
``sync_until`` repeats it until a condition holds; ``trust_all`` verifies the
devices of users (as far as the library allows in a test); ``decrypted_texts``
collects the bodies a client decrypts and fails on any it cannot decrypt;
``encrypted_pair`` sets up Alice and Bob, each on their own server (ours or
Synapse), in an encrypted room, knowing and trusting each other's devices.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from pathlib import Path

from nio import (
    AsyncClient,
    AsyncClientConfig,
    LoginResponse,
    MegolmEvent,
    RegisterResponse,
    RoomCreateResponse,
    RoomMessageText,
    SyncResponse,
)

from tests.kit.federation import HasBaseUrl, call
from tests.kit.synapse_peer import SynapsePeer

ENCRYPTION = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}


def nio_client(server: HasBaseUrl, tmp_path: Path, name: str, device: str) -> AsyncClient:
    store = tmp_path / f"store-{name}-{device}"
    store.mkdir()
    config = AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False)
    return AsyncClient(
        server.base_url, name, device_id=device, store_path=str(store), config=config
    )


async def nio_sync(client: AsyncClient) -> SyncResponse:
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


async def sync_until(client: AsyncClient, done: Callable[[], bool], tries: int = 30) -> None:
    for _ in range(tries):
        await nio_sync(client)
        if done():
            return
    raise AssertionError(
        f"{client.user_id}/{client.device_id}: condition not met after {tries} syncs"
    )


def trust_all(client: AsyncClient, user_ids: list[str]) -> None:
    for user_id in user_ids:
        for device in client.device_store.active_user_devices(user_id):
            if device.device_id != client.device_id or user_id != client.user_id:
                client.verify_device(device)


def decrypted_texts(client: AsyncClient, room_id: str, seen: list[str]) -> Callable[[], bool]:
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


def device_ids(client: AsyncClient, user_id: str) -> set[str]:
    return {d.device_id for d in client.device_store.active_user_devices(user_id)}


async def nio_account(client: AsyncClient, server: HasBaseUrl, name: str) -> None:
    """Register ``name`` (on Synapse through its shared-secret API, then log in) and
    upload the device's keys."""
    password = f"{name} password!"
    if isinstance(server, SynapsePeer):
        server.register(name, password)
        reply: object = await client.login(password, device_name=client.device_id)
        assert isinstance(reply, LoginResponse), reply
    else:
        reply = await client.register(name, password, client.device_id)
        assert isinstance(reply, RegisterResponse), reply
    await nio_sync(client)


async def encrypted_pair(
    a: HasBaseUrl, b: HasBaseUrl, tmp_path: Path
) -> tuple[AsyncClient, AsyncClient, str]:
    """(alice on ``a``, bob on ``b``, room ID): an encrypted room Alice made and Bob
    joined over federation; each client knows and trusts the other's device (its
    keys fetched through its own server's /keys/query). The caller closes both."""
    alice = nio_client(a, tmp_path, "alice", "ALICEPHONE")
    bob = nio_client(b, tmp_path, "bob", "BOBPHONE")
    try:
        await nio_account(alice, a, "alice")
        await nio_account(bob, b, "bob")
        alice_id, bob_id = alice.user_id, bob.user_id
        created = await alice.room_create(initial_state=[ENCRYPTION], invite=[bob_id])
        assert isinstance(created, RoomCreateResponse), created
        room_id = created.room_id
        await sync_until(bob, lambda: room_id in bob.invited_rooms)
        via = alice_id.split(":", 1)[1]
        path = f"/_matrix/client/v3/join/{urllib.parse.quote(room_id)}?server_name={via}"
        status, answer = call(b, "POST", path, {}, token=bob.access_token)
        assert status == 200, answer
        await sync_until(alice, lambda: bob_id in alice.rooms[room_id].users)
        await sync_until(bob, lambda: room_id in bob.rooms and bob.rooms[room_id].encrypted)
        await sync_until(alice, lambda: bob.device_id in device_ids(alice, bob_id))
        await sync_until(bob, lambda: alice.device_id in device_ids(bob, alice_id))
        trust_all(alice, [bob_id])
        trust_all(bob, [alice_id])
    except BaseException:
        await alice.close()
        await bob.close()
        raise
    return alice, bob, room_id
