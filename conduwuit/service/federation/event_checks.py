"""Hashes and signatures of an incoming PDU (server-server API, "Validating hashes
and signatures on received events"), with the keys fetched as needed.

:meth:`PduSignatures.check` is the one call the federation room work makes for
every received event: it fetches the key of every signature a required server put
on the event (the sender's server; v1/v2 the event ID's server; v8+ the server
authorising a restricted join — see ``core.event_signing``), then checks the
signatures over the redacted event (failure: the event is rejected) and the content
hash (failure: the event is used redacted). For room versions 5+ a key counts only
if it was valid at the event's ``origin_server_ts``.
"""

from __future__ import annotations

from typing import Any

from conduwuit.core.event_hashing import HashMismatchError, check_content_hash
from conduwuit.core.event_signing import required_signature_servers, verify_event_signatures
from conduwuit.core.redaction import redact
from conduwuit.core.room_versions import RoomVersion
from conduwuit.core.signing import SignatureError
from conduwuit.service.federation.keys import RemoteKeys


class PduSignatures:
    def __init__(self, keys: RemoteKeys) -> None:
        self._keys = keys

    async def check(
        self, pdu: dict[str, Any], room_version: RoomVersion, *, for_join: bool = False
    ) -> dict[str, Any]:
        """The event to use (redacted when its content hash does not match), or
        ``SignatureError`` when a required signature is missing or does not verify.

        Without the sender's ``unsigned``: nothing signs it, and what it would say
        (``transaction_id``, ``redacted_because``, ``prev_content``, ``m.relations``)
        is this server's to compute for its clients. Synapse strips it the same way
        on receipt (``_strip_unsigned_values``; the invite and knock room state it
        keeps come here in the request bodies, not in ``unsigned``)."""
        pdu = {k: v for k, v in pdu.items() if k != "unsigned"}
        ts = pdu.get("origin_server_ts")
        valid_at = ts if room_version.enforce_key_validity and isinstance(ts, int) else 0
        signatures = pdu.get("signatures")
        if not isinstance(signatures, dict):
            raise SignatureError("event has no signatures")
        known: dict[tuple[str, str], tuple[str, int | None]] = {}
        for server in required_signature_servers(pdu, room_version):
            by_server = signatures.get(server)
            for key_id in by_server if isinstance(by_server, dict) else ():
                if not isinstance(key_id, str) or not key_id.startswith("ed25519:"):
                    continue
                key = await self._keys.key(server, key_id, valid_at=valid_at, for_join=for_join)
                if key is not None:
                    known[(server, key_id)] = (key.key, key.valid_until_ts)
        verify_event_signatures(pdu, room_version, lambda s, k: known.get((s, k)))
        try:
            check_content_hash(pdu, room_version)
        except HashMismatchError:
            return redact(pdu, room_version)
        return pdu
