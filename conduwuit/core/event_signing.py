"""Signing events as this server and checking the signatures an incoming event
needs (server-server API: "Signing events", "Validating hashes and signatures on
received events"; rooms/v1 "event ID server signature"; rooms/v8 restricted joins).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conduwuit.core import canonical_json
from conduwuit.core.event_hashing import add_content_hash
from conduwuit.core.event_types import EventType
from conduwuit.core.ids import server_of
from conduwuit.core.membership import MembershipState
from conduwuit.core.redaction import redact
from conduwuit.core.room_versions import EventFormat, RoomVersion
from conduwuit.core.signing import Keypair, SignatureError, sign_json, verify_signed_json


def sign_event(
    event: dict[str, Any], server_name: str, keypair: Keypair, room_version: RoomVersion
) -> dict[str, Any]:
    """A copy of ``event`` with this server's signature over its redacted form added."""
    redacted = redact(event, room_version)
    signed_redacted = sign_json(redacted, server_name, keypair)
    signatures = {k: dict(v) for k, v in event.get("signatures", {}).items()}
    signatures.setdefault(server_name, {}).update(signed_redacted["signatures"][server_name])
    out = dict(event)
    out["signatures"] = signatures
    return out


def hash_and_sign_event(
    event: dict[str, Any], server_name: str, keypair: Keypair, room_version: RoomVersion
) -> dict[str, Any]:
    """Add the content hash, then sign: what a server does to each event it creates."""
    return sign_event(add_content_hash(event, room_version), server_name, keypair, room_version)


def required_signature_servers(event: dict[str, Any], room_version: RoomVersion) -> set[str]:
    """The servers whose signatures an incoming event must carry.

    - the ``sender``'s server, except for an invite made from a third-party invite,
      which any server may send (Synapse's ``_check_sigs_on_pdu`` exempts it too;
      the auth rules then require the sender to match the ``m.room.third_party_invite``);
    - v1/v2: the server of the ``event_id`` too;
    - v8+: the server of ``content.join_authorised_via_users_server`` when present.
      The auth rule (v8 rule 4.2) applies to any membership carrying the key, so we
      require it for any membership; Synapse only asks for it on joins.
    """
    servers: set[str] = set()
    content = event.get("content")
    content = content if isinstance(content, dict) else {}
    is_member = event.get("type") == EventType.MEMBER
    third_party_invite = (
        is_member
        and content.get("membership") == MembershipState.INVITE
        and "third_party_invite" in content
    )
    if not third_party_invite:
        servers.add(server_of(str(event.get("sender", ""))))
    if room_version.event_format is EventFormat.V1:
        event_id = event.get("event_id")
        if isinstance(event_id, str) and server_of(event_id):
            servers.add(server_of(event_id))
    if room_version.restricted_join_rule and is_member:
        authoriser = content.get("join_authorised_via_users_server")
        if isinstance(authoriser, str):
            servers.add(server_of(authoriser))
    servers.discard("")
    return servers


# (server_name, key_id) -> (unpadded base64 public key, valid_until_ts or None for old keys)
KeyLookup = Callable[[str, str], tuple[str, int | None] | None]


def verify_event_signatures(
    event: dict[str, Any], room_version: RoomVersion, lookup: KeyLookup
) -> None:
    """Raise ``SignatureError`` unless every required server has a valid signature.

    For room versions 5+ a key only counts if its ``valid_until_ts`` is at least the
    event's ``origin_server_ts`` (rooms/v5 "Signing key validity period"). Keys the
    lookup does not know are skipped; the caller fetches keys first.
    """
    redacted = redact(event, room_version)
    if room_version.strict_canonical_json:
        try:
            canonical_json.encode(redacted)
        except canonical_json.CanonicalJsonError as exc:
            raise SignatureError(f"event is not canonical JSON: {exc}") from None
    signatures = event.get("signatures")
    if not isinstance(signatures, dict):
        raise SignatureError("event has no signatures")
    ts = event.get("origin_server_ts")
    for server in sorted(required_signature_servers(event, room_version)):
        by_server = signatures.get(server)
        if not isinstance(by_server, dict) or not by_server:
            raise SignatureError(f"event is not signed by {server}")
        last_error = f"no known key of {server} signed the event"
        for key_id in by_server:
            if not isinstance(key_id, str) or not key_id.startswith("ed25519:"):
                continue
            found = lookup(server, key_id)
            if found is None:
                continue
            public_key, valid_until = found
            if (
                room_version.enforce_key_validity
                and valid_until is not None
                and isinstance(ts, int)
                and valid_until < ts
            ):
                last_error = f"key {key_id} of {server} expired before the event was sent"
                continue
            try:
                verify_signed_json(redacted, server, key_id, public_key)
            except SignatureError as exc:
                last_error = str(exc)
                continue
            break
        else:
            raise SignatureError(last_error)
