"""X-Matrix request signatures: the spec's header form, quoting, round trips, tampering."""

from __future__ import annotations

from typing import Any

import pytest
from signedjson.key import decode_signing_key_base64
from signedjson.sign import sign_json as signedjson_sign

from conduwuit.core import base64 as b64
from conduwuit.core.signing import Keypair, SignatureError
from conduwuit.core.x_matrix import (
    XMatrix,
    XMatrixError,
    parse_header,
    request_json,
    sign_request,
    verify_request,
)

KEY = Keypair.from_seed("ed25519:key1", bytes(range(32)))
ORIGIN = "origin.hs.example.com"
DEST = "destination.hs.example.com"


def test_the_spec_example_header_parses() -> None:
    header = (
        'X-Matrix origin="origin.hs.example.com",destination="destination.hs.example.com",'
        'key="ed25519:key1",sig="ABCDEF..."'
    )
    assert parse_header(header) == XMatrix(ORIGIN, DEST, "ed25519:key1", "ABCDEF...")


def test_we_send_what_the_spec_asks_of_senders() -> None:
    auth = XMatrix(ORIGIN, DEST, "ed25519:key1", "sig")
    assert auth.header() == (
        'X-Matrix origin="origin.hs.example.com",destination="destination.hs.example.com",'
        'key="ed25519:key1",sig="sig"'
    )


@pytest.mark.parametrize(
    "header",
    [
        # Names are case-insensitive, order does not matter, tokens may go unquoted.
        'X-Matrix SIG=abc,Key="ed25519:k",Origin=a.example,destination=b.example',
        # Spaces and tabs around commas, several spaces after the scheme.
        'x-matrix   origin="a.example" ,\tdestination="b.example" , key="ed25519:k",sig="abc"',
        # Colons unquoted, for older servers; unknown parameters ignored.
        "X-Matrix origin=a.example,destination=b.example,key=ed25519:k,sig=abc,extra=1",
        # Backslash escapes in quoted values are removed.
        'X-Matrix origin="a\\.example",destination="b.example",key="ed25519:\\k",sig="a\\bc"',
    ],
)
def test_recipients_accept_every_form_rfc_9110_allows(header: str) -> None:
    assert parse_header(header) == XMatrix("a.example", "b.example", "ed25519:k", "abc")


def test_destination_is_optional_for_older_senders() -> None:
    assert parse_header('X-Matrix origin="a",key="ed25519:k",sig="s"').destination is None


def test_quoting_round_trips_quotes_and_backslashes() -> None:
    odd = XMatrix('a"b', "c\\d", "ed25519:k", "s")
    assert parse_header(odd.header()) == odd


@pytest.mark.parametrize(
    "header",
    [
        "Bearer abc",
        "X-Matrix",
        'X-Matrix origin="a",key="ed25519:k"',  # no sig
        'X-Matrix origin="",key="ed25519:k",sig="s"',  # empty origin
        'X-Matrix origin="a,key="ed25519:k",sig="s"',  # unterminated quote
        'X-Matrix origin="a" key="ed25519:k",sig="s"',  # no comma
        'X-Matrix origin="a",origin="b",key="ed25519:k",sig="s"',  # twice
        "X-Matrix origin=,key=k,sig=s",
        'X-Matrix origin="a\\',
        "X-Matrix =a",
    ],
)
def test_malformed_headers_are_refused(header: str) -> None:
    with pytest.raises(XMatrixError):
        parse_header(header)


def test_signed_request_verifies_with_the_public_key() -> None:
    content = {"a": [1, 2], "b": "ü"}
    auth = sign_request(KEY, "post", "/_matrix/x?y=1", ORIGIN, DEST, content)
    assert (auth.origin, auth.destination, auth.key) == (ORIGIN, DEST, "ed25519:key1")
    verify_request(
        parse_header(auth.header()), KEY.public_key, "POST", "/_matrix/x?y=1", DEST, content
    )


@pytest.mark.parametrize(
    "change",
    [
        {"method": "PUT"},
        {"uri": "/_matrix/x?y=2"},
        {"destination": "evil.example"},
        {"content": {"a": [1, 3], "b": "ü"}},
        {"content": None},
    ],
)
def test_any_tampering_breaks_the_signature(change: dict[str, Any]) -> None:
    request: dict[str, Any] = {
        "method": "POST",
        "uri": "/_matrix/x?y=1",
        "destination": DEST,
        "content": {"a": [1, 2], "b": "ü"},
    }
    auth = sign_request(KEY, origin=ORIGIN, **request)
    request.update(change)
    with pytest.raises(SignatureError):
        verify_request(auth, KEY.public_key, **request)


def test_another_origin_or_key_does_not_verify() -> None:
    auth = sign_request(KEY, "GET", "/x", ORIGIN, DEST)
    forged = XMatrix("other.example", DEST, auth.key, auth.sig)
    with pytest.raises(SignatureError):
        verify_request(forged, KEY.public_key, "GET", "/x", DEST)
    other = Keypair.from_seed("ed25519:key1", bytes(32))
    with pytest.raises(SignatureError):
        verify_request(auth, other.public_key, "GET", "/x", DEST)
    with pytest.raises(SignatureError):
        verify_request(XMatrix(ORIGIN, DEST, auth.key, "!!"), KEY.public_key, "GET", "/x", DEST)


def test_agrees_with_signedjson_as_in_the_spec_python_example() -> None:
    """The spec's example code signs the request object with the JSON signing
    algorithm; signedjson (Synapse's) must produce the signature we verify."""
    signing_key = decode_signing_key_base64("ed25519", "key1", b64.encode(KEY.seed))
    obj = signedjson_sign(request_json("GET", "/x", ORIGIN, DEST, {"k": 1}), ORIGIN, signing_key)
    ours = sign_request(KEY, "GET", "/x", ORIGIN, DEST, {"k": 1})
    assert obj["signatures"][ORIGIN]["ed25519:key1"] == ours.sig
