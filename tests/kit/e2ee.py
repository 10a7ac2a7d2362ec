"""Test clients' key material: signed device keys, one-time keys, cross-signing keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nacl.signing import SigningKey

from conduwuit.core import base64 as b64
from conduwuit.core.signing import Keypair, sign_json


def _keypair(key_id: str | None = None) -> tuple[Keypair, str]:
    signing = SigningKey.generate()
    public = b64.encode(bytes(signing.verify_key))
    return Keypair(key_id or f"ed25519:{public}", signing), public


@dataclass
class FakeDevice:
    """A device's ed25519 identity key and what it signs."""

    user_id: str
    device_id: str
    keypair: Keypair = field(init=False)
    public: str = field(init=False)
    _next_otk: int = 0

    def __post_init__(self) -> None:
        self.keypair, self.public = _keypair(f"ed25519:{self.device_id}")

    def sign(self, obj: dict[str, Any]) -> dict[str, Any]:
        return sign_json(obj, self.user_id, self.keypair)

    def device_keys(self) -> dict[str, Any]:
        return self.sign(
            {
                "user_id": self.user_id,
                "device_id": self.device_id,
                "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
                "keys": {
                    f"ed25519:{self.device_id}": self.public,
                    f"curve25519:{self.device_id}": b64.encode(b"c" * 32),
                },
            }
        )

    def one_time_keys(self, n: int, *, fallback: bool = False) -> dict[str, Any]:
        keys = {}
        for _ in range(n):
            self._next_otk += 1
            body: dict[str, Any] = {"key": b64.encode(self._next_otk.to_bytes(32, "big"))}
            if fallback:
                body["fallback"] = True
            keys[f"signed_curve25519:K{self._next_otk}"] = self.sign(body)
        return keys


@dataclass
class FakeCrossSigning:
    """A user's master, self-signing and user-signing keys."""

    user_id: str
    master: Keypair = field(init=False)
    self_signing: Keypair = field(init=False)
    user_signing: Keypair = field(init=False)

    def __post_init__(self) -> None:
        self.master, _ = _keypair()
        self.self_signing, _ = _keypair()
        self.user_signing, _ = _keypair()

    def public(self, which: Keypair) -> str:
        return which.key_id.split(":", 1)[1]

    def key(self, which: Keypair, usage: str, signer: Keypair | None = None) -> dict[str, Any]:
        obj = {
            "user_id": self.user_id,
            "usage": [usage],
            "keys": {which.key_id: self.public(which)},
        }
        return sign_json(obj, self.user_id, signer) if signer else obj

    def upload_body(self) -> dict[str, Any]:
        return {
            "master_key": self.key(self.master, "master"),
            "self_signing_key": self.key(self.self_signing, "self_signing", self.master),
            "user_signing_key": self.key(self.user_signing, "user_signing", self.master),
        }
