"""A receiving federation peer written for the tests: an HTTPS server on 127.0.0.N
with a certificate from the test CA that accepts ``PUT /_matrix/federation/v1/send``.

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
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import signedjson.key
import signedjson.sign
import trustme
from aiohttp import web

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
    _runner: web.AppRunner | None = None
    _keys: dict[tuple[str, str], Any] = field(default_factory=dict)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def server_name(self) -> str:
        return f"{self.address}:{self.port}"

    async def start(self) -> FederationPeer:
        app = web.Application()
        app.router.add_put("/_matrix/federation/v1/send/{txn_id}", self._send)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert(self.address).configure_cert(context)
        await web.TCPSite(self._runner, self.address, self.port, ssl_context=context).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

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
