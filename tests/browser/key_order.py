"""A room key and its Megolm message over plain HTTP: this server beside Synapse.

What Cinny's "Unable to decrypt message" depends on, asked of both servers the same
way (docs/development/testing.md, "Unable to decrypt message"): Carol uploads device
keys, one-time keys and a fallback key; Alice claims one, sends Carol a to-device
``m.room.encrypted`` and an ``m.room.encrypted`` room event; then

- ``waiting``: Carol's /sync when both are already waiting: where each is, the key
  counts, ``device_lists``; the same ``since`` again; the next token;
- ``key_then_message``: Carol long-polls, Alice sends the key, waits for the answer,
  then the message: which /sync answer carries what;
- ``message_then_key``: as matrix-js-sdk's to-device queue does it, the message's
  request first and the key's 5 ms later without waiting for the first;
- ``claims``: claims past the one-time keys (the fallback key), and the counts after.

``python -m tests.browser.key_order [ROUNDS]`` runs it against a fresh server process
and a fresh Synapse (the benchmark's venv, ``python -m bench.run`` installs it) and
prints both results and the fields where they differ, as JSON. Bounded: ROUNDS
(default 10) rounds per race, each long-poll at most 10 s.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

from bench.servers import Synapse, synapse_installed
from tests.kit.e2ee import FakeDevice
from tests.kit.server import OPEN_REGISTRATION, ServerProcess

ENCRYPTION = {"algorithm": "m.megolm.v1.aes-sha2"}
#: A to-device Olm message as a room key travels (the server never reads inside).
OLM = {"algorithm": "m.olm.v1.curve25519-aes-sha2", "ciphertext": {"k": {"type": 0}}}
LONG_POLL_MS = 10_000


class OpenSynapse(Synapse):
    """The benchmark's Synapse (server name ``localhost``, rate limits lifted) with
    open registration, as this server is configured in these tests."""

    config_overrides = {
        "enable_registration": True,
        "enable_registration_without_verification": True,
    }


class Client:
    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session, self.base = session, base
        self.token = self.user = self.device = ""

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        url = f"{self.base}/_matrix/client/v3{path}"
        async with self.session.request(method, url, json=body, headers=headers) as response:
            data = await response.json()
            assert response.status == 200, (method, path, response.status, data)
            return data

    async def register(self, name: str) -> None:
        body = {"username": name, "password": "a long password", "auth": {"type": "m.login.dummy"}}
        reply = await self.call("POST", "/register", body)
        self.token, self.user, self.device = (
            reply["access_token"],
            reply["user_id"],
            reply["device_id"],
        )

    async def sync(self, since: str | None, timeout_ms: int = 0) -> dict[str, Any]:
        query = f"?timeout={timeout_ms}" + (f"&since={since}" if since else "")
        return dict(await self.call("GET", f"/sync{query}"))


def _crypto_parts(body: dict[str, Any], room_id: str) -> dict[str, Any]:
    """What a client's crypto reads from one /sync answer."""
    timeline = body.get("rooms", {}).get("join", {}).get(room_id, {}).get("timeline", {})
    return {
        "to_device": [e["type"] for e in body.get("to_device", {}).get("events", [])],
        "timeline": [e["type"] for e in timeline.get("events", [])],
        "device_lists": body.get("device_lists"),
        "device_one_time_keys_count": body.get("device_one_time_keys_count"),
        "device_unused_fallback_key_types": body.get("device_unused_fallback_key_types"),
    }


def _carries(body: dict[str, Any], room_id: str) -> tuple[bool, bool]:
    parts = _crypto_parts(body, room_id)
    return bool(parts["to_device"]), bool(parts["timeline"])


async def _send_key(alice: Client, carol: Client, txn: str) -> Any:
    body = {"messages": {carol.user: {carol.device: OLM}}}
    return await alice.call("PUT", f"/sendToDevice/m.room.encrypted/{txn}", body)


async def _send_message(alice: Client, room_id: str, txn: str) -> Any:
    megolm = {**ENCRYPTION, "ciphertext": "AwgA", "session_id": "S", "device_id": alice.device}
    return await alice.call("PUT", f"/rooms/{room_id}/send/m.room.encrypted/{txn}", megolm)


async def _race(
    alice: Client, carol: Client, room_id: str, since: str, rounds: int, key_first: bool
) -> tuple[dict[str, int], str]:
    """Carol long-polls while Alice sends a key and a message; which answer has what."""
    outcomes: dict[str, int] = {}
    tag = "k" if key_first else "m"
    for i in range(rounds):
        poll = asyncio.create_task(carol.sync(since, LONG_POLL_MS))
        await asyncio.sleep(0.3)
        key = _send_key(alice, carol, f"{tag}{i}")
        message = _send_message(alice, room_id, f"{tag}{i}")
        if key_first:
            await key
            await message
        else:
            sent = asyncio.create_task(message)
            await asyncio.sleep(0.005)
            await key
            await sent
        first = await poll
        has_key, has_message = _carries(first, room_id)
        rest = await carol.sync(first["next_batch"])
        outcome = (
            "together" if has_key and has_message else ("key first" if has_key else "message first")
        )
        # Whatever the first answer lacked, the next one has: nothing is lost.
        assert _carries(rest, room_id) == (not has_key, not has_message), (first, rest)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        since = rest["next_batch"]
    return outcomes, since


async def scenario(base: str, rounds: int) -> dict[str, Any]:
    result: dict[str, Any] = {}
    async with aiohttp.ClientSession() as session:
        alice, carol = Client(session, base), Client(session, base)
        await alice.register("alice")
        await carol.register("carol")
        device = FakeDevice(carol.user, carol.device)
        keys = {
            "device_keys": device.device_keys(),
            "one_time_keys": device.one_time_keys(5),
            "fallback_keys": device.one_time_keys(1, fallback=True),
        }
        await carol.call("POST", "/keys/upload", keys)
        since = (await carol.sync(None))["next_batch"]
        created = await alice.call(
            "POST",
            "/createRoom",
            {
                "preset": "private_chat",
                "invite": [carol.user],
                "initial_state": [{"type": "m.room.encryption", "content": ENCRYPTION}],
            },
        )
        room_id = created["room_id"]
        await carol.call("POST", f"/rooms/{room_id}/join", {})
        joined = await carol.sync(since)
        result["after_join"] = {
            "device_lists": joined.get("device_lists"),
            "alice_sees_carols_devices": sorted(
                (await alice.call("POST", "/keys/query", {"device_keys": {carol.user: []}}))[
                    "device_keys"
                ].get(carol.user, {})
            )
            == [carol.device],
        }
        since = joined["next_batch"]

        claim = {"one_time_keys": {carol.user: {carol.device: "signed_curve25519"}}}
        claimed = await alice.call("POST", "/keys/claim", claim)
        result["claimed"] = list(claimed["one_time_keys"][carol.user][carol.device])
        await _send_message(alice, room_id, "w")
        await _send_key(alice, carol, "w")
        both = await carol.sync(since)
        again = await carol.sync(since)
        after = await carol.sync(both["next_batch"])
        result["waiting"] = {
            "answer": _crypto_parts(both, room_id),
            "same_since_again_to_device": _crypto_parts(again, room_id)["to_device"],
            "next_token_to_device": _crypto_parts(after, room_id)["to_device"],
        }
        since = after["next_batch"]
        result["key_then_message"], since = await _race(
            alice, carol, room_id, since, rounds, key_first=True
        )
        result["message_then_key"], since = await _race(
            alice, carol, room_id, since, rounds, key_first=False
        )
        claims = []
        for _ in range(5):
            reply = await alice.call("POST", "/keys/claim", claim)
            claims.append(list(reply["one_time_keys"][carol.user][carol.device]))
        last = await carol.sync(since)
        result["claims"] = {
            "claimed": claims,
            "device_one_time_keys_count": last.get("device_one_time_keys_count"),
            "device_unused_fallback_key_types": last.get("device_unused_fallback_key_types"),
        }
    return result


def _differences(ours: Any, theirs: Any, path: str = "") -> list[str]:
    if isinstance(ours, dict) and isinstance(theirs, dict):
        found = []
        for key in sorted(set(ours) | set(theirs)):
            found += _differences(ours.get(key), theirs.get(key), f"{path}.{key}")
        return found
    return [] if ours == theirs else [f"{path}: ours {ours!r}, synapse {theirs!r}"]


async def compare(rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="key-order-") as scratch:
        ours = ServerProcess(Path(scratch) / "hs", env=OPEN_REGISTRATION)
        ours.start()
        try:
            our_result = await scenario(ours.base_url, rounds)
        finally:
            ours.stop()
        synapse = OpenSynapse(Path(scratch) / "synapse")
        synapse.start()
        try:
            synapse_result = await scenario(synapse.base_url, rounds)
        finally:
            synapse.stop()
    return {
        "ours": our_result,
        "synapse": synapse_result,
        "differences": _differences(our_result, synapse_result),
    }


if __name__ == "__main__":
    if not synapse_installed():
        sys.exit("no Synapse venv: run `python -m bench.run` once")
    print(json.dumps(asyncio.run(compare(int(sys.argv[1]) if len(sys.argv) > 1 else 10)), indent=1))
