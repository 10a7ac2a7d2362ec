"""Cross-check canonical JSON and JSON signatures against matrix-org's own
libraries (``canonicaljson`` and ``signedjson``, used by Synapse)."""

from typing import Any

import pytest
from canonicaljson import encode_canonical_json
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from signedjson.key import decode_signing_key_base64, get_verify_key
from signedjson.sign import SignatureVerifyException
from signedjson.sign import sign_json as lib_sign_json
from signedjson.sign import verify_signed_json as lib_verify_signed_json

from conduwuit.core import base64 as b64
from conduwuit.core import canonical_json
from conduwuit.core.signing import Keypair, SignatureError, sign_json, verify_signed_json

SAFE_INT = st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
# Full Unicode without surrogates, which exercises escaping of control
# characters, quotes, backslashes, U+2028/2029 and astral code points.
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
JSON = st.recursive(
    st.none() | st.booleans() | SAFE_INT | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)
OBJECTS = st.dictionaries(TEXT, JSON, max_size=6)
RELAXED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

SEED_B64 = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"
OURS = Keypair.from_seed("ed25519:1", b64.decode(SEED_B64))
THEIRS = decode_signing_key_base64("ed25519", "1", SEED_B64)


@RELAXED
@given(JSON)
def test_canonical_json_matches_canonicaljson(value: Any) -> None:
    assert canonical_json.encode(value) == encode_canonical_json(value)


@pytest.mark.parametrize(
    "value",
    [
        {"b": 1, "a": 2, "é": 3, "\u2028": 4, "\U0001f600": 5, "A": 6},
        {"ctl": "\x00\x01\x1f\x7f", "esc": '"\\/\b\f\n\r\t'},
        [2**53 - 1, -(2**53) + 1, 0, -1],
        {"nested": {"z": [], "y": {}}},
    ],
)
def test_canonical_json_edge_cases(value: Any) -> None:
    assert canonical_json.encode(value) == encode_canonical_json(value)


@pytest.mark.parametrize("value", [2**53, -(2**53), 1.0, {"a": 0.5}])
def test_canonical_json_refuses_what_v6_forbids(value: Any) -> None:
    with pytest.raises(canonical_json.CanonicalJsonError):
        canonical_json.encode(value)


@RELAXED
@given(OBJECTS)
def test_signatures_match_signedjson(obj: dict[str, Any]) -> None:
    obj.pop("signatures", None)
    obj.pop("unsigned", None)
    ours = sign_json(obj, "domain", OURS)
    theirs = lib_sign_json(dict(obj), "domain", THEIRS)
    assert ours["signatures"] == theirs["signatures"]
    # Each library verifies the other's output.
    lib_verify_signed_json(ours, "domain", get_verify_key(THEIRS))
    verify_signed_json(theirs, "domain", "ed25519:1", OURS.public_key)


def test_tampered_signature_rejected_by_both() -> None:
    signed = sign_json({"a": 1}, "domain", OURS)
    signed["a"] = 2
    with pytest.raises(SignatureVerifyException):
        lib_verify_signed_json(signed, "domain", get_verify_key(THEIRS))
    with pytest.raises(SignatureError):
        verify_signed_json(signed, "domain", "ed25519:1", OURS.public_key)
