"""HTTP: /room_keys/version and /room_keys/keys at all three levels."""

from __future__ import annotations

from typing import Any

from tests.service.e2ee.conftest import ALICE, BOB

from .conftest import Api

A1 = f"{ALICE}|A1"
ALG = "m.megolm_backup.v1.curve25519-aes-sha2"
AUTH = {"public_key": "abc", "signatures": {}}
ROOM = "!room:example.org"


def data(fmi: int = 0, verified: bool = False) -> dict[str, Any]:
    return {
        "first_message_index": fmi,
        "forwarded_count": 0,
        "is_verified": verified,
        "session_data": {"ciphertext": "c", "ephemeral": "e", "mac": "m"},
    }


async def test_backup_round_trip(api: Api) -> None:
    status, body = await api.call("GET", "/room_keys/version", A1)
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    status, body = await api.call(
        "POST", "/room_keys/version", A1, {"algorithm": ALG, "auth_data": AUTH}
    )
    assert status == 200
    version = body["version"]
    status, info = await api.call("GET", "/room_keys/version", A1)
    assert info == {
        "algorithm": ALG,
        "auth_data": AUTH,
        "version": version,
        "count": 0,
        "etag": info["etag"],
    }

    status, body = await api.call(
        "PUT",
        "/room_keys/keys",
        A1,
        {"rooms": {ROOM: {"sessions": {"s1": data(5)}}}},
        version=version,
    )
    assert status == 200 and body["count"] == 1
    status, body = await api.call(
        "PUT", f"/room_keys/keys/{ROOM}", A1, {"sessions": {"s2": data()}}, version=version
    )
    assert body["count"] == 2
    status, body = await api.call("PUT", f"/room_keys/keys/{ROOM}/s1", A1, data(2), version=version)
    assert body["count"] == 2
    status, body = await api.call("GET", f"/room_keys/keys/{ROOM}/s1", A1, version=version)
    assert (status, body) == (200, data(2))  # the lower first_message_index won
    status, body = await api.call("GET", f"/room_keys/keys/{ROOM}", A1, version=version)
    assert set(body["sessions"]) == {"s1", "s2"}
    status, body = await api.call("GET", "/room_keys/keys", A1, version=version)
    assert set(body["rooms"][ROOM]["sessions"]) == {"s1", "s2"}
    # other users see nothing
    status, body = await api.call("GET", "/room_keys/keys", f"{BOB}|B1", version=version)
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    status, body = await api.call("DELETE", f"/room_keys/keys/{ROOM}/s2", A1, version=version)
    assert (status, body["count"]) == (200, 1)
    status, body = await api.call("DELETE", "/room_keys/keys", A1, version=version)
    assert body["count"] == 0

    status, _ = await api.call(
        "PUT",
        f"/room_keys/version/{version}",
        A1,
        {"algorithm": ALG, "auth_data": {**AUTH, "public_key": "n"}},
    )
    assert status == 200
    status, body = await api.call("GET", f"/room_keys/version/{version}", A1)
    assert body["auth_data"]["public_key"] == "n"
    status, _ = await api.call("DELETE", f"/room_keys/version/{version}", A1)
    assert status == 200
    status, body = await api.call("GET", f"/room_keys/version/{version}", A1)
    assert status == 404


async def test_backup_errors(api: Api) -> None:
    _, body = await api.call(
        "POST", "/room_keys/version", A1, {"algorithm": ALG, "auth_data": AUTH}
    )
    old = body["version"]
    _, body = await api.call(
        "POST", "/room_keys/version", A1, {"algorithm": ALG, "auth_data": AUTH}
    )
    new = body["version"]
    status, body = await api.call("PUT", f"/room_keys/keys/{ROOM}/s", A1, data(), version=old)
    assert (status, body["errcode"], body["current_version"]) == (
        403,
        "M_WRONG_ROOM_KEYS_VERSION",
        new,
    )
    status, body = await api.call("PUT", f"/room_keys/keys/{ROOM}/s", A1, data())
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")
    status, body = await api.call(
        "PUT", f"/room_keys/keys/{ROOM}/s", A1, {"is_verified": "no"}, version=new
    )
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")
    status, body = await api.call("POST", "/room_keys/version", A1, {"algorithm": ALG})
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")
    status, body = await api.call(
        "PUT", f"/room_keys/version/{new}", A1, {"algorithm": "other", "auth_data": AUTH}
    )
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = await api.call("DELETE", "/room_keys/version/999999", A1)
    assert status == 404
    _, info = await api.call("GET", "/room_keys/version", A1)
    assert info["count"] == 0 and info["version"] == new
