"""The e2ee endpoints in the real homeserver: real tokens, devices and UIA."""

from __future__ import annotations

from tests.kit.e2ee import FakeCrossSigning, FakeDevice
from tests.kit.homeserver import PASSWORD, Homeserver


async def _device(hs: Homeserver, username: str) -> tuple[str, str, FakeDevice]:
    reply = await hs.register(username)
    device = FakeDevice(reply["user_id"], reply["device_id"])
    return reply["user_id"], reply["access_token"], device


async def test_upload_query_claim_and_device_deletion(hs: Homeserver) -> None:
    alice, alice_token, alice_device = await _device(hs, "alice")
    _, bob_token, _ = await _device(hs, "bob")
    body = {
        "device_keys": alice_device.device_keys(),
        "one_time_keys": alice_device.one_time_keys(1),
    }
    status, reply = await hs.request("POST", "/keys/upload", body, token=alice_token)
    assert (status, reply) == (200, {"one_time_key_counts": {"signed_curve25519": 1}})
    status, reply = await hs.request(
        "POST", "/keys/query", {"device_keys": {alice: []}}, token=bob_token
    )
    assert list(reply["device_keys"][alice]) == [alice_device.device_id]
    claim = {"one_time_keys": {alice: {alice_device.device_id: "signed_curve25519"}}}
    status, reply = await hs.request("POST", "/keys/claim", claim, token=bob_token)
    assert status == 200 and reply["one_time_keys"][alice][alice_device.device_id]

    # deleting the device (with UIA) deletes its keys in the same batch
    path = f"/devices/{alice_device.device_id}"
    auth = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": "alice"},
        "password": PASSWORD,
    }
    status, reply = await hs.request("DELETE", path, {"auth": auth}, token=alice_token)
    if status == 401:  # first round: get a session
        auth["session"] = reply["session"]
        status, reply = await hs.request("DELETE", path, {"auth": auth}, token=alice_token)
    assert status == 200, reply
    status, reply = await hs.request(
        "POST", "/keys/query", {"device_keys": {alice: []}}, token=bob_token
    )
    assert reply["device_keys"][alice] == {}


async def test_replacing_cross_signing_keys_needs_the_password(hs: Homeserver) -> None:
    alice, token, _ = await _device(hs, "alice")
    first = FakeCrossSigning(alice)
    status, _ = await hs.request(
        "POST", "/keys/device_signing/upload", first.upload_body(), token=token
    )
    assert status == 200
    second = FakeCrossSigning(alice).upload_body()
    status, reply = await hs.request("POST", "/keys/device_signing/upload", second, token=token)
    assert status == 401 and reply["flows"] == [{"stages": ["m.login.password"]}]
    second["auth"] = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": "alice"},
        "password": PASSWORD,
        "session": reply["session"],
    }
    status, reply = await hs.request("POST", "/keys/device_signing/upload", second, token=token)
    assert status == 200, reply
    status, reply = await hs.request(
        "POST", "/keys/query", {"device_keys": {alice: []}}, token=token
    )
    assert reply["master_keys"][alice] == second["master_key"]


async def test_to_device_and_backup_need_a_token(hs: Homeserver) -> None:
    status, reply = await hs.request("PUT", "/sendToDevice/m.test/1", {"messages": {}})
    assert (status, reply["errcode"]) == (401, "M_MISSING_TOKEN")
    status, reply = await hs.request("GET", "/room_keys/version")
    assert (status, reply["errcode"]) == (401, "M_MISSING_TOKEN")


async def test_versions_declares_cross_signing(hs: Homeserver) -> None:
    status, reply = await hs.request("GET", "/_matrix/client/versions")
    assert status == 200
    assert reply["unstable_features"]["org.matrix.e2e_cross_signing"] is True


async def test_deactivation_drops_keys_and_backups(hs: Homeserver) -> None:
    alice, token, device = await _device(hs, "alice")
    await hs.request("POST", "/keys/upload", {"device_keys": device.device_keys()}, token=token)
    backup = {
        "algorithm": "m.megolm_backup.v1.curve25519-aes-sha2",
        "auth_data": {"public_key": "k"},
    }
    status, _ = await hs.request("POST", "/room_keys/version", backup, token=token)
    assert status == 200
    status, challenge = await hs.request("POST", "/account/deactivate", {}, token=token)
    auth = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": "alice"},
        "password": PASSWORD,
        "session": challenge["session"],
    }
    status, _ = await hs.request("POST", "/account/deactivate", {"auth": auth}, token=token)
    assert status == 200
    e2ee = hs.services.e2ee
    assert e2ee.device_keys.all_for_user(alice) == {}
    assert e2ee.key_backups.latest_version(alice) is None
