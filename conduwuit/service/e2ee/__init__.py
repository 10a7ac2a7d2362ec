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
    RemoteDeviceListSink,
)
from conduwuit.service.e2ee.key_backup import KeyBackups
from conduwuit.service.e2ee.ports import DeviceDirectory, RoomMembership, Wake, no_wake
from conduwuit.service.e2ee.sync_reader import E2eeSyncReader
from conduwuit.service.e2ee.to_device import ToDevice, ToDeviceBatch

__all__ = [
    "CrossSigning",
    "DeviceKeys",
    "DeviceListChanges",
    "DeviceLists",
    "E2ee",
    "E2eeSyncReader",
    "KeyBackups",
    "RemoteDeviceListSink",
    "ToDevice",
    "ToDeviceBatch",
]

#: The failure /keys/query and /keys/claim report for users of other servers until
#: federation can ask them (the spec's "homeserver could not be reached").
REMOTE_UNAVAILABLE = {"status": 503, "message": "Federation is not available yet"}


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

    def is_local(self, user_id: str) -> bool:
        return server_of(user_id) == self.server_name

    def query(self, requester: str, wanted: dict[str, list[str]]) -> dict[str, Any]:
        """POST /keys/query: device keys and cross-signing keys of the wanted users."""
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
        """POST /keys/claim."""
        local = {u: d for u, d in wanted.items() if self.is_local(u)}
        failures = {server_of(u): REMOTE_UNAVAILABLE for u in wanted if not self.is_local(u)}
        return {"one_time_keys": self.device_keys.claim(local), "failures": failures}

    def stage_device_deleted(self, b: Batch, user_id: str, device_id: str) -> None:
        """Stage forgetting a deleted device's keys and waiting messages, in the
        deletion's own batch (a ``Devices.deletion_listeners`` entry); if it had
        identity keys, everyone who shares a room hears of it once ``b`` commits."""
        if self.device_keys.stage_delete_device(b, user_id, device_id):
            woken = self.device_lists.stage_key_change(b, user_id)
            b.after_commit(lambda: self._wake(woken))
        self.to_device.stage_delete_device(b, user_id, device_id)

    def user_deactivated(self, user_id: str) -> None:
        """Forget a deactivated user's key backups (as Synapse does) and the device-list
        changes they had yet to hear of. Their devices, and with them their device
        keys, went with the deactivation itself. Cross-signing keys stay, as in
        Synapse: others may still need to verify old signatures."""
        with self._db.batch() as b:
            self.key_backups.stage_delete_user(b, user_id)
            self.device_lists.stage_forget_user(b, user_id)
