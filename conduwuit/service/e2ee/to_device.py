"""To-device messages (spec: "Send-to-Device messaging").

PUT /sendToDevice/{eventType}/{txnId} stores one message per target device under
the global stream count; /sync hands a device the messages after its since
position and deletes those up to it, because a client sending a later since
token has acknowledged everything before ("delivered once, deleted after
acknowledgement"). A transaction ID is remembered per sending device and event
type, so a retried request is not delivered twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from conduwuit.core import canonical_json
from conduwuit.core.errors import bad_json
from conduwuit.core.ids import server_of
from conduwuit.db import MAPS, Batch, Database
from conduwuit.db.codec import from_u64, key, prefix, prefix_end, u64
from conduwuit.service.e2ee.ports import DeviceDirectory, Wake, no_wake

log = logging.getLogger(__name__)

#: How many messages one /sync takes at most (Synapse's limit too); the rest wait
#: for the next sync, which starts after the last one handed out.
DEFAULT_LIMIT = 100

#: Stages what a message stored for a local device changes, in the send's own batch:
#: ``(batch, user ID, device ID, the message {"type", "sender", "content"})`` (the
#: appservice sender, MSC4203).
LocalToDevice = Callable[[Batch, str, str, dict[str, Any]], None]

#: Stages an ``m.direct_to_device`` EDU for another server in the send's own batch:
#: ``(batch, server name, EDU content)`` (the federation sender).
RemoteToDevice = Callable[[Batch, str, dict[str, Any]], None]


@dataclass(frozen=True)
class ToDeviceBatch:
    """Messages for one device, and the stream position of the last one (0 if none)."""

    events: list[dict[str, Any]]
    last_position: int


class ToDevice:
    def __init__(
        self,
        db: Database,
        server_name: str,
        devices: DeviceDirectory,
        *,
        wake: Wake = no_wake,
    ) -> None:
        self._db = db
        self._server_name = server_name
        self._devices = devices
        self._wake = wake
        self._events = db.map(MAPS.todeviceid_events)
        self._txns = db.map(MAPS.userdevicetxnid_todevice)
        #: Where messages for other servers' users go (set by the composition root).
        self.remote: RemoteToDevice | None = None
        #: Told of every message stored for a local device.
        self.local_listeners: list[LocalToDevice] = []

    def send(
        self,
        sender: str,
        sender_device: str,
        event_type: str,
        txn_id: str,
        messages: Mapping[str, Mapping[str, Any]],
    ) -> None:
        """Store ``{user: {device or "*": content}}`` for every local target device.

        Unknown users and devices are skipped silently, as Synapse does (the spec
        defines no error). Messages for other servers' users become one
        ``m.direct_to_device`` EDU per server, queued in the same batch (``remote``).
        """
        txn_key = key(sender, sender_device, event_type, txn_id)
        if self._txns.contains(txn_key):
            return
        targets: list[tuple[str, str, dict[str, Any], bytes]] = []
        remote: dict[str, dict[str, Any]] = {}
        for user_id, by_device in messages.items():
            if not isinstance(by_device, dict):
                raise bad_json(f"messages.{user_id} must be an object")
            if server_of(user_id) != self._server_name:
                for content in by_device.values():
                    if not isinstance(content, dict):
                        raise bad_json(f"messages.{user_id} must hold objects")
                remote.setdefault(server_of(user_id), {})[user_id] = dict(by_device)
                continue
            known = {d.device_id for d in self._devices.list_devices(user_id)}
            for device_id, content in by_device.items():
                if not isinstance(content, dict):
                    raise bad_json(f"messages.{user_id}.{device_id} must be an object")
                event = {"type": event_type, "sender": sender, "content": content}
                try:
                    body = canonical_json.encode(event)
                except canonical_json.CanonicalJsonError as exc:
                    raise bad_json(f"Invalid message content: {exc}") from None
                ids = (
                    sorted(known) if device_id == "*" else [device_id] if device_id in known else []
                )
                targets.extend((user_id, d, event, body) for d in ids)
        woken: set[str] = set()
        with self._db.batch() as b:
            n = b.next_count()
            for user_id, device_id, event, body in targets:
                b.put(self._events, key(user_id, device_id, n), body)
                woken.add(user_id)
                for listener in self.local_listeners:
                    listener(b, user_id, device_id, event)
            b.put(self._txns, txn_key, u64(n))
            for server, by_user in remote.items():
                if self.remote is None:
                    log.info("to-device %s for %s dropped: no federation", event_type, server)
                    continue
                edu = {
                    "sender": sender,
                    "type": event_type,
                    "message_id": f"{sender_device}.{n}",
                    "messages": by_user,
                }
                self.remote(b, server, edu)
        self._wake(woken)

    # -- the read API for /sync ---------------------------------------------------------------
    def events(
        self,
        user_id: str,
        device_id: str,
        since: int,
        until: int,
        limit: int | None = DEFAULT_LIMIT,
    ) -> ToDeviceBatch:
        """Messages for a device with ``since < position <= until``, oldest first, at
        most ``limit`` (``None``: all)."""
        p = prefix(user_id, device_id)
        events: list[dict[str, Any]] = []
        last = 0
        for k, v in self._events.iter_range(p + u64(since + 1), p + u64(until + 1)):
            if limit is not None and len(events) >= limit:
                break
            events.append(json.loads(v))
            last = from_u64(k[len(p) :])
        return ToDeviceBatch(events, last)

    def has_events(self, user_id: str, device_id: str, since: int) -> bool:
        p = prefix(user_id, device_id)
        for _ in self._events.iter_range(p + u64(since + 1), prefix_end(p)):
            return True
        return False

    def acknowledge(self, user_id: str, device_id: str, up_to: int) -> None:
        """Delete the device's messages at positions ``<= up_to`` (the client's since)."""
        p = prefix(user_id, device_id)
        end = p + u64(up_to + 1)
        # Most syncs have nothing to acknowledge: a seek instead of a write each time.
        for _ in self._events.iter_range(p, end):
            with self._db.batch() as b:
                b.delete_range(self._events, p, end)
            return

    # -- device removal -----------------------------------------------------------------------
    def stage_delete_device(self, b: Batch, user_id: str, device_id: str) -> None:
        """Drop the device's waiting messages and the transactions it sent."""
        p = prefix(user_id, device_id)
        end = prefix_end(p)
        assert end is not None
        b.delete_range(self._events, p, end)
        b.delete_range(self._txns, p, end)
