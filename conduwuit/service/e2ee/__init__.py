"""End-to-end encryption infrastructure: device and cross-signing keys, device-list
tracking, to-device messages and key backups.

``E2ee`` composes the parts; :class:`E2eeSyncReader` is the read API /sync uses.
"""

from __future__ import annotations

from typing import Any

from conduwuit.core.ids import server_of
from conduwuit.db import Batch, Database
from conduwuit.service.e2ee.cross_signing import CrossSigning
from conduwuit.service.e2ee.device_keys import DeviceKeys
from conduwuit.service.e2ee.device_lists import (
    DeviceListChanges,
    DeviceLists,
    DeviceUpdate,
    RemoteDeviceListSink,
    SigningKeyUpdate,
)
from conduwuit.service.e2ee.key_backup import KeyBackups
from conduwuit.service.e2ee.ports import (
    DeviceDirectory,
    RemoteKeys,
    RoomMembership,
    Wake,
    no_wake,
)
from conduwuit.service.e2ee.sync_reader import E2eeSyncReader
from conduwuit.service.e2ee.to_device import ToDevice, ToDeviceBatch

__all__ = [
    "CrossSigning",
    "DeviceKeys",
    "DeviceListChanges",
    "DeviceLists",
    "DeviceUpdate",
    "E2ee",
    "E2eeSyncReader",
    "KeyBackups",
    "RemoteDeviceListSink",
    "SigningKeyUpdate",
    "ToDevice",
    "ToDeviceBatch",
]

#: The failure /keys/query and /keys/claim report for users of other servers when
#: there is no federation to ask them (the spec's "homeserver could not be reached").
REMOTE_UNAVAILABLE = {"status": 503, "message": "Federation is not available"}
#: How long /keys/query and /keys/claim wait for other servers by default (the
#: spec's ``timeout``: 10 seconds).
DEFAULT_REMOTE_TIMEOUT_MS = 10_000


class E2ee:
    """The e2ee services, built from the database and what they need of others."""

    def __init__(
        self,
        db: Database,
        server_name: str,
        devices: DeviceDirectory,
        membership: RoomMembership,
        *,
        wake: Wake = no_wake,
        remote_device_lists: RemoteDeviceListSink | None = None,
    ) -> None:
        self.server_name = server_name
        self._db = db
        self._devices = devices
        self.device_lists = DeviceLists(
            db, server_name, membership, wake=wake, remote=remote_device_lists
        )
        self.device_keys = DeviceKeys(db, devices, self.device_lists, wake=wake)
        self.cross_signing = CrossSigning(
            db, devices, self.device_keys, self.device_lists, wake=wake
        )
        self.to_device = ToDevice(db, server_name, devices, wake=wake)
        self.key_backups = KeyBackups(db)
        self.sync = E2eeSyncReader(self.device_keys, self.device_lists, self.to_device)
        self._wake = wake
        #: Wakes the long-polling syncs of local users (for changes made elsewhere).
        self.wake = wake
        #: Other servers' users' keys (set by the composition root with federation).
        self.remote: RemoteKeys | None = None

    def is_local(self, user_id: str) -> bool:
        return server_of(user_id) == self.server_name

    async def query_all(
        self, requester: str, wanted: dict[str, list[str]], timeout_ms: int | None = None
    ) -> dict[str, Any]:
        """POST /keys/query: local users from here, remote ones from their servers
        (all at once, each within ``timeout_ms``)."""
        remote = {u: d for u, d in wanted.items() if not self.is_local(u)}
        local = {u: d for u, d in wanted.items() if self.is_local(u)}
        result = self.query(requester, local if self.remote is not None else wanted)
        if remote and self.remote is not None:
            found = await self.remote.query(remote, _timeout_s(timeout_ms))
            for part, by_user in found.items():
                result[part].update(by_user)
            for user_id in remote:
                master = result["master_keys"].get(user_id)
                if master is not None:
                    result["master_keys"][user_id] = self.cross_signing.with_private_signatures(
                        master, user_id, requester
                    )
        return result

    async def claim_all(
        self, wanted: dict[str, dict[str, str]], timeout_ms: int | None = None
    ) -> dict[str, Any]:
        """POST /keys/claim: local devices' keys from here, remote ones from their
        servers (all at once, each within ``timeout_ms``)."""
        remote = {u: d for u, d in wanted.items() if not self.is_local(u)}
        local = {u: d for u, d in wanted.items() if self.is_local(u)}
        result = self.claim(local if self.remote is not None else wanted)
        if remote and self.remote is not None:
            found = await self.remote.claim(remote, _timeout_s(timeout_ms))
            result["one_time_keys"].update(found["one_time_keys"])
            result["failures"].update(found["failures"])
        return result

    def query(self, requester: str, wanted: dict[str, list[str]]) -> dict[str, Any]:
        """Device keys and cross-signing keys of the wanted local users (a remote
        user's server is reported in ``failures``: see ``query_all``)."""
        result: dict[str, Any] = {
            "device_keys": {},
            "master_keys": {},
            "self_signing_keys": {},
            "user_signing_keys": {},
            "failures": {},
        }
        for user_id, device_ids in wanted.items():
            if not self.is_local(user_id):
                result["failures"][server_of(user_id)] = REMOTE_UNAVAILABLE
                continue
            result["device_keys"][user_id] = self.device_keys.query_user(user_id, device_ids)
            for usage, signing_key in self.cross_signing.keys_for_query(user_id, requester).items():
                result[f"{usage}_keys"][user_id] = signing_key
        return result

    def claim(self, wanted: dict[str, dict[str, str]]) -> dict[str, Any]:
        """One-time keys of local devices (remote users' servers are reported in
        ``failures``: see ``claim_all``)."""
        local = {u: d for u, d in wanted.items() if self.is_local(u)}
        failures = {server_of(u): REMOTE_UNAVAILABLE for u in wanted if not self.is_local(u)}
        return {"one_time_keys": self.device_keys.claim(local), "failures": failures}

    def stage_device_deleted(self, b: Batch, user_id: str, device_id: str) -> None:
        """Stage forgetting a deleted device's keys and waiting messages, in the
        deletion's own batch (a ``Devices.deletion_listeners`` entry); if it had
        identity keys, everyone who shares a room hears of it once ``b`` commits."""
        if self.device_keys.stage_delete_device(b, user_id, device_id):
            update = DeviceUpdate(device_id, None, deleted=True)
            woken = self.device_lists.stage_key_change(b, user_id, [update])
            b.after_commit(lambda: self._wake(woken))
        self.to_device.stage_delete_device(b, user_id, device_id)

    def membership_changed(self, user_id: str, room_id: str, joined: bool) -> None:
        """A join listener: room-mates hear of each other, and a local user's devices
        are announced to the room's other servers when the user joins."""
        self.device_lists.membership_changed(user_id, room_id, joined)
        if joined and self.is_local(user_id):
            self.device_lists.announce_to_room(user_id, room_id, self._device_updates)

    def _device_updates(self, user_id: str) -> list[DeviceUpdate]:
        """Every device of a local user with its keys (None if it has none)."""
        keys = self.device_keys.all_for_user(user_id)
        return [
            DeviceUpdate(d.device_id, keys.get(d.device_id))
            for d in self._devices.list_devices(user_id)
        ]

    def stage_device_renamed(
        self, b: Batch, user_id: str, device_id: str, display_name: str | None
    ) -> None:
        """A device was renamed (a ``Devices.rename_listeners`` entry): those sharing
        a room hear of it, here and over federation. A device without identity keys
        too, as Synapse's ``update_device`` notifies on every rename (Complement's
        partial-state device list tests rename a device that has none); its update
        carries no keys."""
        keys = self.device_keys.get(user_id, device_id)
        update = DeviceUpdate(device_id, keys, renamed=True, display_name=display_name)
        woken = self.device_lists.stage_key_change(b, user_id, [update])
        b.after_commit(lambda: self._wake(woken))

    def user_deactivated(self, user_id: str) -> None:
        """Forget a deactivated user's key backups (as Synapse does) and the device-list
        changes they had yet to hear of. Their devices, and with them their device
        keys, went with the deactivation itself. Cross-signing keys stay, as in
        Synapse: others may still need to verify old signatures."""
        with self._db.batch() as b:
            self.key_backups.stage_delete_user(b, user_id)
            self.device_lists.stage_forget_user(b, user_id)


def _timeout_s(timeout_ms: int | None) -> float:
    """The request's ``timeout`` in seconds (default 10 s, never negative)."""
    return max(0, timeout_ms if timeout_ms is not None else DEFAULT_REMOTE_TIMEOUT_MS) / 1000
