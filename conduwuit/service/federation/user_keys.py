"""Our users' devices and keys as other servers see them (server-server API, "Device
Management" and "End-to-End Encryption").

Served: ``GET /user/devices/{userId}``, ``POST /user/keys/query`` and
``POST /user/keys/claim``, for local users only. Device display names go out only
with conduwuit's ``allow_device_name_federation`` (off by default, for privacy).

Sent: one ``m.device_list_update`` EDU per change of a local user's device (new or
changed keys, deleted device) and one ``m.signing_key_update`` per change of their
master or self-signing key, to every server sharing a room with them, queued in the
change's own batch (the ``RemoteDeviceListSink`` of the device lists). Updates about
one user form a sequence: each carries the previous one's ``stream_id`` as
``prev_id`` (``userid_devicelistid``), and ``/user/devices`` answers with the last,
so a receiver that missed one notices the gap and resynchronises.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conduwuit.core.errors import invalid_param
from conduwuit.core.ids import server_of
from conduwuit.db import MAPS, Batch, Database
from conduwuit.db.codec import from_u64, u64
from conduwuit.service.e2ee import DeviceUpdate, E2ee, SigningKeyUpdate
from conduwuit.service.e2ee.device_lists import RemoteUpdate
from conduwuit.service.e2ee.ports import DeviceDirectory
from conduwuit.service.federation.partial_device_lists import PartialDeviceListCatchUp
from conduwuit.service.federation.sender import FederationSender

JsonDict = dict[str, Any]

#: The requester /keys/query uses for cross-signing keys asked by another server:
#: nobody local, so no user-signing key and no private signatures are shown.
NO_LOCAL_REQUESTER = ""


class UserKeys:
    def __init__(
        self,
        db: Database,
        server_name: str,
        e2ee: E2ee,
        devices: DeviceDirectory,
        sender: FederationSender,
        *,
        allow_device_names: bool = False,
    ) -> None:
        self._db = db
        self._server_name = server_name
        self._e2ee = e2ee
        self._devices = devices
        self._sender = sender
        self._allow_names = allow_device_names
        self._stream = db.map(MAPS.userid_devicelistid)
        #: Stream IDs staged but maybe not committed yet (several in one batch).
        self._staged: dict[str, int] = {}
        #: Notes each update of a user in a partial-state room (sent again to the
        #: servers it missed once the room is complete).
        self.catch_up: PartialDeviceListCatchUp | None = None

    # -- served ------------------------------------------------------------------------
    def _check_local(self, user_id: str) -> None:
        if server_of(user_id) != self._server_name:
            raise invalid_param(f"{user_id} is not a user of this server.")

    def stream_id(self, user_id: str) -> int:
        raw = self._stream.get(user_id.encode())
        return from_u64(raw) if raw else 0

    def _named(self, user_id: str, device_id: str, keys: JsonDict) -> JsonDict:
        """Device keys with ``unsigned.device_display_name`` only if names federate."""
        keys.pop("unsigned", None)
        if self._allow_names:
            device = self._devices.get(user_id, device_id)
            if device is not None and device.display_name is not None:
                keys["unsigned"] = {"device_display_name": device.display_name}
        return keys

    def devices(self, user_id: str) -> JsonDict:
        """GET /user/devices/{userId}: every device, with its keys if it has any."""
        self._check_local(user_id)
        all_keys = self._e2ee.device_keys.all_for_user(user_id)
        devices: list[JsonDict] = []
        for device in self._devices.list_devices(user_id):
            entry: JsonDict = {"device_id": device.device_id}
            keys = all_keys.get(device.device_id)
            if keys is not None:
                entry["keys"] = keys
            if self._allow_names and device.display_name is not None:
                entry["device_display_name"] = device.display_name
            devices.append(entry)
        answer: JsonDict = {
            "user_id": user_id,
            "stream_id": self.stream_id(user_id),
            "devices": devices,
        }
        signing = self._e2ee.cross_signing.keys_for_query(user_id, NO_LOCAL_REQUESTER)
        for usage in ("master", "self_signing"):
            if usage in signing:
                answer[f"{usage}_key"] = signing[usage]
        return answer

    def query(self, wanted: Mapping[str, list[str]]) -> JsonDict:
        """POST /user/keys/query: device and cross-signing keys of local users."""
        for user_id in wanted:
            self._check_local(user_id)
        answer = self._e2ee.query(NO_LOCAL_REQUESTER, dict(wanted))
        answer.pop("failures", None)
        answer.pop("user_signing_keys", None)
        for user_id, devices in answer["device_keys"].items():
            for device_id, keys in devices.items():
                self._named(user_id, device_id, keys)
        return answer

    def claim(self, wanted: Mapping[str, Mapping[str, str]]) -> JsonDict:
        """POST /user/keys/claim: one-time keys of local users' devices."""
        for user_id in wanted:
            self._check_local(user_id)
        return {"one_time_keys": self._e2ee.device_keys.claim(wanted)}

    # -- sent (the device lists' RemoteDeviceListSink) --------------------------------------
    def stage_outbound(
        self, b: Batch, user_id: str, update: RemoteUpdate, servers: set[str]
    ) -> None:
        if isinstance(update, SigningKeyUpdate):
            content: JsonDict = {"user_id": user_id}
            for usage, signing_key in update.keys.items():
                content[f"{usage}_key"] = signing_key
            edu_type = "m.signing_key_update"
        else:
            edu_type, content = "m.device_list_update", self._device_edu(b, user_id, update)
        self._sender.stage_edu(b, servers, edu_type, content)
        if self.catch_up is not None:
            self.catch_up.stage_sent(b, user_id, edu_type, content, servers)

    def _device_edu(self, b: Batch, user_id: str, update: DeviceUpdate) -> JsonDict:
        previous = self._staged.get(user_id) or self.stream_id(user_id)
        stream_id = b.next_count()
        self._staged[user_id] = stream_id
        b.put(self._stream, user_id.encode(), u64(stream_id))
        b.after_commit(lambda: self._committed(user_id, stream_id))
        content: JsonDict = {
            "user_id": user_id,
            "device_id": update.device_id,
            "stream_id": stream_id,
            "prev_id": [previous] if previous else [],
        }
        if update.deleted:
            content["deleted"] = True
            return content
        if update.keys is None:
            return content
        content["keys"] = {k: v for k, v in update.keys.items() if k != "unsigned"}
        if self._allow_names:
            name = update.display_name if update.renamed else self._display_name(user_id, update)
            if name is not None:
                content["device_display_name"] = name
                content["keys"]["unsigned"] = {"device_display_name": name}
        return content

    def _display_name(self, user_id: str, update: DeviceUpdate) -> str | None:
        device = self._devices.get(user_id, update.device_id)
        return device.display_name if device is not None else None

    def _committed(self, user_id: str, stream_id: int) -> None:
        if self._staged.get(user_id) == stream_id:
            del self._staged[user_id]
