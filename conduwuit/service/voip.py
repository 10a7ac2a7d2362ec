"""TURN credentials for calls (client-server API "Voice over IP", GET /voip/turnServer).

With ``turn_secret`` the credentials are time-limited, as coturn's
``use-auth-secret`` expects (the TURN REST API draft): username
``"<expiry unix seconds>:<user ID>"``, password ``base64(HMAC-SHA1(secret, username))``;
otherwise the static ``turn_username``/``turn_password``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from conduwuit.core.errors import not_found
from conduwuit.service.clock import Clock


@dataclass(frozen=True)
class TurnConfig:
    uris: tuple[str, ...]
    secret: str
    username: str
    password: str
    ttl_s: int
    allow_guests: bool


def turn_password(secret: str, username: str) -> str:
    mac = hmac.new(secret.encode("utf-8"), username.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


class Voip:
    def __init__(self, config: TurnConfig, server_name: str, clock: Clock) -> None:
        self.config = config
        self._server_name = server_name
        self._clock = clock

    def turn_server(self, user_id: str | None) -> dict[str, Any]:
        """The credentials for ``user_id`` (None: an unauthenticated caller, who gets
        a random user ID in a time-limited username, as conduwuit does)."""
        c = self.config
        if not c.uris:
            # conduwuit (MSC4166): 404 when no TURN server is configured; Synapse
            # answers {} instead, which clients treat the same way.
            raise not_found("Not Found")
        if c.secret:
            expiry = self._clock() // 1000 + c.ttl_s
            who = user_id or f"@{secrets.token_hex(8)}:{self._server_name}"
            username = f"{expiry}:{who}"
            password = turn_password(c.secret, username)
        else:
            username, password = c.username, c.password
        return {"username": username, "password": password, "uris": list(c.uris), "ttl": c.ttl_s}
