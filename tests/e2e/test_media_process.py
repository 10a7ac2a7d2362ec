"""The media repository in a real server process: a SIGKILL during a streamed upload
leaves nothing half-written behind, and a 100 MB upload and download stream through
without the server's memory growing with the file."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from tests.kit.server import OPEN_REGISTRATION, ServerProcess

MB = 1024 * 1024


async def register(session: aiohttp.ClientSession, server: ServerProcess, name: str) -> str:
    async with session.post(
        f"{server.base_url}/_matrix/client/v3/register",
        json={"username": name, "password": "a long password", "auth": {"type": "m.login.dummy"}},
    ) as response:
        body = await response.json()
        assert response.status == 200, body
        token: str = body["access_token"]
        return token


async def login(session: aiohttp.ClientSession, server: ServerProcess, name: str) -> str:
    async with session.post(
        f"{server.base_url}/_matrix/client/v3/login",
        json={
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": name},
            "password": "a long password",
        },
    ) as response:
        body = await response.json()
        assert response.status == 200, body
        token: str = body["access_token"]
        return token


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in kB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0])
    return found


def tmp_files(server: ServerProcess) -> list[Path]:
    tmp = server.workdir / "db" / "media" / "tmp"
    return sorted(tmp.iterdir()) if tmp.exists() else []


def blob_files(server: ServerProcess) -> list[Path]:
    return sorted(p for p in (server.workdir / "db" / "media" / "blobs").rglob("*") if p.is_file())


async def test_sigkill_during_an_upload_leaves_no_partial_media(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "hs", env=OPEN_REGISTRATION).start()
    try:
        async with aiohttp.ClientSession() as session:
            token = await register(session, server, "ann")
            auth = {"Authorization": f"Bearer {token}"}
            base = server.base_url
            async with session.post(
                f"{base}/_matrix/media/v3/upload", data=b"finished", headers=auth
            ) as r:
                finished = (await r.json())["content_uri"].removeprefix("mxc://localhost/")
            async with session.post(f"{base}/_matrix/media/v1/create", headers=auth) as r:
                pending = (await r.json())["content_uri"].removeprefix("mxc://localhost/")

            started = asyncio.Event()

            async def slow_body() -> AsyncIterator[bytes]:
                for _ in range(200):  # at most 200 chunks, 10 s
                    yield b"z" * 65536
                    started.set()
                    await asyncio.sleep(0.05)

            async def put() -> Any:
                async with session.put(
                    f"{base}/_matrix/media/v3/upload/localhost/{pending}",
                    data=slow_body(),
                    headers={**auth, "Content-Type": "video/mp4"},
                ) as r:
                    return r.status

            upload = asyncio.create_task(put())
            await asyncio.wait_for(started.wait(), 10)
            for _ in range(200):  # the server's temp file appears (at most 10 s)
                if tmp_files(server):
                    break
                await asyncio.sleep(0.05)
            assert tmp_files(server), "the upload never reached the disk"
            blobs_before = blob_files(server)
            assert server.process is not None
            server.process.send_signal(signal.SIGKILL)
            server.process.wait(10)
            server.process = None
            try:
                await asyncio.wait_for(upload, 10)
            except (aiohttp.ClientError, ConnectionError):
                pass
            assert tmp_files(server)  # the crash left the partial file behind

        server.start()
        assert tmp_files(server) == []  # reclaimed at start
        assert blob_files(server) == blobs_before
        assert "unfinished upload(s) left by a crash" in server.log()
        async with aiohttp.ClientSession() as session:
            auth = {"Authorization": f"Bearer {await login(session, server, 'ann')}"}
            base = f"{server.base_url}/_matrix/client/v1/media/download/localhost"
            async with session.get(f"{base}/{pending}?timeout_ms=0", headers=auth) as r:
                assert r.status == 504
                assert (await r.json())["errcode"] == "M_NOT_YET_UPLOADED"
            async with session.get(f"{base}/{finished}", headers=auth) as r:
                assert r.status == 200 and await r.read() == b"finished"
    finally:
        server.stop()


async def test_100_mb_upload_and_download_stream(tmp_path: Path) -> None:
    size = 100 * MB
    server = ServerProcess(
        tmp_path / "hs", env={**OPEN_REGISTRATION, "CONDUWUIT_MAX_REQUEST_SIZE": str(size + MB)}
    ).start()
    try:
        assert server.process is not None
        pid = server.process.pid
        async with aiohttp.ClientSession() as session:
            token = await register(session, server, "ann")
            auth = {"Authorization": f"Bearer {token}"}
            before = memory_kb(pid)
            peak_rss = before["VmRSS"]
            sampling = True

            async def sample() -> None:
                # VmRSS every 20 ms while the transfers run (VmHWM may date from start-up).
                nonlocal peak_rss
                for _ in range(30_000):
                    if not sampling:
                        return
                    peak_rss = max(peak_rss, memory_kb(pid)["VmRSS"])
                    await asyncio.sleep(0.02)

            sampler = asyncio.create_task(sample())
            digest = hashlib.sha256()
            chunk = os.urandom(MB)

            async def body() -> AsyncIterator[bytes]:
                for _ in range(size // MB):
                    digest.update(chunk)
                    yield chunk

            started = time.monotonic()
            async with session.post(
                f"{server.base_url}/_matrix/media/v3/upload",
                data=body(),
                headers={**auth, "Content-Type": "video/mp4"},
                timeout=aiohttp.ClientTimeout(total=120),
            ) as r:
                reply = await r.json()
                assert r.status == 200, reply
            upload_s = time.monotonic() - started
            media_id = reply["content_uri"].removeprefix("mxc://localhost/")

            started = time.monotonic()
            received = hashlib.sha256()
            total = 0
            async with session.get(
                f"{server.base_url}/_matrix/client/v1/media/download/localhost/{media_id}",
                headers=auth,
                timeout=aiohttp.ClientTimeout(total=120),
            ) as r:
                assert r.status == 200
                assert r.headers["Content-Length"] == str(size)
                async for part in r.content.iter_chunked(MB):
                    received.update(part)
                    total += len(part)
            download_s = time.monotonic() - started
            sampling = False
            await sampler
            after = memory_kb(pid)
        assert total == size and received.hexdigest() == digest.hexdigest()
        growth_mb = (peak_rss - before["VmRSS"]) / 1024
        print(
            f"\n100 MB media: upload {upload_s:.1f} s, download {download_s:.1f} s; server RSS"
            f" {before['VmRSS'] / 1024:.1f} MB before, {after['VmRSS'] / 1024:.1f} MB after,"
            f" sampled peak {peak_rss / 1024:.1f} MB (+{growth_mb:.1f} MB); VmHWM"
            f" {before['VmHWM'] / 1024:.1f} -> {after['VmHWM'] / 1024:.1f} MB"
        )
        assert after["VmHWM"] - before["VmHWM"] < 30 * 1024
        assert growth_mb < 30, f"server memory grew by {growth_mb:.1f} MB for a 100 MB file"
    finally:
        server.stop()
