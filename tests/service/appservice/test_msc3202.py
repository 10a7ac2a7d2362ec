"""MSC3202 for encrypting bridges (Synapse's ``org.matrix.msc3202`` registration key
and transaction keys): device-list changes of the users a service is interested in,
and the one-time key counts and unused fallback key types of its users' devices,
reach a real HTTP service on loopback; a service without the key gets none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.kit.appservice import AS_TOKEN, FakeAppservice
from tests.kit.e2ee import FakeDevice
from tests.kit.homeserver import Homeserver
from tests.service.appservice.kit import send, started, until
from tests.service.appservice.test_ephemeral import BOB, setup

LISTS = "org.matrix.msc3202.device_lists"
COUNTS = "org.matrix.msc3202.device_one_time_key_counts"
OLD_COUNTS = "org.matrix.msc3202.device_one_time_keys_count"
FALLBACK = "org.matrix.msc3202.device_unused_fallback_key_types"
OTK = "signed_curve25519"


def changed(appservice: FakeAppservice) -> set[str]:
    return {u for body in appservice.bodies for u in body.get(LISTS, {}).get("changed", [])}


async def upload(
    hs: Homeserver, device: FakeDevice, token: str, otks: int, *, fallback: bool = False
) -> None:
    body: dict[str, Any] = {"device_keys": device.device_keys()}
    if otks:
        body["one_time_keys"] = device.one_time_keys(otks)
    if fallback:
        body["fallback_keys"] = device.one_time_keys(1, fallback=True)
    params = {"user_id": device.user_id, "device_id": device.device_id}
    if token != AS_TOKEN:
        params = {}
    status, reply = await hs.request("POST", "/keys/upload", body, token=token, params=params)
    assert status == 200, reply


async def test_device_lists_and_key_counts_reach_the_service(
    tmp_path: Path, appservice: FakeAppservice
) -> None:
    hs = await started(tmp_path / "db")
    try:
        alice, token, room, bob_device, _ = await setup(
            hs, appservice, "org.matrix.msc3202: true\n"
        )
        carol = await hs.register("carol")  # shares no room with the service's users
        bob = FakeDevice(BOB, bob_device)
        await upload(hs, bob, AS_TOKEN, 2, fallback=True)
        await upload(
            hs, FakeDevice(alice, hs.services.users.devices.device_ids(alice)[0]), token, 0
        )
        await upload(hs, FakeDevice(carol["user_id"], carol["device_id"]), carol["access_token"], 1)
        await until(lambda: changed(appservice) == {BOB, alice}, "device lists")
        message = await send(hs, room, "hello", token)
        await until(lambda: message in appservice.event_ids(), "the message")
        body = next(b for b in appservice.bodies if message in [e["event_id"] for e in b["events"]])
        assert body[COUNTS] == body[OLD_COUNTS] == {BOB: {bob_device: {OTK: 2}}}
        assert body[FALLBACK] == {BOB: {bob_device: [OTK]}}
        assert all(b[LISTS]["left"] == [] for b in appservice.bodies if LISTS in b)
        # A claim of bob's keys shows in the next transaction's counts.
        status, _ = await hs.request(
            "POST", "/keys/claim", {"one_time_keys": {BOB: {bob_device: OTK}}}, token=token
        )
        assert status == 200
        second = await send(hs, room, "again", token)
        await until(lambda: second in appservice.event_ids(), "the second message")
        body = appservice.bodies[-1]
        assert body[COUNTS] == {BOB: {bob_device: {OTK: 1}}}
        assert carol["user_id"] not in changed(appservice)
        assert hs.services.appservice_sender.pending("fake") == 0
    finally:
        await hs.close()


async def test_without_the_key_nothing_of_msc3202(
    tmp_path: Path, appservice: FakeAppservice
) -> None:
    hs = await started(tmp_path / "db")
    try:
        _, token, room, bob_device, _ = await setup(hs, appservice, "receive_ephemeral: true\n")
        await upload(hs, FakeDevice(BOB, bob_device), AS_TOKEN, 2, fallback=True)
        message = await send(hs, room, "hello", token)
        await until(lambda: message in appservice.event_ids(), "the message")
        assert not any(
            key.startswith("org.matrix.msc3202") for body in appservice.bodies for key in body
        )
    finally:
        await hs.close()
