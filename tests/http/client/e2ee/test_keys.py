"""HTTP: /keys/upload, /keys/query, /keys/claim, /keys/changes, cross-signing."""

from __future__ import annotations

from conduwuit.core.signing import sign_json
from tests.kit.e2ee import FakeCrossSigning, FakeDevice
from tests.service.e2ee.conftest import ALICE, BOB

from .conftest import Api

A1 = f"{ALICE}|A1"
B1 = f"{BOB}|B1"


async def _upload(api: Api, device: FakeDevice, otks: int = 0) -> tuple[int, object]:
    body = {"device_keys": device.device_keys(), "one_time_keys": device.one_time_keys(otks)}
    return await api.call("POST", "/keys/upload", f"{device.user_id}|{device.device_id}", body)


async def test_upload_query_claim(api: Api) -> None:
    api.login(ALICE, "A1", "phone")
    alice = FakeDevice(ALICE, "A1")
    status, body = await _upload(api, alice, 2)
    assert (status, body) == (200, {"one_time_key_counts": {"signed_curve25519": 2}})
    fallback = alice.one_time_keys(1, fallback=True)
    status, body = await api.call(
        "POST", "/keys/upload", A1, {"org.matrix.msc2732.fallback_keys": fallback}
    )
    assert status == 200
    assert api.e2ee.sync.unused_fallback_key_types(ALICE, "A1") == ["signed_curve25519"]

    status, body = await api.call("POST", "/keys/query", B1, {"device_keys": {ALICE: []}})
    assert status == 200
    assert body["device_keys"][ALICE]["A1"]["unsigned"] == {"device_display_name": "phone"}
    assert body["failures"] == {}

    claims = []
    for _ in range(4):
        status, body = await api.call(
            "POST", "/keys/claim", B1, {"one_time_keys": {ALICE: {"A1": "signed_curve25519"}}}
        )
        assert status == 200
        claims.append(next(iter(body["one_time_keys"][ALICE]["A1"])))
    assert len(set(claims[:2])) == 2  # two distinct one-time keys
    assert claims[2] == claims[3] == next(iter(fallback))  # then the fallback key, reused


async def test_upload_with_a_bad_signature_is_refused(api: Api) -> None:
    alice = FakeDevice(ALICE, "A1")
    keys = alice.device_keys()
    keys["keys"]["curve25519:A1"] = "swapped"
    status, body = await api.call(
        "POST", "/keys/upload", A1, {"device_keys": keys, "one_time_keys": alice.one_time_keys(1)}
    )
    assert (status, body["errcode"]) == (400, "M_INVALID_SIGNATURE")
    assert api.e2ee.device_keys.get(ALICE, "A1") is None
    assert api.e2ee.sync.one_time_key_counts(ALICE, "A1") == {"signed_curve25519": 0}
    # keys of another device than the token's
    status, body = await api.call(
        "POST", "/keys/upload", f"{ALICE}|A2", {"device_keys": alice.device_keys()}
    )
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")


async def test_claim_from_a_device_with_no_keys(api: Api) -> None:
    api.login(BOB, "B1")
    status, body = await api.call(
        "POST", "/keys/claim", A1, {"one_time_keys": {BOB: {"B1": "signed_curve25519"}}}
    )
    assert (status, body) == (200, {"one_time_keys": {}, "failures": {}})


async def test_bad_bodies(api: Api) -> None:
    assert (await api.call("POST", "/keys/query", A1, {}))[1]["errcode"] == "M_MISSING_PARAM"
    status, body = await api.call("POST", "/keys/query", A1, {"device_keys": {"nobody": []}})
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = await api.call("POST", "/keys/claim", A1, {"one_time_keys": {ALICE: {"A1": 5}}})
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")
    status, body = await api.call("POST", "/keys/upload", A1, {"one_time_keys": []})
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")
    status, body = await api.call("POST", "/keys/upload", None, {})
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")


async def test_changes(api: Api) -> None:
    await api.join(ALICE, "!r:example.org")
    await api.join(BOB, "!r:example.org")
    since = api.db.current_count()
    await _upload(api, FakeDevice(ALICE, "A1"))
    status, body = await api.call("GET", "/keys/changes", B1, **{"from": str(since)})
    assert (status, body) == (200, {"changed": [ALICE], "left": []})
    status, body = await api.call("GET", "/keys/changes", B1, **{"from": f"s{since}"})
    assert (status, body) == (200, {"changed": [ALICE], "left": []})  # /sync's token form
    now = str(api.db.current_count())
    status, body = await api.call("GET", "/keys/changes", B1, **{"from": now, "to": now})
    assert body == {"changed": [], "left": []}
    status, body = await api.call("GET", "/keys/changes", B1)
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")
    status, body = await api.call("GET", "/keys/changes", B1, **{"from": "garbage"})
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")


async def test_device_signing_upload_and_uia(dummy_uia_api: Api) -> None:
    api = dummy_uia_api
    cs = FakeCrossSigning(ALICE)
    status, _ = await api.call("POST", "/keys/device_signing/upload", A1, cs.upload_body())
    assert status == 200
    # the same keys again: no UIA; new keys: UIA, and nothing changes until it is done
    assert (await api.call("POST", "/keys/device_signing/upload", A1, cs.upload_body()))[0] == 200
    new = FakeCrossSigning(ALICE).upload_body()
    status, body = await api.call("POST", "/keys/device_signing/upload", A1, new)
    assert status == 401 and body["flows"] == [{"stages": ["m.login.dummy"]}]
    assert api.e2ee.cross_signing.keys(ALICE)["master"] == cs.upload_body()["master_key"]
    new["auth"] = {"type": "m.login.dummy", "session": body["session"]}
    status, _ = await api.call("POST", "/keys/device_signing/upload", A1, new)
    assert status == 200
    assert api.e2ee.cross_signing.keys(ALICE)["master"] == new["master_key"]
    # the unstable path Element used works too
    url = "/_matrix/client/unstable/keys/device_signing/upload"
    headers = {"Authorization": f"Bearer {api.token(A1)}"}
    response = await api.client.post(url, json=new, headers=headers)
    assert response.status == 200


async def test_device_signing_upload_errors(api: Api) -> None:
    cs = FakeCrossSigning(ALICE)
    body = cs.upload_body()
    body["user_signing_key"] = cs.key(cs.user_signing, "user_signing")  # unsigned
    status, error = await api.call("POST", "/keys/device_signing/upload", A1, body)
    assert (status, error["errcode"]) == (400, "M_INVALID_SIGNATURE")
    status, error = await api.call(
        "POST", "/keys/device_signing/upload", A1, {"self_signing_key": body["self_signing_key"]}
    )
    assert (status, error["errcode"]) == (400, "M_MISSING_PARAM")
    assert api.e2ee.cross_signing.keys(ALICE) == {}


async def test_signatures_upload(api: Api) -> None:
    cs = FakeCrossSigning(ALICE)
    device = FakeDevice(ALICE, "A1")
    await _upload(api, device)
    await api.call("POST", "/keys/device_signing/upload", A1, cs.upload_body())
    good = sign_json(device.device_keys(), ALICE, cs.self_signing)
    bad = sign_json({**device.device_keys(), "algorithms": ["x"]}, ALICE, cs.self_signing)
    status, body = await api.call("POST", "/keys/signatures/upload", A1, {ALICE: {"A1": good}})
    assert (status, body) == (200, {"failures": {}})
    status, body = await api.call("POST", "/keys/signatures/upload", A1, {ALICE: {"A1": bad}})
    assert status == 200
    assert body["failures"][ALICE]["A1"]["errcode"] == "M_INVALID_SIGNATURE"
    status, body = await api.call("POST", "/keys/signatures/upload", A1, {ALICE: {"A1": "x"}})
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")
    status, body = await api.call("POST", "/keys/query", A1, {"device_keys": {ALICE: ["A1"]}})
    assert cs.self_signing.key_id in body["device_keys"][ALICE]["A1"]["signatures"][ALICE]


async def test_query_with_device_ids_as_an_object_is_bad_json(api: Api) -> None:
    # Complement TestKeysQueryWithDeviceIDAsObjectFails (Element iOS sent this).
    body = {"device_keys": {BOB: {"D1": True}}}
    status, reply = await api.call("POST", "/keys/query", A1, body)
    assert (status, reply["errcode"]) == (400, "M_BAD_JSON")
