"""Cross-signing key upload (and when it needs UIA) and signature upload."""

from __future__ import annotations

import copy

import pytest

from conduwuit.core.errors import MatrixError
from conduwuit.core.signing import sign_json
from tests.kit.e2ee import FakeCrossSigning, FakeDevice

from .conftest import ALICE, BOB, Kit

ROOM = "!room:example.org"


@pytest.fixture
def alice(kit: Kit) -> FakeCrossSigning:
    cs = FakeCrossSigning(ALICE)
    device = FakeDevice(ALICE, "A1")
    kit.login(ALICE, "A1")
    kit.e2ee.device_keys.upload(ALICE, "A1", device_keys=device.device_keys())
    kit.alice_device = device  # type: ignore[attr-defined]
    return cs


async def test_first_upload_needs_no_uia_and_is_stored(kit: Kit, alice: FakeCrossSigning) -> None:
    body = alice.upload_body()
    assert not kit.e2ee.cross_signing.requires_uia(ALICE, body)
    await kit.join(ALICE, ROOM)
    await kit.join(BOB, ROOM)
    since = kit.db.current_count()
    kit.e2ee.cross_signing.upload(ALICE, body)
    assert kit.e2ee.cross_signing.keys(ALICE) == {
        "master": body["master_key"],
        "self_signing": body["self_signing_key"],
        "user_signing": body["user_signing_key"],
    }
    assert kit.e2ee.sync.device_list_changes(BOB, since).changed == [ALICE]
    # the same keys again: idempotent without UIA; new keys need UIA
    assert not kit.e2ee.cross_signing.requires_uia(ALICE, body)
    assert kit.e2ee.cross_signing.requires_uia(ALICE, FakeCrossSigning(ALICE).upload_body())
    assert not kit.e2ee.cross_signing.requires_uia(ALICE, {"master_key": body["master_key"]})


def test_query_shows_user_signing_key_only_to_its_owner(kit: Kit, alice: FakeCrossSigning) -> None:
    kit.e2ee.cross_signing.upload(ALICE, alice.upload_body())
    own = kit.e2ee.query(ALICE, {ALICE: []})
    other = kit.e2ee.query(BOB, {ALICE: []})
    assert ALICE in own["user_signing_keys"] and ALICE not in other["user_signing_keys"]
    assert ALICE in other["master_keys"] and ALICE in other["self_signing_keys"]


def test_bad_cross_signing_uploads_change_nothing(kit: Kit, alice: FakeCrossSigning) -> None:
    with pytest.raises(MatrixError) as info:
        kit.e2ee.cross_signing.upload(
            ALICE, {"self_signing_key": alice.upload_body()["self_signing_key"]}
        )
    assert info.value.errcode == "M_MISSING_PARAM"
    body = alice.upload_body()
    body["self_signing_key"] = alice.key(alice.self_signing, "self_signing", alice.user_signing)
    with pytest.raises(MatrixError) as info:
        kit.e2ee.cross_signing.upload(ALICE, body)
    assert (info.value.status, info.value.errcode) == (400, "M_INVALID_SIGNATURE")
    body = alice.upload_body()
    body["master_key"]["usage"] = ["self_signing"]
    with pytest.raises(MatrixError) as info:
        kit.e2ee.cross_signing.upload(ALICE, body)
    assert info.value.errcode == "M_INVALID_PARAM"
    assert kit.e2ee.cross_signing.keys(ALICE) == {}


def test_key_id_equal_to_a_device_id_is_forbidden(kit: Kit, alice: FakeCrossSigning) -> None:
    kit.login(ALICE, alice.public(alice.master))
    with pytest.raises(MatrixError) as info:
        kit.e2ee.cross_signing.upload(ALICE, alice.upload_body())
    assert info.value.status == 403


def test_self_signing_a_device_and_device_signing_master(kit: Kit, alice: FakeCrossSigning) -> None:
    kit.e2ee.cross_signing.upload(ALICE, alice.upload_body())
    device: FakeDevice = kit.alice_device  # type: ignore[attr-defined]
    signed_device = sign_json(device.device_keys(), ALICE, alice.self_signing)
    master = alice.upload_body()["master_key"]
    signed_master = device.sign(master)
    since = kit.db.current_count()
    failures = kit.e2ee.cross_signing.upload_signatures(
        ALICE, {ALICE: {"A1": signed_device, alice.public(alice.master): signed_master}}
    )
    assert failures == {}
    stored = kit.e2ee.device_keys.get(ALICE, "A1")
    assert stored is not None
    assert alice.self_signing.key_id in stored["signatures"][ALICE]
    master_sigs = kit.e2ee.cross_signing.keys(ALICE)["master"]["signatures"][ALICE]
    assert "ed25519:A1" in master_sigs
    assert kit.e2ee.sync.device_list_changes(ALICE, since).changed == [ALICE]
    # re-uploading the device keys keeps the self-signing signature
    kit.e2ee.device_keys.upload(ALICE, "A1", device_keys=device.device_keys())
    stored = kit.e2ee.device_keys.get(ALICE, "A1")
    assert stored is not None and alice.self_signing.key_id in stored["signatures"][ALICE]


def test_signature_failures_are_reported_per_key(kit: Kit, alice: FakeCrossSigning) -> None:
    kit.e2ee.cross_signing.upload(ALICE, alice.upload_body())
    device: FakeDevice = kit.alice_device  # type: ignore[attr-defined]
    good = sign_json(device.device_keys(), ALICE, alice.self_signing)
    forged = copy.deepcopy(good)
    forged["signatures"][ALICE][alice.self_signing.key_id] = "A" * 86
    tampered = sign_json({**device.device_keys(), "algorithms": []}, ALICE, alice.self_signing)
    failures = kit.e2ee.cross_signing.upload_signatures(ALICE, {ALICE: {"A1": forged}})
    assert failures[ALICE]["A1"]["errcode"] == "M_INVALID_SIGNATURE"
    failures = kit.e2ee.cross_signing.upload_signatures(
        ALICE, {ALICE: {"A1": tampered, "NOPE": good}}
    )
    assert failures[ALICE]["A1"]["errcode"] == "M_INVALID_SIGNATURE"
    assert failures[ALICE]["NOPE"]["errcode"] == "M_NOT_FOUND"
    stored = kit.e2ee.device_keys.get(ALICE, "A1")
    assert stored is not None and alice.self_signing.key_id not in stored["signatures"][ALICE]


def test_signing_another_users_master_key_is_visible_to_the_signer_only(
    kit: Kit, alice: FakeCrossSigning
) -> None:
    bob = FakeCrossSigning(BOB)
    kit.e2ee.cross_signing.upload(ALICE, alice.upload_body())
    kit.e2ee.cross_signing.upload(BOB, bob.upload_body())
    bob_master = kit.e2ee.query(ALICE, {BOB: []})["master_keys"][BOB]
    signed = sign_json(bob_master, ALICE, alice.user_signing)
    since = kit.db.current_count()
    failures = kit.e2ee.cross_signing.upload_signatures(
        ALICE, {BOB: {bob.public(bob.master): signed}}
    )
    assert failures == {}
    seen_by_alice = kit.e2ee.query(ALICE, {BOB: []})["master_keys"][BOB]
    seen_by_bob = kit.e2ee.query(BOB, {BOB: []})["master_keys"][BOB]
    assert alice.user_signing.key_id in seen_by_alice["signatures"][ALICE]
    assert ALICE not in seen_by_bob.get("signatures", {})
    assert kit.e2ee.sync.device_list_changes(ALICE, since).changed == [BOB]
    assert not kit.e2ee.sync.device_list_changes(BOB, since)
    # a signature on a key that is not Bob's master key fails
    failures = kit.e2ee.cross_signing.upload_signatures(ALICE, {BOB: {"WRONG": signed}})
    assert failures[BOB]["WRONG"]["errcode"] == "M_NOT_FOUND"
    # a new master key for Bob drops Alice's signature on the old one
    kit.e2ee.cross_signing.upload(BOB, FakeCrossSigning(BOB).upload_body())
    assert (
        "signatures" not in kit.e2ee.query(ALICE, {BOB: []})["master_keys"][BOB]
        or ALICE not in (kit.e2ee.query(ALICE, {BOB: []})["master_keys"][BOB]["signatures"])
    )


def test_signatures_without_cross_signing_keys_fail(kit: Kit, alice: FakeCrossSigning) -> None:
    device: FakeDevice = kit.alice_device  # type: ignore[attr-defined]
    failures = kit.e2ee.cross_signing.upload_signatures(
        ALICE, {ALICE: {"A1": device.device_keys()}}
    )
    assert failures[ALICE]["A1"]["errcode"] == "M_NOT_FOUND"
    failures = kit.e2ee.cross_signing.upload_signatures(ALICE, {BOB: {"X": {"a": 1}}})
    assert failures[BOB]["X"]["errcode"] == "M_NOT_FOUND"
