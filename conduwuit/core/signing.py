"""Ed25519 keys and signed JSON (appendices: "Signing JSON").

A JSON object is signed by removing ``signatures`` and ``unsigned``, encoding the
rest as canonical JSON, signing that, and adding the unpadded-base64 signature
under ``signatures[entity][key_id]``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from conduwuit.core import base64 as b64
from conduwuit.core import canonical_json

ALGORITHM = "ed25519"


@dataclass(frozen=True)
class Keypair:
    """A server signing key: ``key_id`` is ``ed25519:<version>``."""

    key_id: str
    signing_key: SigningKey

    @classmethod
    def generate(cls, version: str) -> Keypair:
        return cls(f"{ALGORITHM}:{version}", SigningKey.generate())

    @classmethod
    def from_seed(cls, key_id: str, seed: bytes) -> Keypair:
        return cls(key_id, SigningKey(seed))

    @property
    def seed(self) -> bytes:
        return bytes(self.signing_key)

    @property
    def public_key(self) -> str:
        """The unpadded-base64 public key, as published in ``verify_keys``."""
        return b64.encode(bytes(self.signing_key.verify_key))


class SignatureError(ValueError):
    """A signature is missing, malformed or does not verify."""


def _signable(obj: dict[str, Any]) -> bytes:
    return canonical_json.encode(
        {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    )


def sign_json(obj: dict[str, Any], entity: str, keypair: Keypair) -> dict[str, Any]:
    """Return a copy of ``obj`` with this key's signature added."""
    signed = copy.deepcopy(obj)
    signature = keypair.signing_key.sign(_signable(obj)).signature
    unsigned = signed.pop("unsigned", None)
    signed.setdefault("signatures", {}).setdefault(entity, {})[keypair.key_id] = b64.encode(
        signature
    )
    if unsigned is not None:
        signed["unsigned"] = unsigned
    return signed


def verify_signed_json(obj: dict[str, Any], entity: str, key_id: str, public_key: str) -> None:
    """Raise ``SignatureError`` unless ``obj`` carries a valid signature by this key."""
    try:
        signature_b64 = obj["signatures"][entity][key_id]
    except (KeyError, TypeError):
        raise SignatureError(f"no signature from {entity} with key {key_id}") from None
    if not isinstance(signature_b64, str):
        raise SignatureError("signature is not a string")
    try:
        signature = b64.decode(signature_b64)
        verify_key = VerifyKey(b64.decode(public_key))
    except (ValueError, TypeError) as exc:
        raise SignatureError(f"malformed key or signature: {exc}") from None
    try:
        verify_key.verify(_signable(obj), signature)
    except (BadSignatureError, ValueError):  # ValueError: a signature not 64 bytes long
        raise SignatureError(f"signature from {entity} with key {key_id} does not verify") from None
