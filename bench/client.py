"""A minimal Matrix client-server API client for load generation (aiohttp).

Only what the scenarios need, spelled as the spec defines it. A server that does not
serve an endpoint answers 404/405 with ``M_UNRECOGNIZED`` (or no Matrix body at all):
that raises :class:`Unsupported`, which the runner reports as such, never as a figure.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import quote

import aiohttp

CS = "/_matrix/client/v3"
REQUEST_TIMEOUT = 60.0
_txn = itertools.count()


class Unsupported(Exception):
    """The server does not serve this endpoint (yet)."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(endpoint)
        self.endpoint = endpoint


class MatrixError(Exception):
    def __init__(self, endpoint: str, status: int, body: Any) -> None:
        errcode = body.get("errcode") if isinstance(body, dict) else None
        super().__init__(f"{endpoint}: HTTP {status} {errcode or ''} {str(body)[:200]}")
        self.status = status
        self.errcode = errcode


def q(value: str) -> str:
    return quote(value, safe="")


def registration_mac(secret: str, nonce: str, username: str, password: str, admin: bool) -> str:
    """Synapse's shared-secret registration MAC: HMAC-SHA1 over NUL-joined fields."""
    mac = hmac.new(secret.encode(), digestmod=hashlib.sha1)
    mac.update(nonce.encode() + b"\x00" + username.encode() + b"\x00" + password.encode())
    mac.update(b"\x00" + (b"admin" if admin else b"notadmin"))
    return mac.hexdigest()


class Client:
    """One user's view of a homeserver; shares the aiohttp session it is given."""

    def __init__(
        self, session: aiohttp.ClientSession, base_url: str, access_token: str | None = None
    ) -> None:
        self.session = session
        self.base_url = base_url
        self.access_token = access_token
        self.user_id: str | None = None
        self.device_id: str | None = None

    async def request(
        self,
        method: str,
        path: str,
        endpoint: str,
        *,
        body: Any = None,
        params: dict[str, str] | None = None,
        auth: bool = True,
        wait_s: float = REQUEST_TIMEOUT,
    ) -> Any:
        """``endpoint`` names the route without ids, for reports (e.g. ``PUT send``)."""
        headers = {}
        if auth and self.access_token:
            headers["Authorization"] = f"Bearer {self.access_token}"
        async with self.session.request(
            method,
            self.base_url + path,
            json=body,
            params=params,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=wait_s),
        ) as response:
            raw = await response.read()
            try:
                data = json.loads(raw) if raw else {}
            except ValueError:
                data = None
            if response.status in (404, 405) and (
                not isinstance(data, dict) or data.get("errcode") in (None, "M_UNRECOGNIZED")
            ):
                raise Unsupported(endpoint)
            if response.status >= 400 or not isinstance(data, dict):
                raise MatrixError(endpoint, response.status, data)
            return data

    # -- accounts ------------------------------------------------------------------

    async def register_shared_secret(
        self, secret: str, username: str, password: str, admin: bool = False
    ) -> None:
        path = "/_synapse/admin/v1/register"
        endpoint = "shared-secret register"
        nonce = (await self.request("GET", path, endpoint, auth=False))["nonce"]
        reply = await self.request(
            "POST",
            path,
            endpoint,
            auth=False,
            body={
                "nonce": nonce,
                "username": username,
                "password": password,
                "admin": admin,
                "mac": registration_mac(secret, nonce, username, password, admin),
            },
        )
        self._logged_in(reply)

    async def register_open(self, username: str, password: str) -> None:
        """``/register`` with the dummy stage (an open-registration server)."""
        body: dict[str, Any] = {"username": username, "password": password}
        try:
            reply = await self.request("POST", f"{CS}/register", "register", body=body, auth=False)
        except MatrixError as error:
            if error.status != 401:
                raise
            # the first answer is the UIA challenge; the session is in its body
            reply = await self.request(
                "POST",
                f"{CS}/register",
                "register",
                auth=False,
                body={**body, "auth": {"type": "m.login.dummy"}},
            )
        self._logged_in(reply)

    async def register(self, secret: str, username: str, password: str) -> None:
        try:
            await self.register_shared_secret(secret, username, password)
        except Unsupported:
            await self.register_open(username, password)

    async def login(self, username: str, password: str) -> str:
        reply = await self.request(
            "POST",
            f"{CS}/login",
            "login",
            auth=False,
            body={
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": username},
                "password": password,
                "initial_device_display_name": "bench",
            },
        )
        self._logged_in(reply)
        return str(reply["access_token"])

    def _logged_in(self, reply: dict[str, Any]) -> None:
        self.access_token = reply["access_token"]
        self.user_id = reply.get("user_id")
        self.device_id = reply.get("device_id")

    async def whoami(self) -> str:
        reply = await self.request("GET", f"{CS}/account/whoami", "whoami")
        return str(reply["user_id"])

    # -- rooms ---------------------------------------------------------------------

    async def create_room(self, public: bool = True) -> str:
        reply = await self.request(
            "POST",
            f"{CS}/createRoom",
            "createRoom",
            body={"preset": "public_chat" if public else "private_chat"},
        )
        return str(reply["room_id"])

    async def join(self, room_id: str) -> None:
        await self.request("POST", f"{CS}/join/{q(room_id)}", "join", body={})

    async def send_text(self, room_id: str, text: str) -> str:
        txn = f"b{time.monotonic_ns()}.{next(_txn)}"
        reply = await self.request(
            "PUT",
            f"{CS}/rooms/{q(room_id)}/send/m.room.message/{txn}",
            "send",
            body={"msgtype": "m.text", "body": text},
        )
        return str(reply["event_id"])

    async def sync(
        self,
        since: str | None = None,
        timeout_ms: int = 0,
        request_timeout: float = REQUEST_TIMEOUT,
    ) -> dict[str, Any]:
        params = {"timeout": str(timeout_ms)}
        if since is not None:
            params["since"] = since
        reply: dict[str, Any] = await self.request(
            "GET", f"{CS}/sync", "sync", params=params, wait_s=request_timeout
        )
        return reply

    async def messages(
        self, room_id: str, from_token: str | None, limit: int = 50
    ) -> dict[str, Any]:
        params = {"dir": "b", "limit": str(limit)}
        if from_token is not None:
            params["from"] = from_token
        reply: dict[str, Any] = await self.request(
            "GET", f"{CS}/rooms/{q(room_id)}/messages", "messages", params=params
        )
        return reply


def timeline_events(sync: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(room_id, event) for every timeline event of joined rooms in a /sync answer."""
    found = []
    for room_id, room in sync.get("rooms", {}).get("join", {}).items():
        for event in room.get("timeline", {}).get("events", []):
            found.append((room_id, event))
    return found
