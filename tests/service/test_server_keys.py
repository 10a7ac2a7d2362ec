"""The server's signing key: generated once, kept, rotated into old_verify_keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conduwuit.core.signing import SignatureError, verify_signed_json
from conduwuit.db import MAPS, Database, DatabaseOptions
from conduwuit.service.server_keys import KEY_VALIDITY_MS, ServerKeys


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(DatabaseOptions(path=tmp_path / "db"))
    yield database
    database.close()


def test_key_kept_across_instances(db: Database) -> None:
    first = ServerKeys("example.org", db.map(MAPS.global_))
    second = ServerKeys("example.org", db.map(MAPS.global_))
    assert first.keypair.key_id == second.keypair.key_id
    assert first.keypair.public_key == second.keypair.public_key


def test_document_is_signed_and_valid_for_a_day(db: Database) -> None:
    now = [1_700_000_000_000]
    keys = ServerKeys("example.org", db.map(MAPS.global_), clock=lambda: now[0])
    document = keys.key_document()
    assert document["valid_until_ts"] == now[0] + KEY_VALIDITY_MS
    public = document["verify_keys"][keys.keypair.key_id]["key"]
    verify_signed_json(document, "example.org", keys.keypair.key_id, public)
    tampered = dict(document, valid_until_ts=document["valid_until_ts"] + 1)
    with pytest.raises(SignatureError):
        verify_signed_json(tampered, "example.org", keys.keypair.key_id, public)
    # cached while fresh, re-signed when half the validity has passed
    assert keys.key_document() is document
    now[0] += KEY_VALIDITY_MS // 2 + 1
    assert keys.key_document()["valid_until_ts"] == now[0] + KEY_VALIDITY_MS


def test_rotation_keeps_old_key_published(db: Database) -> None:
    keys = ServerKeys("example.org", db.map(MAPS.global_), clock=lambda: 42)
    old_id, old_public = keys.keypair.key_id, keys.keypair.public_key
    new = keys.rotate()
    assert new.key_id != old_id
    document = keys.key_document()
    assert document["old_verify_keys"] == {old_id: {"key": old_public, "expired_ts": 42}}
    assert list(document["verify_keys"]) == [new.key_id]
    reopened = ServerKeys("example.org", db.map(MAPS.global_))
    assert reopened.keypair.key_id == new.key_id
    assert old_id in reopened.old_keys
