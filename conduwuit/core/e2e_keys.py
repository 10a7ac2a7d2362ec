"""Checks of end-to-end encryption key objects (spec: "End-to-End Encryption").

Pure functions over the JSON a client uploads: device keys, one-time and fallback
keys, cross-signing keys, and the signatures on them. Each raises a 400
``MatrixError`` with the errcode the spec names: ``M_INVALID_SIGNATURE`` for a
signature that does not verify, ``M_INVALID_PARAM`` for a malformed object.
"""

from __future__ import annotations

from typing import Any

from conduwuit.core.errors import ErrCode, MatrixError, bad_json, invalid_param
from conduwuit.core.signing import SignatureError, verify_signed_json

ED25519 = "ed25519"
CROSS_SIGNING_USAGES = ("master", "self_signing", "user_signing")


def invalid_signature(message: str = "Invalid signature") -> MatrixError:
    # The errcode's default status is 401 (the federation meaning); the key
    # endpoints answer 400 with it, as the spec's examples and Synapse do.
    return MatrixError(ErrCode.INVALID_SIGNATURE, message, status=400)


def stripped(obj: dict[str, Any]) -> dict[str, Any]:
    """The signed part of an object: without ``signatures`` and ``unsigned``."""
    return {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}


def verify(obj: dict[str, Any], user_id: str, key_id: str, public_key: str) -> None:
    """``M_INVALID_SIGNATURE`` unless ``obj`` carries a valid signature by this key."""
    try:
        verify_signed_json(obj, user_id, key_id, public_key)
    except SignatureError as exc:
        raise invalid_signature(f"Invalid signature: {exc}") from None


def check_device_keys(keys: Any, user_id: str, device_id: str) -> str:
    """Check uploaded DeviceKeys; return the device's ed25519 public key.

    The object must name this user and device (M_INVALID_PARAM), have the
    spec's shape (M_BAD_JSON, as Complement's "Rejects invalid device keys"
    expects) with an ``ed25519:<device_id>`` key, and its self-signature by that
    key, if present, must verify (M_INVALID_SIGNATURE).

    A missing self-signature is accepted, as Synapse accepts it: Complement's
    device-list tests upload placeholder keys with ``"signatures": {}``, and every
    client checks the signature before it trusts a device, so such keys are
    inert. A signature that is there and wrong is refused.
    """
    if not isinstance(keys, dict):
        raise bad_json("device_keys must be an object")
    if keys.get("user_id") != user_id:
        raise invalid_param("device_keys.user_id does not match the requesting user")
    if keys.get("device_id") != device_id:
        raise invalid_param("device_keys.device_id does not match the requesting device")
    algorithms = keys.get("algorithms")
    if not isinstance(algorithms, list) or not all(isinstance(a, str) for a in algorithms):
        raise bad_json("device_keys.algorithms must be a list of strings")
    key_map = keys.get("keys")
    if not isinstance(key_map, dict) or not all(isinstance(v, str) for v in key_map.values()):
        raise bad_json("device_keys.keys must map key IDs to strings")
    signatures = keys.get("signatures")
    if not isinstance(signatures, dict) or not all(
        isinstance(sigs, dict) for sigs in signatures.values()
    ):
        raise bad_json("device_keys.signatures must be an object of objects")
    key_id = f"{ED25519}:{device_id}"
    public_key = key_map.get(key_id)
    if not isinstance(public_key, str):
        raise invalid_param(f"device_keys.keys has no {key_id} key")
    if key_id in signatures.get(user_id, {}):
        verify(keys, user_id, key_id, public_key)
    return public_key


def split_key_id(full_id: Any) -> tuple[str, str]:
    """``"signed_curve25519:AAAAHg"`` -> ``("signed_curve25519", "AAAAHg")``."""
    if not isinstance(full_id, str):
        raise invalid_param("key IDs must be strings")
    algorithm, sep, key_id = full_id.partition(":")
    if not sep or not algorithm or not key_id or "\xff" in full_id:
        raise invalid_param(f"key ID {full_id!r} is not <algorithm>:<key_id>")
    return algorithm, key_id


def check_one_time_key(
    full_id: str, key: Any, user_id: str, device_id: str, ed25519_key: str | None
) -> None:
    """A one-time or fallback key: a string, or a key object.

    A key object's signature by the device (``signed_curve25519``), if present,
    must verify against the device's ed25519 key, so it needs the device keys
    uploaded first or alongside (every client does). Unsigned key objects are
    accepted on the same grounds as unsigned device keys (see check_device_keys).
    """
    split_key_id(full_id)
    if isinstance(key, str):
        return
    if not isinstance(key, dict) or not isinstance(key.get("key"), str):
        raise bad_json(f"one-time key {full_id} must be a string or a key object")
    signatures = key.get("signatures", {})
    if not isinstance(signatures, dict) or not all(
        isinstance(sigs, dict) for sigs in signatures.values()
    ):
        raise bad_json(f"one-time key {full_id}: signatures must be an object of objects")
    key_id = f"{ED25519}:{device_id}"
    if key_id not in signatures.get(user_id, {}):
        return
    if ed25519_key is None:
        raise invalid_param(f"key {full_id} is signed, but the device has no identity keys")
    verify(key, user_id, key_id, ed25519_key)


def cross_signing_public_key(key: dict[str, Any]) -> tuple[str, str]:
    """The one ``(key_id, public_key)`` of a cross-signing key object."""
    keys = key.get("keys")
    if not isinstance(keys, dict) or len(keys) != 1:
        raise invalid_param("a cross-signing key must hold exactly one key")
    ((key_id, public_key),) = keys.items()
    if not isinstance(public_key, str) or key_id != f"{ED25519}:{public_key}":
        raise invalid_param("a cross-signing key must be ed25519:<public key>")
    return key_id, public_key


def check_cross_signing_key(
    key: Any, user_id: str, usage: str, signer: tuple[str, str] | None = None
) -> tuple[str, str]:
    """Check an uploaded cross-signing key; return its ``(key_id, public_key)``.

    ``signer`` is the master key's ``(key_id, public_key)`` that must have signed a
    self-signing or user-signing key (spec: POST /keys/device_signing/upload).
    """
    if not isinstance(key, dict):
        raise invalid_param(f"{usage} key must be an object")
    usages = key.get("usage")
    if key.get("user_id") != user_id or not isinstance(usages, list) or usage not in usages:
        raise invalid_param(f"Invalid {usage} key")
    key_id_and_public = cross_signing_public_key(key)
    if signer is not None:
        signer_id, signer_public = signer
        try:
            verify_signed_json(key, user_id, signer_id, signer_public)
        except SignatureError:
            raise invalid_signature(f"Invalid signature on {usage} key") from None
    return key_id_and_public
