"""Inviting a user of another server (server-server API "Inviting to a room").

The invite event is built and checked by the event pipeline as usual; before it is
persisted (still under the room's lock) it goes to the invitee's server with
``PUT /_matrix/federation/v2/invite/{roomId}/{eventId}`` and the room's stripped
state. That server answers the same event with its signature added: the signature
is checked with its key, and the event is persisted with both signatures (then the
sender sends it to the room's servers like any event). A refusal (its 4xx, passed
on) or no answer (502) leaves nothing written.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from conduwuit.core.errors import ErrCode, MatrixError
from conduwuit.core.events import Event
from conduwuit.core.ids import server_of
from conduwuit.core.redaction import redact
from conduwuit.core.room_versions import RoomVersion
from conduwuit.core.signing import SignatureError, verify_signed_json
from conduwuit.service.federation.client import (
    FederationClient,
    FederationDisabled,
    FederationError,
    ForbiddenServer,
    RemoteError,
)
from conduwuit.service.federation.keys import RemoteKeys
from conduwuit.service.rooms.persist import STRIPPED_STATE_TYPES, stripped
from conduwuit.service.rooms.state import RoomState


class RemoteInvites:
    def __init__(self, client: FederationClient, keys: RemoteKeys, state: RoomState) -> None:
        self._client = client
        self._keys = keys
        self._state = state

    def _invite_room_state(self, before: int, event: Event) -> list[dict[str, Any]]:
        out = []
        for event_type in STRIPPED_STATE_TYPES:
            found = self._state.pdu_at(before, event_type, "")
            if found is not None:
                out.append(stripped(found))
        inviter = self._state.pdu_at(before, "m.room.member", event.sender)
        if inviter is not None:
            out.append(stripped(inviter))
        return out

    async def countersign(self, event: Event, rv: RoomVersion, before: int) -> dict[str, Any]:
        """The invite with the invitee's server's signature (a ``Countersign``)."""
        target = event.state_key or ""
        server = server_of(target)
        pdu = dict(event.pdu)
        room_id = str(event.room_id)
        path = (
            f"/_matrix/federation/v2/invite/{quote(room_id, safe='')}/"
            f"{quote(event.event_id, safe='')}"
        )
        body = {
            "event": pdu,
            "room_version": rv.identifier,
            "invite_room_state": self._invite_room_state(before, event),
        }
        try:
            answer = await self._client.request(server, "PUT", path, content=body)
        except (FederationDisabled, ForbiddenServer) as exc:
            raise MatrixError(ErrCode.FORBIDDEN, str(exc), status=403) from None
        except RemoteError as exc:
            status = exc.status if 400 <= exc.status < 500 else 502
            raise MatrixError(
                exc.errcode or ErrCode.UNKNOWN, f"{server} refused the invite: {exc}", status=status
            ) from None
        except FederationError as exc:
            raise MatrixError(
                ErrCode.UNKNOWN, f"{server} could not be reached: {exc}", status=502
            ) from None
        returned = answer.get("event") if isinstance(answer, dict) else None
        signatures = returned.get("signatures") if isinstance(returned, dict) else None
        theirs = signatures.get(server) if isinstance(signatures, dict) else None
        if not isinstance(theirs, dict) or not theirs:
            raise MatrixError(ErrCode.UNKNOWN, f"{server} did not sign the invite", status=502)
        merged = {**pdu, "signatures": {**pdu.get("signatures", {}), server: dict(theirs)}}
        await self._check_signature(merged, server, theirs, rv)
        return merged

    async def _check_signature(
        self, pdu: dict[str, Any], server: str, theirs: dict[str, Any], rv: RoomVersion
    ) -> None:
        signed = redact(pdu, rv)
        for key_id in theirs:
            if not isinstance(key_id, str) or not key_id.startswith("ed25519:"):
                continue
            key = await self._keys.key(server, key_id)
            if key is None:
                continue
            try:
                verify_signed_json(signed, server, key_id, key.key)
            except SignatureError:
                continue
            return
        raise MatrixError(
            ErrCode.UNKNOWN, f"{server}'s signature on the invite does not verify", status=502
        )
