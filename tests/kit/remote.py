"""A remote Matrix server played by the test: it signs requests and events.

:class:`RemoteServer` listens on its own loopback address (``127.0.0.N``) with TLS
from a throwaway CA and serves its key document there, so the homeserver under
test fetches and verifies its key for real. Tests send signed federation requests
(``request``) and build signed PDUs on top of the homeserver's copy of a room
(``event``), as the remote would after joining it. Extra endpoints the homeserver
may call back (``/get_missing_events``, ``/state_ids``, ...) are added to
``routes``.

``federating_homeserver`` starts the in-process homeserver that trusts the CA and
may connect to loopback.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme
from aiohttp import web
from yarl import URL

from conduwuit.core.auth_rules import auth_types_for_event
from conduwuit.core.event_hashing import compute_event_id
from conduwuit.core.event_signing import hash_and_sign_event
from conduwuit.core.room_versions import EventFormat, RoomVersion
from conduwuit.core.x_matrix import sign_request
from conduwuit.service.server_keys import ServerKeys
from tests.kit.homeserver import Homeserver, StartHomeserver
from tests.kit.server import free_port

RouteHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _MemoryStore(dict[bytes, bytes]):
    def put(self, key: bytes, value: bytes) -> None:
        self[key] = value


@dataclass
class RemoteServer:
    host: str
    port: int
    keys: ServerKeys
    #: Requests the homeserver made to this server, as (method, path).
    calls: list[tuple[str, str]] = field(default_factory=list)
    #: Extra endpoints: (method, path prefix) -> handler.
    routes: dict[tuple[str, str], RouteHandler] = field(default_factory=dict)

    @property
    def server_name(self) -> str:
        return f"{self.host}:{self.port}"

    def user(self, localpart: str) -> str:
        return f"@{localpart}:{self.server_name}"

    # -- requests ------------------------------------------------------------------------
    def authorization(self, method: str, uri: str, destination: str, content: Any = None) -> str:
        auth = sign_request(self.keys.keypair, method, uri, self.server_name, destination, content)
        return auth.header()

    async def request(
        self, hs: Homeserver, method: str, uri: str, body: Any = None
    ) -> tuple[int, Any]:
        """A signed request from this server to ``hs`` (``uri`` with its query)."""
        headers = {"Authorization": self.authorization(method, uri, hs.config.server_name, body)}
        kwargs: dict[str, Any] = {"headers": headers}
        if body is not None:
            kwargs["data"] = json.dumps(body)
            headers["Content-Type"] = "application/json"
        # As signed: aiohttp must not re-quote the path (``%24`` stays ``%24``).
        url = URL(str(hs.client.make_url("/")).rstrip("/") + uri, encoded=True)
        async with hs.client.session.request(method, url, **kwargs) as response:
            return response.status, await response.json()

    # -- events --------------------------------------------------------------------------
    def sign(self, pdu: dict[str, Any], rv: RoomVersion) -> dict[str, Any]:
        return hash_and_sign_event(pdu, self.server_name, self.keys.keypair, rv)

    def event(
        self,
        hs: Homeserver,
        room_id: str,
        event_type: str,
        sender: str,
        content: dict[str, Any],
        *,
        state_key: str | None = None,
        prev_events: list[str] | None = None,
        **overrides: Any,
    ) -> dict[str, Any]:
        """A signed PDU of this server on top of ``hs``'s copy of the room: its forward
        extremities as prev_events, auth events from its current state."""
        storage = hs.services.rooms.storage
        rv = storage.state.room_version(room_id)
        assert rv is not None, room_id
        current = storage.state.current_hash(room_id)
        if prev_events is None:
            shortroomid = storage.short.room(room_id)
            assert shortroomid is not None
            prev_events = storage.extremities.get(shortroomid)
        depth = max(
            (int((storage.timeline.get(e) or {}).get("depth", 0)) for e in prev_events),
            default=0,
        )
        pdu: dict[str, Any] = {
            "type": event_type,
            "room_id": room_id,
            "sender": sender,
            "content": content,
            "origin_server_ts": hs.clock(),
            "prev_events": prev_events,
            "depth": depth + 1,
        }
        if state_key is not None:
            pdu["state_key"] = state_key
        auth: list[str] = []
        for key in auth_types_for_event(pdu, rv):
            found = storage.state.event_id_at(current, *key)
            if found is not None and found not in auth:
                auth.append(found)
        pdu["auth_events"] = auth
        pdu.update(overrides)
        if rv.event_format is EventFormat.V1:
            raise NotImplementedError("v1/v2 rooms: event IDs with references")
        return self.sign(pdu, rv)

    @staticmethod
    def event_id(pdu: dict[str, Any], rv: RoomVersion) -> str:
        return compute_event_id(pdu, rv)

    async def join(self, hs: Homeserver, room_id: str, localpart: str) -> str:
        """Join a user of this server to ``hs``'s room the way a received event enters
        (the pipeline's receive path, with real signature checks); the event ID."""
        storage = hs.services.rooms.storage
        rv = storage.state.room_version(room_id)
        assert rv is not None
        user = self.user(localpart)
        pdu = self.event(hs, room_id, "m.room.member", user, {"membership": "join"}, state_key=user)
        checks = hs.services.federation.pdu_signatures

        async def verify(p: dict[str, Any]) -> None:
            await checks.check(p, rv)

        event = await storage.pipeline.receive(pdu, rv, verify)
        return event.event_id

    # -- serving -------------------------------------------------------------------------
    async def _key_document(self, request: web.Request) -> web.Response:
        self.calls.append((request.method, request.path))
        return web.json_response(self.keys.key_document())

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.calls.append((request.method, request.path))
        for (method, prefix), handler in self.routes.items():
            if method == request.method and request.path.startswith(prefix):
                return await handler(request)
        return web.json_response({"errcode": "M_UNRECOGNIZED"}, status=404)


@asynccontextmanager
async def remote_server(
    ca: trustme.CA, host_index: int, clock: Callable[[], int]
) -> AsyncIterator[RemoteServer]:
    """A remote server on ``127.0.0.<host_index>`` (its key document valid by ``clock``)."""
    host = f"127.0.0.{host_index}"
    port = free_port()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(host).configure_cert(context)
    remote = RemoteServer(host, port, ServerKeys(f"{host}:{port}", _MemoryStore(), clock))
    app = web.Application()
    app.router.add_get("/_matrix/key/v2/server", remote._key_document)
    app.router.add_route("*", "/_matrix/federation/{path:.*}", remote._dispatch)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, host, port, ssl_context=context).start()
    try:
        yield remote
    finally:
        await runner.cleanup()


def write_ca(ca: trustme.CA, directory: Path) -> Path:
    path = directory / "federation-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


async def federating_homeserver(
    start: StartHomeserver, ca_file: Path, **options: Any
) -> Homeserver:
    """A homeserver that trusts the test CA and may reach loopback servers."""
    return await start(
        federation_ca_file=str(ca_file),
        ip_range_denylist="[]",
        trusted_servers="[]",
        **options,
    )
