"""Crash loop: kill -9 during concurrent sends and registrations, restart, check.

Each trial starts a real server process on a fresh temporary RocksDB directory on
loopback, registers a room owner and creates a room, then runs concurrent clients:
senders (each its own device, sending messages with transaction ids) and registrars
(registering new accounts). At a random moment the server gets SIGKILL. It is started
again on the same directory, and the trial checks:

- the database opens (the server answers /versions again);
- every acknowledged send (answered 200) is in the room's timeline exactly once,
  under the event id the client was given;
- retrying every send (acknowledged or in flight at the kill) with the same token and
  transaction id returns the acknowledged event id, and afterwards every message is
  in the room exactly once (no duplicates from retries);
- every acknowledged registration can log in with its password;
- every acknowledged media upload (answered 200 with its ``content_uri``) downloads
  after the restart, byte for byte (sha256), from the authenticated endpoint.

Uploaders post files of random bytes (1 KiB to 256 KiB) one after the other.

    python -m fuzz.crashloop --trials 100

See docs/development/fuzzing.md.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import secrets
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp

from tests.kit.server import OPEN_REGISTRATION, ServerProcess

CS = "/_matrix/client/v3"
UPLOAD = "/_matrix/media/v3/upload"
DOWNLOAD = "/_matrix/client/v1/media/download"
PASSWORD = "crash-loop-password"
TIMEOUT = aiohttp.ClientTimeout(total=20)


def q(value: str) -> str:
    return quote(value, safe="")


@dataclass
class Trial:
    number: int
    kill_after_s: float
    restart_s: float = 0.0
    sends_acked: int = 0
    sends_in_flight: int = 0
    registrations_acked: int = 0
    uploads_acked: int = 0
    violations: list[str] = field(default_factory=list)


@dataclass
class Sender:
    token: str
    #: txn id -> event id, for sends the server answered 200
    acked: dict[str, str] = field(default_factory=dict)
    #: txn ids sent without an answer (the kill came first)
    in_flight: set[str] = field(default_factory=set)


class Api:
    def __init__(self, http: aiohttp.ClientSession, base_url: str) -> None:
        self.http = http
        self.base_url = base_url

    async def call(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.request(
            method, self.base_url + path, json=body, headers=headers, timeout=TIMEOUT
        ) as response:
            return response.status, await response.json(content_type=None)

    async def register(self, localpart: str) -> dict[str, Any]:
        body: dict[str, Any] = {"username": localpart, "password": PASSWORD}
        status, reply = await self.call("POST", f"{CS}/register", body)
        if status == 401:
            body["auth"] = {"type": "m.login.dummy", "session": reply.get("session")}
            status, reply = await self.call("POST", f"{CS}/register", body)
        if status != 200:
            raise RuntimeError(f"register {localpart}: {status} {reply}")
        return dict(reply)

    async def login(self, user_id: str) -> tuple[int, Any]:
        return await self.call(
            "POST",
            f"{CS}/login",
            {
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": user_id},
                "password": PASSWORD,
            },
        )

    async def upload(self, token: str, body: bytes) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"}
        async with self.http.post(
            self.base_url + UPLOAD, data=body, headers=headers, timeout=TIMEOUT
        ) as response:
            return response.status, await response.json(content_type=None)

    async def download(self, token: str, mxc: str) -> tuple[int, bytes]:
        server_name, media_id = mxc.removeprefix("mxc://").split("/", 1)
        headers = {"Authorization": f"Bearer {token}"}
        path = f"{DOWNLOAD}/{q(server_name)}/{q(media_id)}"
        async with self.http.get(self.base_url + path, headers=headers, timeout=TIMEOUT) as r:
            return r.status, await r.read()

    async def send(self, token: str, room_id: str, txn: str) -> tuple[int, Any]:
        path = f"{CS}/rooms/{q(room_id)}/send/m.room.message/{q(txn)}"
        return await self.call("PUT", path, {"msgtype": "m.text", "body": txn}, token)

    async def timeline(self, token: str, room_id: str) -> list[dict[str, Any]]:
        """Every m.room.message in the room, newest first."""
        events: list[dict[str, Any]] = []
        start: str | None = None
        while True:
            path = f"{CS}/rooms/{q(room_id)}/messages?dir=b&limit=500"
            if start is not None:
                path += f"&from={q(start)}"
            status, reply = await self.call("GET", path, token=token)
            if status != 200:
                raise RuntimeError(f"/messages: {status} {reply}")
            chunk = reply.get("chunk", [])
            events += [e for e in chunk if e.get("type") == "m.room.message"]
            end = reply.get("end")
            if not chunk or end is None or end == start:
                return events
            start = end


async def _sender_loop(api: Api, sender: Sender, room_id: str, prefix: str, bad: list[str]) -> None:
    for index in range(100_000):
        txn = f"{prefix}-{index}"
        sender.in_flight.add(txn)
        try:
            status, reply = await api.send(sender.token, room_id, txn)
        except (TimeoutError, aiohttp.ClientError):
            return
        if status != 200:
            bad.append(f"send {txn} before the kill: {status} {reply}")
            return
        sender.in_flight.discard(txn)
        sender.acked[txn] = reply["event_id"]


async def _registrar_loop(api: Api, prefix: str, acked: list[str], bad: list[str]) -> None:
    for index in range(100_000):
        localpart = f"{prefix}{index}"
        try:
            reply = await api.register(localpart)
        except (TimeoutError, aiohttp.ClientError):
            return
        except RuntimeError as exc:
            bad.append(f"before the kill: {exc}")
            return
        acked.append(reply["user_id"])


async def _uploader_loop(
    api: Api, token: str, seed: int, acked: dict[str, str], bad: list[str]
) -> None:
    rng = random.Random(seed)
    for _ in range(100_000):
        body = os.urandom(rng.randint(1024, 256 * 1024))
        try:
            status, reply = await api.upload(token, body)
        except (TimeoutError, aiohttp.ClientError):
            return
        if status != 200:
            bad.append(f"upload before the kill: {status} {reply}")
            return
        acked[str(reply["content_uri"])] = hashlib.sha256(body).hexdigest()


async def _load_until_kill(
    server: ServerProcess, trial: Trial, senders: int, registrars: int, uploaders: int
) -> tuple[str, list[Sender], list[str], dict[str, str]]:
    async with aiohttp.ClientSession() as http:
        api = Api(http, server.base_url)
        owner = await api.register(f"owner{trial.number}")
        status, room = await api.call(
            "POST", f"{CS}/createRoom", {"preset": "public_chat"}, owner["access_token"]
        )
        if status != 200:
            raise RuntimeError(f"createRoom: {status} {room}")
        room_id = str(room["room_id"])
        clients: list[Sender] = []
        for _ in range(senders):
            status, login = await api.login(owner["user_id"])
            if status != 200:
                raise RuntimeError(f"login: {status} {login}")
            clients.append(Sender(login["access_token"]))
        registered: list[str] = []
        tasks = [
            asyncio.create_task(
                _sender_loop(api, s, room_id, f"t{trial.number}s{i}", trial.violations)
            )
            for i, s in enumerate(clients)
        ] + [
            asyncio.create_task(
                _registrar_loop(api, f"crash{trial.number}r{i}x", registered, trial.violations)
            )
            for i in range(registrars)
        ]
        uploads: dict[str, str] = {}
        tasks += [
            asyncio.create_task(
                _uploader_loop(
                    api, owner["access_token"], trial.number * 100 + i, uploads, trial.violations
                )
            )
            for i in range(uploaders)
        ]
        await asyncio.sleep(trial.kill_after_s)
        assert server.process is not None
        server.process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
        server.process.wait()
        server.process = None
        return room_id, clients, registered, uploads


async def _check_after_restart(
    server: ServerProcess,
    trial: Trial,
    room_id: str,
    clients: list[Sender],
    registered: list[str],
    uploads: dict[str, str],
) -> None:
    bad = trial.violations
    async with aiohttp.ClientSession() as http:
        api = Api(http, server.base_url)
        reader = clients[0].token
        counts: dict[str, list[str]] = {}
        for event in await api.timeline(reader, room_id):
            counts.setdefault(str(event["content"].get("body")), []).append(event["event_id"])
        for sender in clients:
            for txn, event_id in sender.acked.items():
                if counts.get(txn) != [event_id]:
                    bad.append(f"acked {txn} ({event_id}) in timeline as {counts.get(txn)}")
        for sender in clients:
            for txn in sorted(sender.acked) + sorted(sender.in_flight):
                status, reply = await api.send(sender.token, room_id, txn)
                if status != 200:
                    bad.append(f"retry {txn}: {status} {reply}")
                elif txn in sender.acked and reply["event_id"] != sender.acked[txn]:
                    bad.append(f"retry {txn} gave {reply['event_id']}, not {sender.acked[txn]}")
        after: dict[str, int] = {}
        for event in await api.timeline(reader, room_id):
            body = str(event["content"].get("body"))
            after[body] = after.get(body, 0) + 1
        for sender in clients:
            for txn in list(sender.acked) + list(sender.in_flight):
                if after.get(txn) != 1:
                    bad.append(f"after retries {txn} is in the timeline {after.get(txn)} times")
        for user_id in registered:
            status, reply = await api.login(user_id)
            if status != 200:
                bad.append(f"acked registration {user_id} cannot log in: {status} {reply}")
        for mxc, sha256 in uploads.items():
            status, data = await api.download(reader, mxc)
            if status != 200:
                bad.append(f"acked upload {mxc} answers {status}: {data[:200]!r}")
            elif hashlib.sha256(data).hexdigest() != sha256:
                bad.append(f"acked upload {mxc} downloads different bytes ({len(data)} bytes)")


def run_trial(
    number: int, root: Path, rng: random.Random, senders: int, registrars: int, uploaders: int
) -> Trial:
    trial = Trial(number, kill_after_s=round(rng.uniform(0.1, 1.5), 3))
    server = ServerProcess(root / f"trial{number}", env=OPEN_REGISTRATION)
    server.start(timeout=60)
    try:
        room_id, clients, registered, uploads = asyncio.run(
            _load_until_kill(server, trial, senders, registrars, uploaders)
        )
        trial.sends_acked = sum(len(s.acked) for s in clients)
        trial.sends_in_flight = sum(len(s.in_flight) for s in clients)
        trial.registrations_acked = len(registered)
        trial.uploads_acked = len(uploads)
        restarted = time.monotonic()
        try:
            server.start(timeout=60)
        except (RuntimeError, TimeoutError) as exc:
            trial.violations.append(f"database did not open after kill -9: {exc}"[-2000:])
            return trial
        trial.restart_s = round(time.monotonic() - restarted, 3)
        asyncio.run(_check_after_restart(server, trial, room_id, clients, registered, uploads))
    finally:
        server.stop()
    return trial


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=int(os.environ.get("CRASH_TRIALS", 3)))
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--registrars", type=int, default=2)
    parser.add_argument("--uploaders", type=int, default=2)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--report", type=Path, default=None, help="write the JSON report here")
    args = parser.parse_args(argv)
    rng_seed = args.seed if args.seed is not None else secrets.randbits(32)
    rng = random.Random(rng_seed)
    started = time.monotonic()
    trials: list[Trial] = []
    with tempfile.TemporaryDirectory(prefix="conduwuit-crashloop-") as tmp:
        for number in range(args.trials):
            trial = run_trial(number, Path(tmp), rng, args.senders, args.registrars, args.uploaders)
            trials.append(trial)
            state = "ok" if not trial.violations else f"{len(trial.violations)} VIOLATIONS"
            print(
                f"trial {number}: kill after {trial.kill_after_s}s, {trial.sends_acked} sends "
                f"acked, {trial.sends_in_flight} in flight, {trial.registrations_acked} "
                f"registrations, {trial.uploads_acked} uploads, "
                f"restart {trial.restart_s}s: {state}",
                flush=True,
            )
            for violation in trial.violations[:10]:
                print(f"  {violation}", flush=True)
    report = {
        "seed": rng_seed,
        "trials": len(trials),
        "seconds": round(time.monotonic() - started, 1),
        "failed_trials": sum(1 for t in trials if t.violations),
        "sends_acked": sum(t.sends_acked for t in trials),
        "sends_in_flight": sum(t.sends_in_flight for t in trials),
        "registrations_acked": sum(t.registrations_acked for t in trials),
        "uploads_acked": sum(t.uploads_acked for t in trials),
        "max_restart_s": max((t.restart_s for t in trials), default=0.0),
    }
    print(json.dumps(report, indent=2))
    if args.report:
        full = {**report, "per_trial": [asdict(t) for t in trials]}
        args.report.write_text(json.dumps(full, indent=2) + "\n")
    return 0 if report["failed_trials"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
