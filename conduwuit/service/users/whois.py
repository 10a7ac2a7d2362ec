"""GET /admin/whois/{userId} (client-server API "Server administration"): a user's
devices and their sessions, for server admins and for the user themselves (as
Synapse). This server records, per device, the IP address and time of the login
that created or last re-used it, and no user agent; so each device has one
session with at most one connection, ``{"ip", "last_seen"}``.
"""

from __future__ import annotations

from typing import Any

from conduwuit.core.errors import forbidden, invalid_param, not_found
from conduwuit.core.ids import UserId
from conduwuit.service.devices import Devices
from conduwuit.service.users.accounts import Accounts


class Whois:
    def __init__(self, accounts: Accounts, devices: Devices, server_name: str) -> None:
        self._accounts = accounts
        self._devices = devices
        self._server_name = server_name

    def whois(self, requester: UserId, target: UserId) -> dict[str, Any]:
        if requester != target:
            account = self._accounts.get(str(requester))
            if account is None or not account.is_admin:
                raise forbidden("You are not a server admin")
        if str(target.server_name) != self._server_name:
            # Synapse: 400 "Can only whois a local user".
            raise invalid_param("Can only whois a local user")
        if not self._accounts.exists(str(target)):
            raise not_found("User not found")
        devices: dict[str, Any] = {}
        for device in self._devices.list_devices(str(target)):
            connection = {
                k: v
                for k, v in (("ip", device.last_seen_ip), ("last_seen", device.last_seen_ts))
                if v is not None
            }
            devices[device.device_id] = {
                "sessions": [{"connections": [connection] if connection else []}]
            }
        return {"user_id": str(target), "devices": devices}
