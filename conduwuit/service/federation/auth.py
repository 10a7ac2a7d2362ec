"""Inbound request authentication: the ``X-Matrix`` signature of a federating server.

Server-server API, "Request Authentication". A request is accepted when:
federation is on (else 403 M_FORBIDDEN), the header is a well-formed X-Matrix
authorization (else 401 M_UNAUTHORIZED), its ``destination`` (when present) is this
server (else 401), the origin is a valid server name other than ours and not in
``forbidden_remote_server_names`` (else 403), the key is one of the origin's
current keys, valid now (else 401: unknown or expired), and the signature over
method, URI, origin, destination and body verifies with it (else 401).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conduwuit.core.errors import ErrCode, MatrixError, forbidden
from conduwuit.core.ids import ServerName
from conduwuit.core.signing import SignatureError
from conduwuit.core.x_matrix import XMatrixError, parse_header, verify_request
from conduwuit.service.clock import Clock
from conduwuit.service.federation.keys import RemoteKeys


def unauthorized(message: str) -> MatrixError:
    return MatrixError(ErrCode.UNAUTHORIZED, message)


class RequestAuth:
    def __init__(
        self,
        server_name: str,
        keys: RemoteKeys,
        clock: Clock,
        *,
        allow_federation: bool,
        forbidden_servers: frozenset[str],
    ) -> None:
        self.server_name = server_name
        self._keys = keys
        self._clock = clock
        self.allow_federation = allow_federation
        self._forbidden = forbidden_servers
        #: Told the origin of every correctly signed request (the sender ends its
        #: backoff of a server that shows it is up).
        self.origin_listeners: list[Callable[[str], None]] = []

    def check_allowed(self, origin: str | None = None) -> None:
        if not self.allow_federation:
            raise forbidden("Federation is disabled on this server.")
        if origin is not None and origin in self._forbidden:
            raise forbidden(f"{origin} is not allowed to federate with this server.")

    async def authenticate(
        self, method: str, uri: str, header: str | None, content: Any = None
    ) -> str:
        """The origin server of a correctly signed request, or a MatrixError."""
        self.check_allowed()
        if header is None:
            raise unauthorized("Missing X-Matrix Authorization header.")
        try:
            auth = parse_header(header)
        except XMatrixError as exc:
            raise unauthorized(f"Invalid Authorization header: {exc}.") from None
        if auth.destination is not None and auth.destination != self.server_name:
            raise unauthorized(f"This request is for {auth.destination}, not this server.")
        if not ServerName.is_valid(auth.origin) or auth.origin == self.server_name:
            raise unauthorized("Invalid origin in the X-Matrix header.")
        self.check_allowed(auth.origin)
        key = await self._keys.key(auth.origin, auth.key, valid_at=self._clock())
        if key is None or key.old:
            raise unauthorized(f"Unknown or expired key {auth.key} of {auth.origin}.")
        try:
            verify_request(auth, key.key, method, uri, self.server_name, content)
        except SignatureError:
            raise unauthorized("The request is not signed correctly.") from None
        for listener in self.origin_listeners:
            listener(auth.origin)
        return auth.origin
