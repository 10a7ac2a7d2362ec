"""/keys/upload, /keys/query and /keys/claim at the service level."""

from __future__ import annotations

import pytest

from conduwuit.core.errors import MatrixError
from tests.kit.e2ee import FakeDevice

from .conftest import ALICE, BOB, REMOTE, Kit


def _state(kit: Kit) -> tuple[object, ...]:
    keys = kit.e2ee.device_keys
    return (
        keys.all_for_user(ALICE),
        keys.one_time_key_counts(ALICE, "A1"),
        keys.unused_fallback_key_types(ALICE, "A1"),
        kit.db.current_count(),
    )


def test_upload_stores_keys_and_counts(kit: Kit) -> None:
    device = FakeDevice(ALICE, "A1")
    kit.login(ALICE, "A1")
    since = kit.db.current_count()
    counts = kit.e2ee.device_keys.upload(
        ALICE,
        "A1",
        device_keys=device.device_keys(),
        one_time_keys=device.one_time_keys(3),
        fallback_keys=device.one_time_keys(1, fallback=True),
    )
    assert counts == {"signed_curve25519": 3}
    assert kit.e2ee.device_keys.get(ALICE, "A1") == device.device_keys()
    assert kit.e2ee.device_keys.unused_fallback_key_types(ALICE, "A1") == ["signed_curve25519"]
    assert ALICE in kit.woken(since)  # own device-list change


def test_counts_always_include_signed_curve25519(kit: Kit) -> None:
    assert kit.e2ee.device_keys.one_time_key_counts(ALICE, "A1") == {"signed_curve25519": 0}


@pytest.mark.parametrize(
    "tamper",
    [
        lambda k: k.update(algorithms=["x"]),  # signed content changed
        lambda k: k["signatures"][ALICE].update({"ed25519:A1": "AAAA"}),
        lambda k: k.pop("signatures"),
        lambda k: k.update(device_id="OTHER"),
        lambda k: k.update(user_id=BOB),
        lambda k: k["keys"].pop("ed25519:A1"),
    ],
)
def test_bad_device_keys_are_refused_and_change_nothing(kit: Kit, tamper: object) -> None:
    device = FakeDevice(ALICE, "A1")
    before = _state(kit)
    keys = device.device_keys()
    tamper(keys)  # type: ignore[operator]
    with pytest.raises(MatrixError) as info:
        kit.e2ee.device_keys.upload(
            ALICE, "A1", device_keys=keys, one_time_keys=device.one_time_keys(2)
        )
    assert info.value.status == 400
    assert info.value.errcode in ("M_INVALID_SIGNATURE", "M_INVALID_PARAM", "M_BAD_JSON")
    assert _state(kit) == before


def test_bad_signature_error_code(kit: Kit) -> None:
    device = FakeDevice(ALICE, "A1")
    keys = device.device_keys()
    keys["algorithms"] = ["changed"]
    with pytest.raises(MatrixError) as info:
        kit.e2ee.device_keys.upload(ALICE, "A1", device_keys=keys)
    assert (info.value.status, info.value.errcode) == (400, "M_INVALID_SIGNATURE")


def test_missing_fields_are_bad_json(kit: Kit) -> None:
    # Complement "Rejects invalid device keys": algorithms, keys and signatures missing
    with pytest.raises(MatrixError) as info:
        kit.e2ee.device_keys.upload(ALICE, "A1", device_keys={"user_id": ALICE, "device_id": "A1"})
    assert (info.value.status, info.value.errcode) == (400, "M_BAD_JSON")


def test_unsigned_keys_are_accepted_as_synapse_does(kit: Kit) -> None:
    # Complement's device-list tests upload placeholder keys with no signature;
    # clients never trust such a device, so only a wrong signature is refused.
    keys = FakeDevice(ALICE, "A1").device_keys()
    keys["signatures"] = {}
    otk = {"signed_curve25519:X": {"key": "abc"}}
    kit.e2ee.device_keys.upload(ALICE, "A1", device_keys=keys, one_time_keys=otk)
    assert kit.e2ee.device_keys.get(ALICE, "A1") == keys
    assert kit.e2ee.device_keys.one_time_key_counts(ALICE, "A1") == {"signed_curve25519": 1}


def test_one_time_key_signed_by_another_key_is_refused(kit: Kit) -> None:
    device = FakeDevice(ALICE, "A1")
    kit.e2ee.device_keys.upload(ALICE, "A1", device_keys=device.device_keys())
    impostor = FakeDevice(ALICE, "A1")
    before = _state(kit)
    with pytest.raises(MatrixError) as info:
        kit.e2ee.device_keys.upload(ALICE, "A1", one_time_keys=impostor.one_time_keys(2))
    assert info.value.errcode == "M_INVALID_SIGNATURE"
    assert _state(kit) == before


def test_signed_one_time_keys_need_device_keys(kit: Kit) -> None:
    device = FakeDevice(ALICE, "A1")
    with pytest.raises(MatrixError) as info:
        kit.e2ee.device_keys.upload(ALICE, "A1", one_time_keys=device.one_time_keys(1))
    assert info.value.errcode == "M_INVALID_PARAM"


def test_reupload_is_idempotent_and_conflicts_are_refused(kit: Kit) -> None:
    device = FakeDevice(ALICE, "A1")
    otks = device.one_time_keys(2)
    kit.e2ee.device_keys.upload(ALICE, "A1", device_keys=device.device_keys(), one_time_keys=otks)
    since = kit.db.current_count()
    counts = kit.e2ee.device_keys.upload(
        ALICE, "A1", device_keys=device.device_keys(), one_time_keys=otks
    )
    assert counts == {"signed_curve25519": 2}
    assert kit.woken(since) == set()  # same device keys: no device-list change
    key_id = next(iter(otks))
    other = device.one_time_keys(1)
    with pytest.raises(MatrixError):
        kit.e2ee.device_keys.upload(ALICE, "A1", one_time_keys={key_id: next(iter(other.values()))})


def test_claim_hands_out_keys_in_upload_order_then_fallback(kit: Kit) -> None:
    device = FakeDevice(ALICE, "A1")
    first = device.one_time_keys(1)
    kit.e2ee.device_keys.upload(ALICE, "A1", device_keys=device.device_keys(), one_time_keys=first)
    second = device.one_time_keys(1)
    fallback = device.one_time_keys(1, fallback=True)
    kit.e2ee.device_keys.upload(ALICE, "A1", one_time_keys=second, fallback_keys=fallback)
    since = kit.db.current_count()

    def claim() -> dict[str, object]:
        result = kit.e2ee.claim({ALICE: {"A1": "signed_curve25519"}})
        assert result["failures"] == {}
        got: dict[str, object] = result["one_time_keys"][ALICE]["A1"]
        return got

    assert claim() == first
    assert ALICE in kit.woken(since)
    assert claim() == second
    assert kit.e2ee.device_keys.one_time_key_counts(ALICE, "A1") == {"signed_curve25519": 0}
    assert kit.e2ee.device_keys.unused_fallback_key_types(ALICE, "A1") == ["signed_curve25519"]
    assert claim() == fallback
    assert kit.e2ee.device_keys.unused_fallback_key_types(ALICE, "A1") == []
    assert claim() == fallback  # fallback keys are reused until replaced
    # a new fallback key is unused again; re-uploading the used one keeps it used
    kit.e2ee.device_keys.upload(ALICE, "A1", fallback_keys=fallback)
    assert kit.e2ee.device_keys.unused_fallback_key_types(ALICE, "A1") == []
    kit.e2ee.device_keys.upload(ALICE, "A1", fallback_keys=device.one_time_keys(1, fallback=True))
    assert kit.e2ee.device_keys.unused_fallback_key_types(ALICE, "A1") == ["signed_curve25519"]


def test_claim_from_a_device_without_keys_returns_nothing(kit: Kit) -> None:
    kit.login(BOB, "B1")
    result = kit.e2ee.claim({BOB: {"B1": "signed_curve25519", "NOPE": "signed_curve25519"}})
    assert result == {"one_time_keys": {}, "failures": {}}


def test_claim_for_remote_user_reports_a_failure(kit: Kit) -> None:
    result = kit.e2ee.claim({REMOTE: {"D": "signed_curve25519"}})
    assert result["one_time_keys"] == {}
    assert "remote.test" in result["failures"]


def test_only_one_fallback_key_per_algorithm(kit: Kit) -> None:
    device = FakeDevice(ALICE, "A1")
    kit.e2ee.device_keys.upload(ALICE, "A1", device_keys=device.device_keys())
    with pytest.raises(MatrixError):
        kit.e2ee.device_keys.upload(
            ALICE, "A1", fallback_keys=device.one_time_keys(2, fallback=True)
        )
    assert kit.e2ee.device_keys.unused_fallback_key_types(ALICE, "A1") == []


def test_query_returns_keys_with_display_name(kit: Kit) -> None:
    kit.login(ALICE, "A1", "Alice's phone")
    kit.login(ALICE, "A2")
    one, two = FakeDevice(ALICE, "A1"), FakeDevice(ALICE, "A2")
    kit.e2ee.device_keys.upload(ALICE, "A1", device_keys=one.device_keys())
    kit.e2ee.device_keys.upload(ALICE, "A2", device_keys=two.device_keys())
    result = kit.e2ee.query(BOB, {ALICE: [], BOB: [], REMOTE: []})
    alice = result["device_keys"][ALICE]
    assert set(alice) == {"A1", "A2"}
    assert alice["A1"]["unsigned"] == {"device_display_name": "Alice's phone"}
    assert "unsigned" not in alice["A2"]
    assert result["device_keys"][BOB] == {}
    assert "remote.test" in result["failures"]
    only = kit.e2ee.query(BOB, {ALICE: ["A2", "MISSING"]})["device_keys"][ALICE]
    assert set(only) == {"A2"}


async def test_deleting_a_device_drops_its_keys_and_tells_others(kit: Kit) -> None:
    device = FakeDevice(ALICE, "A1")
    kit.login(ALICE, "A1")
    kit.e2ee.device_keys.upload(
        ALICE, "A1", device_keys=device.device_keys(), one_time_keys=device.one_time_keys(2)
    )
    await kit.join(ALICE, "!r:example.org")
    await kit.join(BOB, "!r:example.org")
    since = kit.db.current_count()
    kit.services.users.devices.delete(ALICE, ["A1"])  # the e2ee deletion listener
    assert kit.e2ee.device_keys.get(ALICE, "A1") is None
    assert kit.e2ee.device_keys.one_time_key_counts(ALICE, "A1") == {"signed_curve25519": 0}
    assert kit.e2ee.sync.device_list_changes(BOB, since).changed == [ALICE]
