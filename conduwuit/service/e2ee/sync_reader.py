"""The read API /sync uses for its e2ee parts.

Positions are global stream counts (``Database.current_count``): a sync from
``since`` up to ``until`` asks for what happened at ``since < n <= until``.
"""

from __future__ import annotations

from typing import Any

from conduwuit.service.e2ee.device_keys import DeviceKeys
from conduwuit.service.e2ee.device_lists import DeviceListChanges, DeviceLists
from conduwuit.service.e2ee.to_device import DEFAULT_LIMIT, ToDevice, ToDeviceBatch


class E2eeSyncReader:
    def __init__(
        self, device_keys: DeviceKeys, device_lists: DeviceLists, to_device: ToDevice
    ) -> None:
        self._keys = device_keys
        self._lists = device_lists
        self._to_device = to_device

    def sync_extras(
        self, user_id: str, device_id: str, since: int | None, now: int
    ) -> dict[str, Any]:
        """The e2ee parts of a sync response covering ``(since, now]`` (the sync
        service's ``DeviceExtras``).

        A sync with ``since`` acknowledges every to-device message up to it, which
        is deleted first. Messages are not capped per response: the sync token is
        one stream position, so a capped response's ``next_batch`` would skip the
        messages left out (Synapse caps at 100 because its token has a to-device
        part of its own). ``device_lists`` is only for incremental syncs (spec).
        """
        if since is not None:
            self._to_device.acknowledge(user_id, device_id, since)
        to_device = self._to_device.events(user_id, device_id, since or 0, now, limit=None)
        extras: dict[str, Any] = {
            "to_device": {"events": to_device.events},
            "device_one_time_keys_count": self._keys.one_time_key_counts(user_id, device_id),
            "device_unused_fallback_key_types": self._keys.unused_fallback_key_types(
                user_id, device_id
            ),
        }
        if since is not None:
            extras["device_lists"] = self._lists.changes(user_id, since, now).to_json()
        return extras

    def to_device_events(
        self, user_id: str, device_id: str, since: int, until: int, limit: int = DEFAULT_LIMIT
    ) -> ToDeviceBatch:
        """``to_device.events``: messages at ``since < n <= until``, oldest first, at most
        ``limit``. If ``len(events) == limit`` there may be more: the next batch
        token's to-device position should be ``last_position`` rather than ``until``
        so the rest come in the next sync."""
        return self._to_device.events(user_id, device_id, since, until, limit)

    def acknowledge_to_device(self, user_id: str, device_id: str, since: int) -> None:
        """Delete messages at ``n <= since``: a sync with ``since`` acknowledges them."""
        self._to_device.acknowledge(user_id, device_id, since)

    def device_list_changes(
        self, user_id: str, since: int, until: int | None = None
    ) -> DeviceListChanges:
        """``device_lists``: ``changed`` and ``left`` for ``since < n <= until``."""
        return self._lists.changes(user_id, since, until)

    def one_time_key_counts(self, user_id: str, device_id: str) -> dict[str, int]:
        """``device_one_time_keys_count`` (``signed_curve25519`` always present)."""
        return self._keys.one_time_key_counts(user_id, device_id)

    def unused_fallback_key_types(self, user_id: str, device_id: str) -> list[str]:
        """``device_unused_fallback_key_types``."""
        return self._keys.unused_fallback_key_types(user_id, device_id)

    def one_time_keys_changed(self, user_id: str, since: int) -> bool:
        """Whether the user uploaded or someone claimed one-time keys after ``since``."""
        return self._keys.last_one_time_keys_update(user_id) > since

    def has_news(self, user_id: str, device_id: str, since: int) -> bool:
        """Whether an e2ee part of a sync from ``since`` would be non-empty: to-device
        messages, device-list changes, or a one-time key upload/claim of the user."""
        return (
            self._to_device.has_events(user_id, device_id, since)
            or self._lists.has_changes(user_id, since)
            or self.one_time_keys_changed(user_id, since)
        )
