"""This server's ed25519 signing key and its published key document.

The key is generated on first start and kept in the database; retired keys stay
published under ``old_verify_keys`` with the time they expired (server-server API,
"Publishing Keys").
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from conduwuit.core import base64 as b64
from conduwuit.core.signing import Keypair, sign_json
from conduwuit.db.maps import GLOBAL_KEYPAIR

#: How long other servers may cache our key document (Synapse's default is a day).
KEY_VALIDITY_MS = 24 * 60 * 60 * 1000

#: One record holds the current key and the retired ones, so a rotation is one write.
KEYS_RECORD = GLOBAL_KEYPAIR


class KeyValueStore(Protocol):
    def get(self, key: bytes) -> bytes | None: ...

    def put(self, key: bytes, value: bytes) -> None: ...


def now_ms() -> int:
    import time

    return int(time.time() * 1000)


def _new_keypair() -> Keypair:
    # Key versions are [a-zA-Z0-9_]; a random one avoids reuse after a database reset.
    return Keypair.generate(secrets.token_hex(4))


@dataclass(frozen=True)
class OldKey:
    key: str
    expired_ts: int


class ServerKeys:
    """Owns the signing key; produces the signed ``/_matrix/key/v2/server`` document."""

    def __init__(
        self,
        server_name: str,
        store: KeyValueStore,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.server_name = server_name
        self._store = store
        self._clock = clock
        self.keypair, self._old_keys = self._load()
        self._document: dict[str, Any] | None = None

    def _load(self) -> tuple[Keypair, dict[str, OldKey]]:
        stored = self._store.get(KEYS_RECORD)
        if stored is None:
            keypair = _new_keypair()
            self._save(keypair, {})
            return keypair, {}
        record = json.loads(stored)
        current = Keypair.from_seed(record["key_id"], b64.decode(record["seed"]))
        old = {key_id: OldKey(**value) for key_id, value in record["old"].items()}
        return current, old

    def _save(self, keypair: Keypair, old: dict[str, OldKey]) -> None:
        record = {
            "key_id": keypair.key_id,
            "seed": b64.encode(keypair.seed),
            "old": {k: {"key": v.key, "expired_ts": v.expired_ts} for k, v in old.items()},
        }
        self._store.put(KEYS_RECORD, json.dumps(record).encode())

    @property
    def old_keys(self) -> dict[str, OldKey]:
        return dict(self._old_keys)

    def sign(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Sign a JSON object as this server."""
        return sign_json(obj, self.server_name, self.keypair)

    def rotate(self) -> Keypair:
        """Retire the current key (kept as an old verify key) and generate a new one."""
        old = dict(self._old_keys)
        old[self.keypair.key_id] = OldKey(self.keypair.public_key, self._clock())
        keypair = _new_keypair()
        self._save(keypair, old)
        self.keypair, self._old_keys, self._document = keypair, old, None
        return keypair

    def key_document(self) -> dict[str, Any]:
        """The signed key document, re-signed when half its validity has passed."""
        now = self._clock()
        document = self._document
        if document is None or document["valid_until_ts"] - now < KEY_VALIDITY_MS // 2:
            document = self.sign(
                {
                    "server_name": self.server_name,
                    "valid_until_ts": now + KEY_VALIDITY_MS,
                    "verify_keys": {self.keypair.key_id: {"key": self.keypair.public_key}},
                    "old_verify_keys": {
                        key_id: {"key": old.key, "expired_ts": old.expired_ts}
                        for key_id, old in self._old_keys.items()
                    },
                }
            )
            self._document = document
        return document
