"""Key backup versions and keys, with the spec's replacement rule, etag and count."""

from __future__ import annotations

from typing import Any

import pytest

from conduwuit.core.errors import MatrixError
from conduwuit.service.e2ee.key_backup import MEGOLM_BACKUP_V1, should_replace

from .conftest import ALICE, BOB, Kit

AUTH = {"public_key": "abcdefg", "signatures": {}}
ROOM = "!room:example.org"


def data(fmi: int = 0, fc: int = 0, verified: bool = False, tag: str = "x") -> dict[str, Any]:
    return {
        "first_message_index": fmi,
        "forwarded_count": fc,
        "is_verified": verified,
        "session_data": {"ciphertext": tag},
    }


def test_versions_lifecycle(kit: Kit) -> None:
    kb = kit.e2ee.key_backups
    with pytest.raises(MatrixError) as info:
        kb.get_version(ALICE)
    assert info.value.status == 404
    v1 = kb.create_version(ALICE, MEGOLM_BACKUP_V1, AUTH)
    v2 = kb.create_version(ALICE, MEGOLM_BACKUP_V1, AUTH)
    assert int(v2) > int(v1)
    latest = kb.get_version(ALICE)
    assert latest["version"] == v2 and latest["count"] == 0 and isinstance(latest["etag"], str)
    assert latest["algorithm"] == MEGOLM_BACKUP_V1 and latest["auth_data"] == AUTH
    assert kb.get_version(ALICE, v1)["version"] == v1
    with pytest.raises(MatrixError):
        kb.get_version(BOB, v1)  # versions are per user
    kb.update_version(ALICE, v2, MEGOLM_BACKUP_V1, {**AUTH, "public_key": "new"}, v2)
    assert kb.get_version(ALICE)["auth_data"]["public_key"] == "new"
    with pytest.raises(MatrixError) as info:
        kb.update_version(ALICE, v2, "other.algorithm", AUTH, None)
    assert info.value.errcode == "M_INVALID_PARAM"
    with pytest.raises(MatrixError) as info:
        kb.update_version(ALICE, v2, MEGOLM_BACKUP_V1, AUTH, v1)
    assert info.value.errcode == "M_INVALID_PARAM"
    kb.delete_version(ALICE, v2)
    assert kb.get_version(ALICE)["version"] == v1
    for bad in (v2, "nope", "-1", "99999999999999999999999"):
        with pytest.raises(MatrixError) as info:
            kb.get_version(ALICE, bad)
        assert info.value.status == 404


def test_bad_auth_data_is_refused(kit: Kit) -> None:
    for algorithm, auth in ((MEGOLM_BACKUP_V1, {}), ("", AUTH), (MEGOLM_BACKUP_V1, "x")):
        with pytest.raises(MatrixError):
            kit.e2ee.key_backups.create_version(ALICE, algorithm, auth)
    with pytest.raises(MatrixError):
        kit.e2ee.key_backups.get_version(ALICE)


def test_keys_at_three_levels_with_etag_and_count(kit: Kit) -> None:
    kb = kit.e2ee.key_backups
    v = kb.create_version(ALICE, MEGOLM_BACKUP_V1, AUTH)
    etag0 = kb.get_version(ALICE)["etag"]
    r = kb.put_keys(
        ALICE, v, {ROOM: {"s1": data(), "s2": data()}, "!b:example.org": {"s3": data()}}
    )
    assert r["count"] == 3 and r["etag"] != etag0
    assert set(kb.get_keys(ALICE, v)["rooms"]) == {ROOM, "!b:example.org"}
    assert set(kb.get_keys(ALICE, v, ROOM)["sessions"]) == {"s1", "s2"}
    assert kb.get_keys(ALICE, v, "!empty:example.org") == {"sessions": {}}
    assert kb.get_keys(ALICE, v, ROOM, "s1") == data()
    with pytest.raises(MatrixError) as info:
        kb.get_keys(ALICE, v, ROOM, "missing")
    assert info.value.status == 404
    # a write that replaces nothing keeps the etag
    same = kb.put_keys(ALICE, v, {ROOM: {"s1": data(fmi=5)}})
    assert same == r
    r2 = kb.delete_keys(ALICE, v, ROOM, "s1")
    assert r2["count"] == 2 and r2["etag"] != r["etag"]
    assert kb.delete_keys(ALICE, v, ROOM)["count"] == 1
    assert kb.delete_keys(ALICE, v)["count"] == 0


def test_writes_go_to_the_latest_version_only(kit: Kit) -> None:
    kb = kit.e2ee.key_backups
    v1 = kb.create_version(ALICE, MEGOLM_BACKUP_V1, AUTH)
    kb.put_keys(ALICE, v1, {ROOM: {"s": data()}})
    v2 = kb.create_version(ALICE, MEGOLM_BACKUP_V1, AUTH)
    with pytest.raises(MatrixError) as info:
        kb.put_keys(ALICE, v1, {ROOM: {"s": data()}})
    assert (info.value.status, info.value.errcode) == (403, "M_WRONG_ROOM_KEYS_VERSION")
    assert info.value.to_json()["current_version"] == v2
    assert kb.get_keys(ALICE, v1, ROOM, "s") == data()  # old versions stay readable
    with pytest.raises(MatrixError) as info:
        kb.put_keys(ALICE, "12345678", {ROOM: {"s": data()}})
    assert info.value.status == 404
    kb.delete_version(ALICE, v1)
    with pytest.raises(MatrixError):
        kb.get_keys(ALICE, v1)


def test_bad_key_data_changes_nothing(kit: Kit) -> None:
    kb = kit.e2ee.key_backups
    v = kb.create_version(ALICE, MEGOLM_BACKUP_V1, AUTH)
    before = kb.get_version(ALICE)
    for bad in ({**data(), "is_verified": 1}, {**data(), "first_message_index": -1}, {"x": 1}):
        with pytest.raises(MatrixError) as info:
            kb.put_keys(ALICE, v, {ROOM: {"ok": data(), "bad": bad}})
        assert info.value.errcode == "M_BAD_JSON"
    assert kb.get_version(ALICE) == before


@pytest.mark.parametrize(
    ("old", "new", "replace"),
    [
        (data(verified=False, fmi=0), data(verified=True, fmi=9), True),
        (data(verified=True, fmi=9), data(verified=False, fmi=0), False),
        (data(fmi=5), data(fmi=3), True),
        (data(fmi=3), data(fmi=5), False),
        (data(fmi=3, fc=2), data(fmi=3, fc=1), True),
        (data(fmi=3, fc=1), data(fmi=3, fc=2), False),
        (data(), data(tag="other"), False),
    ],
)
def test_replacement_rule(old: dict[str, Any], new: dict[str, Any], replace: bool) -> None:
    assert should_replace(old, new) is replace
