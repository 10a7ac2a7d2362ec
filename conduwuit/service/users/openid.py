"""OpenID tokens (client-server API "OpenID"; server-server API "OpenID"): a user
asks for a short-lived token that a third party (an integration manager, a widget)
redeems at our federation endpoint to learn who the user is, and nothing more.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from conduwuit.db import Database
from conduwuit.db.codec import from_u64, u64
from conduwuit.db.maps import MAPS
from conduwuit.service.clock import Clock

#: Lifetime of a token: Synapse's and conduwuit's one hour.
OPENID_TOKEN_TTL_MS = 3600 * 1000


@dataclass(frozen=True)
class OpenIdToken:
    access_token: str
    expires_in_s: int


class OpenId:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._tokens = db.map(MAPS.openidtoken_expiresatuserid)
        self._clock = clock

    def create(self, user_id: str) -> OpenIdToken:
        token = secrets.token_urlsafe(24)
        expires = self._clock() + OPENID_TOKEN_TTL_MS
        with self._db.batch() as b:
            b.put(self._tokens, token.encode("ascii"), u64(expires) + user_id.encode("utf-8"))
        return OpenIdToken(token, OPENID_TOKEN_TTL_MS // 1000)

    def redeem(self, token: str) -> str | None:
        """The user of an unexpired token, else None (an expired one is deleted).
        A token can be redeemed until it expires, as in Synapse and conduwuit."""
        try:
            raw_key = token.encode("ascii")
        except UnicodeEncodeError:
            return None
        raw = self._tokens.get(raw_key)
        if raw is None or len(raw) < 8:
            return None
        if from_u64(raw[:8]) <= self._clock():
            with self._db.batch() as b:
                b.delete(self._tokens, raw_key)
            return None
        return raw[8:].decode("utf-8")
