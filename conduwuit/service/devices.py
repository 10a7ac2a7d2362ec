"""Devices and their tokens: access tokens, refresh tokens and login tokens.

Each device has exactly one access token (and at most one refresh token); logging in
again with a known device ID replaces them ("Relationship between access tokens and
devices": the server may invalidate tokens previously associated with the device).
Deleting a device deletes its tokens in the same batch.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from conduwuit.db import Database
from conduwuit.db.batch import Batch
from conduwuit.db.codec import key, prefix
from conduwuit.db.maps import MAPS
from conduwuit.service.clock import Clock

DEVICE_ID_LENGTH = 10
TOKEN_LENGTH = 32
_UPPER = string.ascii_uppercase


def generate_device_id() -> str:
    return "".join(secrets.choice(_UPPER) for _ in range(DEVICE_ID_LENGTH))


def generate_token() -> str:
    return secrets.token_urlsafe(TOKEN_LENGTH)


@dataclass(frozen=True)
class Device:
    device_id: str
    display_name: str | None = None
    last_seen_ip: str | None = None
    last_seen_ts: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The spec's Device object: absent fields are omitted."""
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class TokenOwner:
    user_id: str
    device_id: str
    expires_ts: int | None


@dataclass(frozen=True)
class Session:
    """What a login or registration hands to the client."""

    user_id: str
    device_id: str
    access_token: str
    refresh_token: str | None = None
    expires_in_ms: int | None = None


def _owner(raw: bytes) -> TokenOwner:
    data = json.loads(raw)
    return TokenOwner(data["user_id"], data["device_id"], data.get("expires_ts"))


def _owner_bytes(user_id: str, device_id: str, expires_ts: int | None) -> bytes:
    record = {"user_id": user_id, "device_id": device_id, "expires_ts": expires_ts}
    return json.dumps(record, separators=(",", ":")).encode()


#: Stages, in a device deletion's batch, deleting what another area keeps per
#: device (e2ee keys, waiting to-device messages): ``(batch, user_id, device_id)``.
DeletionListener = Callable[[Batch, str, str], None]
#: Called with ``(batch, user_id, device_id, new name)`` when a device is renamed,
#: in the rename's batch (device lists: other servers may show the name).
RenameListener = Callable[[Batch, str, str, str | None], None]


class Devices:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        refreshable_token_lifetime_ms: int,
        refresh_token_lifetime_ms: int | None,
        login_token_ttl_ms: int,
    ) -> None:
        self._db = db
        self._clock = clock
        self._metadata = db.map(MAPS.userdeviceid_metadata)
        self._device_token = db.map(MAPS.userdeviceid_token)
        self._token_device = db.map(MAPS.token_userdeviceid)
        self._device_refresh = db.map(MAPS.userdeviceid_refreshtoken)
        self._refresh_device = db.map(MAPS.refreshtoken_userdeviceid)
        self._login_tokens = db.map(MAPS.logintoken_userid)
        self.refreshable_token_lifetime_ms = refreshable_token_lifetime_ms
        self.refresh_token_lifetime_ms = refresh_token_lifetime_ms
        self.login_token_ttl_ms = login_token_ttl_ms
        self.deletion_listeners: list[DeletionListener] = []
        self.rename_listeners: list[RenameListener] = []

    # -- devices -------------------------------------------------------------------
    def get(self, user_id: str, device_id: str) -> Device | None:
        raw = self._metadata.get(key(user_id, device_id))
        return Device(**json.loads(raw)) if raw else None

    def list_devices(self, user_id: str) -> list[Device]:
        return [Device(**json.loads(v)) for _, v in self._metadata.iter_prefix(prefix(user_id))]

    def device_ids(self, user_id: str) -> list[str]:
        return list(self._device_ids(user_id))

    def _device_ids(self, user_id: str) -> Iterator[str]:
        start = len(prefix(user_id))
        for k, _ in self._metadata.iter_prefix(prefix(user_id)):
            yield k[start:].decode()

    def set_display_name(self, user_id: str, device_id: str, display_name: str | None) -> bool:
        """False if there is no such device."""
        device = self.get(user_id, device_id)
        if device is None:
            return False
        updated = Device(device_id, display_name, device.last_seen_ip, device.last_seen_ts)
        with self._db.batch() as b:
            b.put(self._metadata, key(user_id, device_id), _device_bytes(updated))
            if display_name != device.display_name:
                for listener in self.rename_listeners:
                    listener(b, user_id, device_id, display_name)
        return True

    def create_device(self, user_id: str, device_id: str, display_name: str | None) -> None:
        """A device without an access token: one an application service made for
        its user (client-server API v1.17, PUT /devices/{deviceId})."""
        device = Device(device_id, display_name, None, self._clock())
        with self._db.batch() as b:
            b.put(self._metadata, key(user_id, device_id), _device_bytes(device))

    # -- sessions ----------------------------------------------------------------
    def stage_login(
        self,
        b: Batch,
        user_id: str,
        device_id: str | None,
        display_name: str | None,
        *,
        refresh: bool = False,
        ip: str | None = None,
    ) -> Session:
        """Stage a device (new, or an existing one kept with its display name) and
        fresh tokens for it, revoking the device's previous tokens."""
        device_id = device_id or generate_device_id()
        existing = self.get(user_id, device_id)
        if existing is not None:
            self._stage_revoke_tokens(b, user_id, device_id)
            display_name = existing.display_name
        device = Device(device_id, display_name, ip, self._clock())
        b.put(self._metadata, key(user_id, device_id), _device_bytes(device))
        return self._stage_tokens(b, user_id, device_id, refresh)

    def _stage_tokens(self, b: Batch, user_id: str, device_id: str, refresh: bool) -> Session:
        now = self._clock()
        access_token = generate_token()
        expires_ts = now + self.refreshable_token_lifetime_ms if refresh else None
        b.put(self._device_token, key(user_id, device_id), access_token.encode())
        b.put(
            self._token_device,
            access_token.encode(),
            _owner_bytes(user_id, device_id, expires_ts),
        )
        refresh_token = None
        if refresh:
            refresh_token = generate_token()
            lifetime = self.refresh_token_lifetime_ms
            refresh_expires = now + lifetime if lifetime is not None else None
            b.put(self._device_refresh, key(user_id, device_id), refresh_token.encode())
            b.put(
                self._refresh_device,
                refresh_token.encode(),
                _owner_bytes(user_id, device_id, refresh_expires),
            )
        return Session(
            user_id,
            device_id,
            access_token,
            refresh_token,
            self.refreshable_token_lifetime_ms if refresh else None,
        )

    def _stage_revoke_tokens(self, b: Batch, user_id: str, device_id: str) -> None:
        device_key = key(user_id, device_id)
        token = self._device_token.get(device_key)
        if token is not None:
            b.delete(self._token_device, token)
            b.delete(self._device_token, device_key)
        refresh_token = self._device_refresh.get(device_key)
        if refresh_token is not None:
            b.delete(self._refresh_device, refresh_token)
            b.delete(self._device_refresh, device_key)

    def owner(self, access_token: str) -> TokenOwner | None:
        """Who an access token belongs to (expired tokens included: check ``expires_ts``)."""
        raw = self._token_device.get(access_token.encode())
        return _owner(raw) if raw is not None else None

    def refresh_token_owner(self, refresh_token: str) -> str | None:
        """The user of a refresh token (valid or not), None for an unknown one."""
        raw = self._refresh_device.get(refresh_token.encode())
        return _owner(raw).user_id if raw is not None else None

    def refresh(self, refresh_token: str) -> Session | None:
        """New tokens for the device of a valid refresh token; the old ones stop working.

        The spec lets the old refresh token live until the new tokens are used; we
        revoke it at once, which is simpler and what conduwuit does. None if the
        token is unknown or expired.
        """
        raw = self._refresh_device.get(refresh_token.encode())
        if raw is None:
            return None
        owner = _owner(raw)
        if owner.expires_ts is not None and owner.expires_ts <= self._clock():
            return None
        with self._db.batch() as b:
            self._stage_revoke_tokens(b, owner.user_id, owner.device_id)
            return self._stage_tokens(b, owner.user_id, owner.device_id, True)

    # -- removal -------------------------------------------------------------------
    def stage_delete(self, b: Batch, user_id: str, device_id: str) -> None:
        self._stage_revoke_tokens(b, user_id, device_id)
        b.delete(self._metadata, key(user_id, device_id))
        for listener in self.deletion_listeners:
            listener(b, user_id, device_id)

    def stage_delete_all(self, b: Batch, user_id: str, *, keep: str | None = None) -> None:
        for device_id in list(self._device_ids(user_id)):
            if device_id != keep:
                self.stage_delete(b, user_id, device_id)

    def delete_all(self, user_id: str) -> None:
        """Log every device of the user out (POST /logout/all), in one batch."""
        with self._db.batch() as b:
            self.stage_delete_all(b, user_id)

    def delete(self, user_id: str, device_ids: list[str]) -> None:
        with self._db.batch() as b:
            for device_id in device_ids:
                self.stage_delete(b, user_id, device_id)

    # -- login tokens (m.login.token) -----------------------------------------------
    def create_login_token(self, user_id: str) -> tuple[str, int]:
        """A single-use login token and its lifetime in ms."""
        token = generate_token()
        expires_ts = self._clock() + self.login_token_ttl_ms
        record = json.dumps({"user_id": user_id, "expires_ts": expires_ts}).encode()
        self._login_tokens.put(token.encode(), record)
        return token, self.login_token_ttl_ms

    def consume_login_token(self, token: str) -> str | None:
        """The user a valid login token logs in (it is used up), else None."""
        raw = self._login_tokens.get(token.encode())
        if raw is None:
            return None
        self._login_tokens.delete(token.encode())
        data = json.loads(raw)
        if data["expires_ts"] <= self._clock():
            return None
        user_id: str = data["user_id"]
        return user_id


def _device_bytes(device: Device) -> bytes:
    return json.dumps(asdict(device), separators=(",", ":")).encode()
