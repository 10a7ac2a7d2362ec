"""Synapse-compatible shared-secret registration (/_synapse/admin/v1/register).

The format Synapse, its ``register_new_matrix_user`` script and Complement use:
a single-use nonce from GET, then a POST whose ``mac`` is the hex HMAC-SHA1, keyed
with ``registration_shared_secret``, of
``nonce \\0 username \\0 password \\0 ("admin" | "notadmin")[\\0 user_type]``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from conduwuit.core.errors import ErrCode, MatrixError, forbidden
from conduwuit.service.clock import Clock

#: Synapse keeps nonces for 60 seconds.
NONCE_TTL_MS = 60_000


def registration_mac(
    secret: str, nonce: str, username: str, password: str, admin: bool, user_type: str | None
) -> str:
    mac = hmac.new(secret.encode(), digestmod=hashlib.sha1)
    mac.update(nonce.encode())
    mac.update(b"\x00")
    mac.update(username.encode())
    mac.update(b"\x00")
    mac.update(password.encode())
    mac.update(b"\x00")
    mac.update(b"admin" if admin else b"notadmin")
    if user_type:
        mac.update(b"\x00")
        mac.update(user_type.encode())
    return mac.hexdigest()


class SharedSecret:
    def __init__(self, secret: str | None, clock: Clock) -> None:
        self._secret = secret
        self._clock = clock
        self._nonces: dict[str, int] = {}

    @property
    def enabled(self) -> bool:
        return bool(self._secret)

    def _require(self) -> str:
        if not self._secret:
            # Synapse's answer when the secret is unset.
            raise MatrixError(
                ErrCode.UNKNOWN, "Shared secret registration is not enabled", status=400
            )
        return self._secret

    def new_nonce(self) -> str:
        self._require()
        now = self._clock()
        for nonce in [n for n, expiry in self._nonces.items() if expiry <= now]:
            del self._nonces[nonce]
        nonce = secrets.token_hex(32)
        self._nonces[nonce] = now + NONCE_TTL_MS
        return nonce

    def check(
        self,
        nonce: str,
        username: str,
        password: str,
        admin: bool,
        user_type: str | None,
        mac: str,
    ) -> None:
        """Use up the nonce and check the MAC: 400 for a bad nonce, 403 for a bad MAC."""
        secret = self._require()
        expiry = self._nonces.pop(nonce, None)
        if expiry is None or expiry <= self._clock():
            raise MatrixError(ErrCode.UNKNOWN, "unrecognised nonce", status=400)
        want = registration_mac(secret, nonce, username, password, admin, user_type)
        if not hmac.compare_digest(want.encode(), mac.encode()):
            raise forbidden("HMAC incorrect")
