"""Spec appendix "Cryptographic Test Vectors" and hashing/event-ID behaviour."""

import copy
from typing import Any

import pytest

from conduwuit.core import base64 as b64
from conduwuit.core import room_versions as rv
from conduwuit.core.event_hashing import (
    HashMismatchError,
    add_content_hash,
    check_content_hash,
    compute_event_id,
    room_id_for_create_event,
)
from conduwuit.core.event_signing import (
    hash_and_sign_event,
    required_signature_servers,
    verify_event_signatures,
)
from conduwuit.core.signing import Keypair, SignatureError, sign_json, verify_signed_json

SEED = b64.decode("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1")
KEY = Keypair.from_seed("ed25519:1", SEED)


def lookup(server: str, key_id: str) -> tuple[str, int | None] | None:
    if (server, key_id) == ("domain", "ed25519:1"):
        return KEY.public_key, None
    return None


def test_json_signing_vectors() -> None:
    assert sign_json({}, "domain", KEY)["signatures"]["domain"]["ed25519:1"] == (
        "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ"
    )
    signed = sign_json({"one": 1, "two": "Two"}, "domain", KEY)
    assert signed["signatures"]["domain"]["ed25519:1"] == (
        "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"
    )


MINIMAL: dict[str, Any] = {
    "room_id": "!x:domain",
    "sender": "@a:domain",
    "origin": "domain",
    "origin_server_ts": 1000000,
    "signatures": {},
    "hashes": {},
    "type": "X",
    "content": {},
    "prev_events": [],
    "auth_events": [],
    "depth": 3,
    "unsigned": {"age_ts": 1000000},
}

REDACTABLE: dict[str, Any] = {
    "content": {"body": "Here is the message content"},
    "event_id": "$0:domain",
    "origin": "domain",
    "origin_server_ts": 1000000,
    "type": "m.room.message",
    "room_id": "!r:domain",
    "sender": "@u:domain",
    "signatures": {},
    "unsigned": {"age_ts": 1000000},
}


# The vectors predate v11: they keep top-level "origin", so they hold for v1-v10.
@pytest.mark.parametrize("version", [rv.V1, rv.V3, rv.V10])
def test_event_signing_vectors(version: rv.RoomVersion) -> None:
    signed = hash_and_sign_event(MINIMAL, "domain", KEY, version)
    assert signed["hashes"] == {"sha256": "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"}
    assert signed["signatures"]["domain"]["ed25519:1"] == (
        "KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg"
    )
    assert signed["unsigned"] == {"age_ts": 1000000}

    signed = hash_and_sign_event(REDACTABLE, "domain", KEY, version)
    assert signed["hashes"] == {"sha256": "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g"}
    assert signed["signatures"]["domain"]["ed25519:1"] == (
        "Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA"
    )
    verify_event_signatures(signed, version, lookup)
    check_content_hash(signed, version)


def test_content_hash_mismatch_detected() -> None:
    hashed = add_content_hash(REDACTABLE, rv.V11)
    check_content_hash(hashed, rv.V11)
    hashed["content"] = {"body": "tampered"}
    with pytest.raises(HashMismatchError):
        check_content_hash(hashed, rv.V11)
    with pytest.raises(HashMismatchError):
        check_content_hash(REDACTABLE, rv.V11)


def test_event_id_formats() -> None:
    event = hash_and_sign_event(MINIMAL, "domain", KEY, rv.V11)
    v3 = compute_event_id(event, rv.V3)
    v4 = compute_event_id(event, rv.V4)
    assert v3.startswith("$") and v4.startswith("$") and ":" not in v4
    assert len(v4) == 44
    assert v4[1:] == v3[1:].replace("+", "-").replace("/", "_")
    assert compute_event_id(REDACTABLE, rv.V1) == "$0:domain"
    with pytest.raises(ValueError):
        compute_event_id(MINIMAL, rv.V2)


def test_event_id_ignores_unsigned_signatures_and_redactable_content() -> None:
    event = hash_and_sign_event(REDACTABLE, "domain", KEY, rv.V11)
    base = compute_event_id(event, rv.V11)
    changed = copy.deepcopy(event)
    changed["unsigned"] = {"age": 5}
    changed["signatures"] = {}
    assert compute_event_id(changed, rv.V11) == base
    # content.body is redacted, but the content hash covers it, so the ID changes
    # only via the (kept) hashes field.
    changed["content"] = {"body": "other"}
    assert compute_event_id(changed, rv.V11) == base
    assert compute_event_id(add_content_hash(changed, rv.V11), rv.V11) != base


def test_v12_room_id_from_create() -> None:
    create = {
        "type": "m.room.create",
        "state_key": "",
        "sender": "@a:domain",
        "content": {"room_version": "12"},
        "origin_server_ts": 1,
        "depth": 1,
        "prev_events": [],
        "auth_events": [],
    }
    room_id = room_id_for_create_event(create, rv.V12)
    assert room_id == "!" + compute_event_id(create, rv.V12)[1:]
    with pytest.raises(ValueError):
        room_id_for_create_event(create, rv.V11)


def test_required_signature_servers() -> None:
    join = {
        "type": "m.room.member",
        "state_key": "@a:one",
        "sender": "@a:one",
        "event_id": "$x:three",
        "content": {"membership": "join", "join_authorised_via_users_server": "@b:two"},
    }
    assert required_signature_servers(join, rv.V1) == {"one", "three"}
    assert required_signature_servers(join, rv.V7) == {"one"}
    assert required_signature_servers(join, rv.V8) == {"one", "two"}
    tpi_invite = {
        "type": "m.room.member",
        "state_key": "@c:four",
        "sender": "@a:one",
        "content": {"membership": "invite", "third_party_invite": {"signed": {}}},
    }
    assert required_signature_servers(tpi_invite, rv.V11) == set()


def test_verify_rejects_missing_unknown_and_expired() -> None:
    event = hash_and_sign_event(REDACTABLE, "domain", KEY, rv.V5)
    with pytest.raises(SignatureError):
        verify_event_signatures(event, rv.V5, lambda s, k: None)
    with pytest.raises(SignatureError, match="expired"):
        verify_event_signatures(event, rv.V5, lambda s, k: (KEY.public_key, 10))
    verify_event_signatures(event, rv.V4, lambda s, k: (KEY.public_key, 10))
    unsigned = dict(event, signatures={})
    with pytest.raises(SignatureError):
        verify_event_signatures(unsigned, rv.V5, lookup)
    other = Keypair.generate("1")
    with pytest.raises(SignatureError):
        verify_event_signatures(event, rv.V5, lambda s, k: (other.public_key, None))


def test_signature_of_the_wrong_length_is_a_signature_error() -> None:
    keypair = Keypair.generate("1")
    signed = sign_json({"a": 1}, "example.org", keypair)
    signed["signatures"]["example.org"][keypair.key_id] = "AAAA"
    with pytest.raises(SignatureError):
        verify_signed_json(signed, "example.org", keypair.key_id, keypair.public_key)
