"""A federation peer written for the tests: an HTTPS server on 127.0.0.N with a
certificate from the test CA that accepts ``PUT /_matrix/federation/v1/send``,
serves its own key, and can host a room others join (``make_room``:
``make_join``/``send_join``).

It checks each request's ``X-Matrix`` authorization independently of the server under
test (signedjson), with the origin's key fetched from the origin's own
``/_matrix/key/v2/server`` (whose self-signature it checks too), and records every
transaction. ``fail_next`` makes it answer 500 to that many transactions first.
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import signedjson.key
import signedjson.sign
import trustme
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from conduwuit.core.auth_rules import auth_types_for_event
from conduwuit.core.event_signing import hash_and_sign_event
from conduwuit.core.events import Event
from conduwuit.core.redaction import redact
from conduwuit.core.room_versions import V10
from conduwuit.core.signing import Keypair, sign_json
from conduwuit.core.x_matrix import sign_request
from conduwuit.server import build
from conduwuit.service.clock import system_clock
from conduwuit.service.rooms.storage import RoomStorage
from tests.kit.federation import DENYLIST_WITHOUT_LOOPBACK
from tests.kit.homeserver import FakeClock, Homeserver, homeserver_config
from tests.kit.server import free_port

_PARAM = re.compile(r'(\w+)="?([^",]*)"?')


@dataclass
class Received:
    txn_id: str
    origin: str
    body: dict[str, Any]
    at: float

    @property
    def event_ids(self) -> list[str]:
        return [str(p.get("content", {}).get("body", "")) for p in self.body["pdus"]]


@dataclass
class FederationPeer:
    ca: trustme.CA
    address: str
    #: origin server name -> base URL its keys are fetched from (plain HTTP on loopback)
    key_urls: dict[str, str]
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    fail_next: int = 0
    keypair: Keypair = field(default_factory=lambda: Keypair.generate("peer"))
    #: room ID -> its events in order (create first); the peer's rooms are v10.
    rooms: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: make_join answers this error instead of a template when set: (status, body).
    make_join_error: tuple[int, dict[str, Any]] | None = None
    make_joins: list[str] = field(default_factory=list)
    #: invites received (the request bodies); ``invite_error``: refuse them so
    invites: list[dict[str, Any]] = field(default_factory=list)
    invite_error: tuple[int, dict[str, Any]] | None = None
    #: alias -> room ID, answered on /query/directory
    aliases: dict[str, str] = field(default_factory=dict)
    send_joins: list[dict[str, Any]] = field(default_factory=list)
    #: the query string of each send_join received (we never ask for partial state)
    send_join_queries: list[str] = field(default_factory=list)
    #: user ID -> the /user/devices answer about a user of the peer
    user_devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: user ID -> {"device_keys": ..., "master_keys": ...} parts of /user/keys/query
    user_keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: seconds /user/keys/query waits before answering (a slow server)
    keys_delay: float = 0.0
    #: request paths of the /user/... queries received, in order
    key_requests: list[str] = field(default_factory=list)
    #: Extra PDUs put into every send_join answer's state (e.g. badly signed ones).
    extra_state: list[dict[str, Any]] = field(default_factory=list)
    #: The ``v`` of each /backfill request received, in order.
    backfills: list[str] = field(default_factory=list)
    #: send_join with ``omit_members=true`` answers partial state (MSC3706): no
    #: member events in ``state`` (they stay in ``auth_chain``), ``members_omitted``.
    partial_joins: bool = False
    #: Users whose member events a partial answer keeps (as a resident keeps heroes').
    partial_kept_members: set[str] = field(default_factory=set)
    #: /state_ids answers only once this is set (a resync held back); the event_id of
    #: each /state_ids request, in order.
    state_ids_gate: asyncio.Event | None = None
    state_ids_requests: list[str] = field(default_factory=list)
    #: /state_ids answers this error when set: (status, body) (a refusing server).
    state_ids_error: tuple[int, dict[str, Any]] | None = None
    #: Event IDs /state_ids adds to every answer's state (a lying server).
    state_ids_extra: list[str] = field(default_factory=list)
    #: The event ID of each /event request received, in order; seconds each waits
    #: before answering (a slow server).
    event_requests: list[str] = field(default_factory=list)
    event_delay: float = 0.0
    #: What /get_missing_events answers (whatever was asked): a gap only partly closed.
    missing_events: list[dict[str, Any]] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _keys: dict[tuple[str, str], Any] = field(default_factory=dict)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def server_name(self) -> str:
        return f"{self.address}:{self.port}"

    async def start(self) -> FederationPeer:
        app = web.Application()
        app.router.add_put("/_matrix/federation/v1/send/{txn_id}", self._send)
        app.router.add_get("/_matrix/key/v2/server", self._own_key)
        app.router.add_get("/_matrix/federation/v1/query/directory", self._directory)
        app.router.add_put("/_matrix/federation/v2/invite/{room_id}/{event_id}", self._invite)
        app.router.add_get("/_matrix/federation/v1/make_join/{room_id}/{user_id}", self._make_join)
        app.router.add_put("/_matrix/federation/v2/send_join/{room_id}/{event_id}", self._send_join)
        app.router.add_get("/_matrix/federation/v1/user/devices/{user_id}", self._devices)
        app.router.add_get("/_matrix/federation/v1/backfill/{room_id}", self._backfill)
        app.router.add_get("/_matrix/federation/v1/state_ids/{room_id}", self._state_ids)
        app.router.add_get("/_matrix/federation/v1/event/{event_id}", self._event)
        app.router.add_post(
            "/_matrix/federation/v1/get_missing_events/{room_id}", self._get_missing_events
        )
        app.router.add_post("/_matrix/federation/v1/user/keys/query", self._keys_query)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert(self.address).configure_cert(context)
        await web.TCPSite(self._runner, self.address, self.port, ssl_context=context).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- a room the peer hosts -----------------------------------------------------------
    def user(self, localpart: str) -> str:
        return f"@{localpart}:{self.server_name}"

    def event(
        self, room_id: str, event_type: str, content: dict[str, Any], **extra: Any
    ) -> dict[str, Any]:
        """A signed v10 event of the peer on top of the room's latest event."""
        events = self.rooms.setdefault(room_id, [])
        latest = events[-1] if events else None
        pdu: dict[str, Any] = {
            "type": event_type,
            "room_id": room_id,
            "sender": extra.pop("sender", self.user("charlie")),
            "content": content,
            "origin_server_ts": int(time.time() * 1000),
            "depth": len(events) + 1,
            "prev_events": [self.event_id(latest)] if latest else [],
            "auth_events": extra.pop("auth_events", []),
            **extra,
        }
        signed = hash_and_sign_event(pdu, self.server_name, self.keypair, V10)
        events.append(signed)
        return signed

    @staticmethod
    def event_id(pdu: dict[str, Any]) -> str:
        return Event(pdu, V10).event_id

    def make_room(self) -> str:
        """A public v10 room of @charlie on the peer: create, join, power levels, join rules."""
        room_id = f"!room{len(self.rooms)}:{self.server_name}"
        charlie = self.user("charlie")
        create = self.event(
            room_id, "m.room.create", {"creator": charlie, "room_version": "10"}, state_key=""
        )
        ids = [self.event_id(create)]
        member = self.event(
            room_id,
            "m.room.member",
            {"membership": "join"},
            state_key=charlie,
            auth_events=list(ids),
        )
        ids.append(self.event_id(member))
        pl = self.event(
            room_id,
            "m.room.power_levels",
            {"users": {charlie: 100}},
            state_key="",
            auth_events=list(ids),
        )
        ids.append(self.event_id(pl))
        self.event(
            room_id,
            "m.room.join_rules",
            {"join_rule": "public"},
            state_key="",
            auth_events=list(ids),
        )
        return room_id

    def state_ids(self, room_id: str) -> dict[tuple[str, str], str]:
        state: dict[tuple[str, str], str] = {}
        for pdu in self.rooms[room_id]:
            if "state_key" in pdu:
                state[(pdu["type"], pdu["state_key"])] = self.event_id(pdu)
        return state

    async def _invite(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        self.invites.append(body)
        if self.invite_error is not None:
            status, error = self.invite_error
            return web.json_response(error, status=status)
        event = body["event"]
        origin = server_of_user(event["sender"])
        key_id = next(iter(event["signatures"][origin]))
        key = await self._key(origin, key_id)
        signedjson.sign.verify_signed_json(redacted_for_check(event), origin, key)
        assert self.event_id(event) == request.match_info["event_id"]
        ours = sign_json(redacted_for_check(event), self.server_name, self.keypair)
        signatures = {**event["signatures"], self.server_name: ours["signatures"][self.server_name]}
        return web.json_response({"event": {**event, "signatures": signatures}})

    async def _directory(self, request: web.Request) -> web.Response:
        room_id = self.aliases.get(request.query.get("room_alias", ""))
        if room_id is None:
            return web.json_response({"errcode": "M_NOT_FOUND"}, status=404)
        return web.json_response({"room_id": room_id, "servers": [self.server_name]})

    async def _own_key(self, request: web.Request) -> web.Response:
        doc = {
            "server_name": self.server_name,
            "valid_until_ts": int(time.time() * 1000) + 3_600_000,
            "verify_keys": {self.keypair.key_id: {"key": self.keypair.public_key}},
            "old_verify_keys": {},
        }
        return web.json_response(sign_json(doc, self.server_name, self.keypair))

    async def _make_join(self, request: web.Request) -> web.Response:
        room_id, user_id = request.match_info["room_id"], request.match_info["user_id"]
        self.make_joins.append(request.query_string)
        if self.make_join_error is not None:
            status, body = self.make_join_error
            return web.json_response(body, status=status)
        if room_id not in self.rooms:
            return web.json_response({"errcode": "M_NOT_FOUND"}, status=404)
        state = self.state_ids(room_id)
        latest = self.rooms[room_id][-1]
        template = {
            "type": "m.room.member",
            "room_id": room_id,
            "sender": user_id,
            "state_key": user_id,
            "content": {"membership": "join"},
            "origin_server_ts": int(time.time() * 1000),
            "depth": int(latest["depth"]) + 1,
            "prev_events": [self.event_id(latest)],
            "auth_events": [
                state[k]
                for k in (
                    ("m.room.create", ""),
                    ("m.room.power_levels", ""),
                    ("m.room.join_rules", ""),
                )
            ],
        }
        return web.json_response({"room_version": "10", "event": template})

    async def _backfill(self, request: web.Request) -> web.Response:
        """The room's events up to and including ``v``, newest first, at most ``limit``
        (whatever is in ``rooms``: tests put forged events there too)."""
        room_id, start = request.match_info["room_id"], request.query["v"]
        self.backfills.append(start)
        events = self.rooms.get(room_id, [])
        ids = [self.event_id(p) for p in events]
        if start not in ids:
            return web.json_response({"errcode": "M_NOT_FOUND"}, status=404)
        older = events[: ids.index(start) + 1][::-1][: int(request.query["limit"])]
        return web.json_response(
            {"origin": self.server_name, "origin_server_ts": int(time.time() * 1000), "pdus": older}
        )

    async def _send_join(self, request: web.Request) -> web.Response:
        room_id = request.match_info["room_id"]
        join = json.loads(await request.read())
        origin = server_of_user(join["sender"])
        key_id, _ = next(iter(join["signatures"][origin].items()))
        key = await self._key(origin, key_id)
        signedjson.sign.verify_signed_json(redacted_for_check(join), origin, key)
        assert self.event_id(join) == request.match_info["event_id"]
        self.send_joins.append(join)
        self.send_join_queries.append(request.query_string)
        state = [p for p in self.rooms[room_id] if "state_key" in p]
        self.rooms[room_id].append(join)
        answer: dict[str, Any] = {
            "origin": self.server_name,
            "state": [*state, *self.extra_state],
            "auth_chain": state,
        }
        if self.partial_joins and request.query.get("omit_members") == "true":
            answer["state"] = [
                p
                for p in answer["state"]
                if p["type"] != "m.room.member" or p["state_key"] in self.partial_kept_members
            ]
            answer["members_omitted"] = True
            answer["servers_in_room"] = [self.server_name]
        return web.json_response(answer)

    async def _state_ids(self, request: web.Request) -> web.Response:
        """The state before ``event_id`` and its auth chain (all the room's state
        events up to there: the peer's rooms are small)."""
        event_id = request.query["event_id"]
        self.state_ids_requests.append(event_id)
        if self.state_ids_gate is not None:
            await self.state_ids_gate.wait()
        if self.state_ids_error is not None:
            return web.json_response(self.state_ids_error[1], status=self.state_ids_error[0])
        events = self.rooms.get(request.match_info["room_id"], [])
        ids = [self.event_id(p) for p in events]
        if event_id not in ids:
            return web.json_response({"errcode": "M_NOT_FOUND"}, status=404)
        state: dict[tuple[str, str], str] = {}
        for pdu, pdu_id in zip(events[: ids.index(event_id)], ids, strict=False):
            if "state_key" in pdu:
                state[(pdu["type"], pdu["state_key"])] = pdu_id
        chain = list(state.values())
        return web.json_response(
            {"pdu_ids": [*chain, *self.state_ids_extra], "auth_chain_ids": chain}
        )

    async def _event(self, request: web.Request) -> web.Response:
        wanted = request.match_info["event_id"]
        self.event_requests.append(wanted)
        await asyncio.sleep(self.event_delay)
        for events in self.rooms.values():
            for pdu in events:
                if self.event_id(pdu) == wanted:
                    return web.json_response(
                        {"origin": self.server_name, "origin_server_ts": 0, "pdus": [pdu]}
                    )
        return web.json_response({"errcode": "M_NOT_FOUND"}, status=404)

    async def _get_missing_events(self, request: web.Request) -> web.Response:
        return web.json_response({"events": self.missing_events})

    async def _key(self, origin: str, key_id: str) -> Any:
        if (origin, key_id) not in self._keys:
            async with aiohttp.ClientSession() as session:
                url = f"{self.key_urls[origin]}/_matrix/key/v2/server"
                async with session.get(url) as response:
                    doc = await response.json()
            assert doc["server_name"] == origin
            for kid, entry in doc["verify_keys"].items():
                verify_key = signedjson.key.decode_verify_key_base64(
                    "ed25519", kid.split(":", 1)[1], entry["key"]
                )
                self._keys[(origin, kid)] = verify_key
            # The document is signed by the key it publishes.
            signedjson.sign.verify_signed_json(doc, origin, self._keys[(origin, key_id)])
        return self._keys[(origin, key_id)]

    async def _devices(self, request: web.Request) -> web.Response:
        self.key_requests.append(request.path)
        answer = self.user_devices.get(request.match_info["user_id"])
        if answer is None:
            return web.json_response({"errcode": "M_NOT_FOUND"}, status=404)
        return web.json_response(answer)

    async def _keys_query(self, request: web.Request) -> web.Response:
        self.key_requests.append(request.path)
        await asyncio.sleep(self.keys_delay)
        wanted = (await request.json())["device_keys"]
        answer: dict[str, dict[str, Any]] = {"device_keys": {}}
        for user_id in wanted:
            for part, value in self.user_keys.get(user_id, {"device_keys": {}}).items():
                answer.setdefault(part, {})[user_id] = value
        return web.json_response(answer)

    async def _send(self, request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        if not header.startswith("X-Matrix "):
            self.refused.append("no X-Matrix")
            return web.json_response({"errcode": "M_UNAUTHORIZED"}, status=401)
        params = dict(_PARAM.findall(header[len("X-Matrix ") :]))
        content = json.loads(await request.read())
        signed = {
            "method": request.method,
            "uri": request.rel_url.raw_path_qs,
            "origin": params["origin"],
            "destination": params["destination"],
            "content": content,
            "signatures": {params["origin"]: {params["key"]: params["sig"]}},
        }
        try:
            assert params["destination"] == self.server_name
            key = await self._key(params["origin"], params["key"])
            signedjson.sign.verify_signed_json(signed, params["origin"], key)
        except Exception as exc:  # any failure is a refusal, recorded
            self.refused.append(repr(exc))
            return web.json_response({"errcode": "M_UNAUTHORIZED"}, status=401)
        txn_id = request.match_info["txn_id"]
        self.received.append(Received(txn_id, params["origin"], content, time.monotonic()))
        self._arrived.set()
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.json_response({"errcode": "M_UNKNOWN"}, status=500)
        return web.json_response({"pdus": {}})

    async def send_edus(
        self, destination: str, base_url: str, txn_id: str, edus: list[dict[str, Any]]
    ) -> tuple[int, Any]:
        """A signed ``PUT /send`` of ``edus`` to ``destination`` at ``base_url``."""
        return await self.send_transaction(destination, base_url, txn_id, edus=edus)

    async def send_transaction(
        self,
        destination: str,
        base_url: str,
        txn_id: str,
        pdus: list[dict[str, Any]] | None = None,
        edus: list[dict[str, Any]] | None = None,
    ) -> tuple[int, Any]:
        """A signed ``PUT /send`` of ``pdus`` and ``edus`` to ``destination`` at
        ``base_url``: (status, answer)."""
        uri = f"/_matrix/federation/v1/send/{txn_id}"
        body = {
            "origin": self.server_name,
            "origin_server_ts": 0,
            "pdus": pdus or [],
            "edus": edus or [],
        }
        auth = sign_request(self.keypair, "PUT", uri, self.server_name, destination, body)
        headers = {"Authorization": auth.header(), "Content-Type": "application/json"}
        async with (
            aiohttp.ClientSession() as session,
            session.put(f"{base_url}{uri}", data=json.dumps(body), headers=headers) as response,
        ):
            return response.status, await response.json()

    def edus_of(self, edu_type: str) -> list[dict[str, Any]]:
        """The contents of the EDUs of that type received, in order."""
        return [
            e["content"]
            for r in self.received
            for e in r.body.get("edus", [])
            if e.get("edu_type") == edu_type
        ]

    async def wait_for(self, predicate: Any, within: float = 20.0) -> None:
        """Until ``predicate(self)`` holds (checked at every arrival), or fail."""
        deadline = time.monotonic() + within
        while not predicate(self):
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"timed out; received {[r.txn_id for r in self.received]}"
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), min(remaining, 0.5))
            except TimeoutError:
                pass

    def accepted_bodies(self) -> list[str]:
        """Message bodies of the transactions answered 200, in order, deduplicated by txn."""
        seen: dict[str, Received] = {}
        for r in self.received:
            seen[r.txn_id] = r
        return [b for r in seen.values() for b in r.event_ids]


def server_of_user(user_id: str) -> str:
    return user_id.split(":", 1)[1]


def redacted_for_check(pdu: dict[str, Any]) -> dict[str, Any]:
    """What a v10 event's signature covers (its redacted form)."""
    return redact(pdu, V10)


async def signed(
    hs: Homeserver, peer: FederationPeer, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    """A request to ``hs`` (``test.example``, see ``homeserver_with_peer``) signed by
    the peer."""
    auth = sign_request(peer.keypair, method, path, peer.server_name, "test.example", body)
    headers = {"Authorization": auth.header()}
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs["data"] = json.dumps(body)
        headers["Content-Type"] = "application/json"
    async with hs.client.request(method, path, **kwargs) as response:
        return response.status, await response.json()


@asynccontextmanager
async def homeserver_with_peer(
    tmp_path: Path, peer_ip: str, *, sender: bool, **options: Any
) -> AsyncIterator[tuple[FederationPeer, Homeserver]]:
    """An in-process homeserver (``test.example``) beside a :class:`FederationPeer` on
    ``peer_ip`` that reaches it, both trusting one throwaway CA; with ``sender`` the
    federation sender runs too. ``options``: more config options."""
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    config = homeserver_config(
        tmp_path / "db",
        federation_ca_file=str(ca_file),
        ip_range_denylist=DENYLIST_WITHOUT_LOOPBACK,
        trusted_servers="[]",
        request_conn_timeout=3,
        federation_timeout=10,
        **options,
    )
    server = build(config, system_clock)
    client: TestClient[Any, Any] = TestClient(TestServer(server.app, host="127.0.0.1"))
    await client.start_server()
    hs = Homeserver(server.services, client, FakeClock(), server.admin)
    base = str(client.make_url("")).rstrip("/")
    peer = await FederationPeer(ca, peer_ip, {config.server_name: base}).start()
    if sender:
        server.services.federation.sender.start()
    try:
        yield peer, hs
    finally:
        if sender:
            await server.services.federation.sender.stop()
        await peer.stop()
        await hs.close()


async def join_peer_user(storage: RoomStorage, room: str, peer: FederationPeer) -> None:
    """A user of ``peer`` (``@dave``) joins the v10 ``room``: a join signed by the peer
    goes through the room pipeline's receive path, as if it came over federation."""
    shortroomid = storage.short.room(room)
    assert shortroomid is not None
    (prev,) = storage.extremities.get(shortroomid)
    state = storage.state.state_ids(storage.state.current_hash(room))
    user = f"@dave:{peer.server_name}"
    pdu: dict[str, Any] = {
        "type": "m.room.member",
        "state_key": user,
        "content": {"membership": "join"},
        "sender": user,
        "room_id": room,
        "origin_server_ts": int(time.time() * 1000),
        "depth": int((storage.timeline.get(prev) or {})["depth"]) + 1,
        "prev_events": [prev],
    }
    pdu["auth_events"] = [state[k] for k in auth_types_for_event(pdu, V10) if k in state]
    signed = hash_and_sign_event(pdu, peer.server_name, Keypair.generate("peer"), V10)
    await storage.pipeline.receive(signed, V10, lambda p: None)
