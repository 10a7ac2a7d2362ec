"""matrix-nio clients with end-to-end encryption, for tests with real E2EE clients.

``nio_client`` makes one with its own store; ``nio_sync`` is one sync followed by
what a client does with keys after a sync (upload, query, claim, to-device);
``sync_until`` repeats it until a condition holds; ``trust_all`` verifies the
devices of users (as far as the library allows in a test); ``decrypted_texts``
collects the bodies a client decrypts and fails on any it cannot decrypt.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from nio import (
    AsyncClient,
    AsyncClientConfig,
    MegolmEvent,
    RoomMessageText,
    SyncResponse,
)

from tests.kit.federation import HasBaseUrl

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
