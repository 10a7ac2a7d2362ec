"""The fuzzer's account: a logged-in user in a room, and real ids to put in paths.

Fuzzed requests may log the user out, make them leave the room or ban them from it;
:meth:`FuzzSession.ensure` puts things back before the next operation (log in again,
join again, or make a new room), so later operations still reach past authentication
and membership checks.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests

CS = "/_matrix/client/v3"
TIMEOUT = (5.0, 15.0)


class SetupError(RuntimeError):
    """The server refused a request the fuzzer needs to get started."""


def q(value: str) -> str:
    return quote(value, safe="")


@dataclass
class FuzzSession:
    base_url: str
    server_name: str
    http: requests.Session = field(default_factory=requests.Session)
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    user_id: str = ""
    token: str = ""
    device_id: str = ""
    other_user_id: str = ""
    room_id: str = ""
    event_id: str = ""
    alias: str = ""
    filter_id: str = ""

    def call(
        self, method: str, path: str, body: Any = None, *, auth: bool = True
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if auth else {}
        response = self.http.request(
            method, self.base_url + path, json=body, headers=headers, timeout=TIMEOUT
        )
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, None

    def _ok(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        status, reply = self.call(method, path, body)
        if status != 200 or not isinstance(reply, dict):
            raise SetupError(f"{method} {path} -> {status} {reply}")
        return reply

    def register(self, localpart: str) -> dict[str, Any]:
        body: dict[str, Any] = {"username": localpart, "password": self.password}
        status, reply = self.call("POST", f"{CS}/register", body, auth=False)
        if status == 401 and isinstance(reply, dict):
            body["auth"] = {"type": "m.login.dummy", "session": reply.get("session")}
            status, reply = self.call("POST", f"{CS}/register", body, auth=False)
        if status != 200 or not isinstance(reply, dict):
            raise SetupError(f"register {localpart} -> {status} {reply}")
        return reply

    def login(self) -> None:
        status, reply = self.call(
            "POST",
            f"{CS}/login",
            {
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": self.user_id},
                "password": self.password,
            },
            auth=False,
        )
        if status != 200 or not isinstance(reply, dict):
            # The fuzzer changed the password or deactivated the account: start afresh.
            self.start()
            return
        self.token, self.device_id = reply["access_token"], reply["device_id"]

    def start(self) -> None:
        """A fresh user with a fresh room; the other user is registered once."""
        suffix = secrets.token_hex(4)
        if not self.other_user_id:
            self.other_user_id = self.register(f"fuzzpeer{suffix}")["user_id"]
        reply = self.register(f"fuzzer{suffix}")
        self.user_id, self.token = reply["user_id"], reply["access_token"]
        self.device_id = reply["device_id"]
        self.new_room()
        self.filter_id = str(
            self._ok("POST", f"{CS}/user/{q(self.user_id)}/filter", {"room": {}})["filter_id"]
        )

    def new_room(self) -> None:
        localpart = f"fuzz{secrets.token_hex(4)}"
        reply = self._ok(
            "POST",
            f"{CS}/createRoom",
            {"preset": "public_chat", "room_alias_name": localpart, "name": "fuzz"},
        )
        self.room_id = str(reply["room_id"])
        self.alias = f"#{localpart}:{self.server_name}"
        sent = self._ok(
            "PUT",
            f"{CS}/rooms/{q(self.room_id)}/send/m.room.message/{secrets.token_hex(8)}",
            {"msgtype": "m.text", "body": "hello"},
        )
        self.event_id = str(sent["event_id"])

    def ensure(self) -> None:
        """Logged in and joined to the room, whatever the last operation did."""
        status, _ = self.call("GET", f"{CS}/account/whoami")
        if status != 200:
            self.login()
        status, reply = self.call("GET", f"{CS}/joined_rooms")
        if status == 200 and self.room_id in (reply or {}).get("joined_rooms", []):
            return
        status, _ = self.call("POST", f"{CS}/join/{q(self.room_id)}", {})
        if status != 200:
            self.new_room()

    def path_values(self) -> dict[str, str]:
        """Real values for the spec's path parameter names."""
        return {
            "roomId": self.room_id,
            "roomIdOrAlias": self.room_id,
            "roomAlias": self.alias,
            "eventId": self.event_id,
            "userId": self.user_id,
            "deviceId": self.device_id,
            "filterId": self.filter_id,
            "serverName": self.server_name,
            "eventType": "m.room.message",
            "stateKey": "",
        }
