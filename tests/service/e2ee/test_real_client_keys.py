"""Keys made by a real client library (matrix-nio's Olm, on vodozemac) are accepted."""

from __future__ import annotations

import pytest

from conduwuit.core.signing import verify_signed_json

from .conftest import ALICE, BOB, Kit

nio_crypto = pytest.importorskip("nio.crypto")
nio_store = pytest.importorskip("nio.store")


def test_nio_key_upload_is_accepted_and_claimable(kit: Kit) -> None:
    kit.login(ALICE, "NIODEV")
    olm = nio_crypto.Olm(ALICE, "NIODEV", nio_store.SqliteMemoryStore(ALICE, "NIODEV"))
    shared = olm.share_keys()
    counts = kit.e2ee.device_keys.upload(
        ALICE,
        "NIODEV",
        device_keys=shared["device_keys"],
        one_time_keys=shared["one_time_keys"],
    )
    assert counts["signed_curve25519"] == len(shared["one_time_keys"]) > 0
    claimed = kit.e2ee.claim({ALICE: {"NIODEV": "signed_curve25519"}})["one_time_keys"]
    ((key_id, key),) = claimed[ALICE]["NIODEV"].items()
    assert key_id in shared["one_time_keys"]
    # what Bob's client checks before starting an Olm session with it
    ed25519 = shared["device_keys"]["keys"]["ed25519:NIODEV"]
    verify_signed_json(key, ALICE, "ed25519:NIODEV", ed25519)
    assert (
        kit.e2ee.query(BOB, {ALICE: ["NIODEV"]})["device_keys"][ALICE]["NIODEV"]["keys"]
        == (shared["device_keys"]["keys"])
    )
