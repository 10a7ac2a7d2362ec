"""Media over federation between real server processes (tests/kit/federation.py).

A's media is downloaded and thumbnailed through B (B fetches it from A's signed
``/_matrix/federation/v1/media/*``, caches it, and the admin room's remote-media
deletion sees it). A scripted origin (``Origin`` below, TLS on loopback with the
test CA) plays the peers that misbehave or are old: one that only has the legacy
endpoint, one that redirects, one that sends more than B's cap, one that stalls
mid-file (B is SIGKILLed then and must serve no half file after its restart).
"""

from __future__ import annotations

import asyncio
import http.client
import io
import json
import signal
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from PIL import Image

from conduwuit.admin.socket import send_command
from tests.kit.federation import FederationNet, HasBaseUrl, federation, register
from tests.kit.server import ServerProcess, free_port

#: B's cap on remote media (max_request_size).
B_LIMIT = 300_000
#: What the stalling origin sends before it stalls (more than a multipart boundary,
#: so that B has read some of it).
FIRST_HALF = b"first half " * 1000


class Origin:
    """A scripted media origin on ``127.0.0.5`` (its own thread and event loop)."""

    def __init__(self, net: FederationNet) -> None:
        self.port = free_port()
        self.server_name = f"127.0.0.5:{self.port}"
        cert = net.ca.issue_cert("127.0.0.5")
        self._ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(self._ssl)
        self.asked: list[str] = []
        #: Set to let the stalled download finish.
        self.release = threading.Event()
        self.stalled = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> Origin:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/_matrix/federation/v1/media/download/{mediaId}", self._federation)
        app.router.add_get("/_matrix/media/v3/download/{server}/{mediaId}", self._legacy)
        app.router.add_get("/files/{name}", self._file)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.5", self.port, ssl_context=self._ssl).start()

    def stop(self) -> None:
        self.release.set()
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(20)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        # Let the closed connections' transports finish closing before the loop stops.
        await asyncio.sleep(0.2)

    @staticmethod
    def _multipart_head(boundary: str, headers: str) -> bytes:
        return (
            f"--{boundary}\r\nContent-Type: application/json\r\n\r\n{{}}\r\n"
            f"--{boundary}\r\n{headers}\r\n"
        ).encode()

    async def _federation(self, request: web.Request) -> web.StreamResponse:
        media_id = request.match_info["mediaId"]
        self.asked.append(f"federation {media_id}")
        if media_id == "legacyonly":
            return web.json_response({"errcode": "M_UNRECOGNIZED", "error": "?"}, status=404)
        boundary = "b0undary"
        response = web.StreamResponse(
            headers={"Content-Type": f"multipart/mixed; boundary={boundary}"}
        )
        await response.prepare(request)
        if media_id == "redirect":
            location = f"https://127.0.0.5:{self.port}/files/redirected"
            await response.write(self._multipart_head(boundary, f"Location: {location}\r\n"))
        elif media_id == "huge":
            # No length announced: B finds out by counting.
            await response.write(self._multipart_head(boundary, "Content-Type: text/plain\r\n"))
            for _ in range(B_LIMIT // 10_000 + 5):
                await response.write(b"x" * 10_000)
        elif media_id == "stall":
            await response.write(self._multipart_head(boundary, "Content-Type: text/plain\r\n"))
            # Apart, so that B has parsed the metadata and begun the file when it stalls.
            await asyncio.sleep(0.3)
            await response.write(FIRST_HALF)
            self.stalled.set()
            await asyncio.to_thread(self.release.wait, 60)
            await response.write(b"second half")
        else:
            return web.json_response({"errcode": "M_NOT_FOUND", "error": "no"}, status=404)
        await response.write(f"\r\n--{boundary}--\r\n".encode())
        await response.write_eof()
        return response

    async def _legacy(self, request: web.Request) -> web.Response:
        self.asked.append(f"legacy {request.match_info['mediaId']} {request.query_string}")
        assert "Authorization" not in request.headers
        return web.Response(
            body=b"from the legacy endpoint",
            headers={
                "Content-Type": "text/plain",
                "Content-Disposition": 'attachment; filename="old.txt"',
            },
        )

    async def _file(self, request: web.Request) -> web.Response:
        self.asked.append(f"file {request.match_info['name']}")
        return web.Response(
            body=b"behind a redirect",
            headers={
                "Content-Type": "text/plain",
                "Content-Disposition": 'inline; filename="moved.txt"',
            },
        )


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FederationNet]:
    with federation(tmp_path_factory.mktemp("fedmedia")) as net:
        a = net.server(2)
        b = net.server(3, CONDUWUIT_MAX_REQUEST_SIZE=str(B_LIMIT))
        b.env["CONDUWUIT_ADMIN_SOCKET_PATH"] = str(b.workdir / "admin.sock")
        for server in (a, b):
            server.start(wait=False)
        for server in (a, b):
            server.wait_ready(60)
        yield net


@pytest.fixture(scope="module")
def origin(net: FederationNet) -> Iterator[Origin]:
    peer = Origin(net).start()
    yield peer
    peer.stop()


def servers(net: FederationNet) -> tuple[ServerProcess, ServerProcess]:
    a, b = net.servers
    return a, b


def raw(
    server: HasBaseUrl,
    method: str,
    path: str,
    body: bytes | None = None,
    *,
    token: str | None = None,
    content_type: str | None = None,
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(f"{server.base_url}{path}", data=body, method=method)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    if content_type is not None:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def upload(server: HasBaseUrl, token: str, body: bytes, content_type: str, name: str) -> str:
    status, _, answer = raw(
        server,
        "POST",
        f"/_matrix/media/v3/upload?filename={name}",
        body,
        token=token,
        content_type=content_type,
    )
    assert status == 200, answer
    mxc: str = json.loads(answer)["content_uri"]
    return mxc


def download(server: HasBaseUrl, token: str, mxc: str, query: str = "") -> Any:
    server_name, media_id = mxc.removeprefix("mxc://").split("/")
    return raw(
        server,
        "GET",
        f"/_matrix/client/v1/media/download/{server_name}/{media_id}{query}",
        token=token,
    )


def thumbnail(server: HasBaseUrl, token: str, mxc: str) -> tuple[int, dict[str, str], bytes]:
    path = mxc.removeprefix("mxc://")
    return raw(
        server,
        "GET",
        f"/_matrix/client/v1/media/thumbnail/{path}?width=32&height=32&method=scale",
        token=token,
    )


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 90)).save(out, "PNG")
    return out.getvalue()


def blobs(server: ServerProcess) -> list[Path]:
    return [p for p in (server.workdir / "db" / "media" / "blobs").rglob("*") if p.is_file()]


def temp_files(server: ServerProcess) -> list[Path]:
    return list((server.workdir / "db" / "media" / "tmp").iterdir())


def test_media_uploaded_on_a_is_downloaded_and_thumbnailed_through_b(net: FederationNet) -> None:
    a, b = servers(net)
    _, alice = register(a, "alice")
    _, bob = register(b, "bob")
    image = png(640, 480)
    mxc = upload(a, alice, image, "image/png", "photo.png")

    status, headers, body = download(b, bob, mxc)
    assert status == 200, body
    assert body == image
    assert headers["Content-Type"] == "image/png"
    assert "photo.png" in headers["Content-Disposition"]
    # Cached on B: its blob is there, and A is not asked again (A down or not).
    assert any(p.read_bytes() == image for p in blobs(b))

    status, headers, body = thumbnail(b, bob, mxc)
    assert status == 200, body
    assert headers["Content-Type"] in ("image/png", "image/jpeg")
    thumb = Image.open(io.BytesIO(body))
    assert max(thumb.size) < 640

    # A's federation endpoints: unsigned requests are refused.
    media_id = mxc.rsplit("/", 1)[1]
    status, _, body = raw(a, "GET", f"/_matrix/federation/v1/media/download/{media_id}")
    assert status == 401, body


def test_unknown_remote_media_is_404_and_a_down_peer_is_502(net: FederationNet) -> None:
    a, b = servers(net)
    _, bob = register(b, "bob2")
    status, _, body = download(b, bob, f"mxc://{a.server_name}/NoSuchMediaHere")
    assert status == 404, body
    assert json.loads(body)["errcode"] == "M_NOT_FOUND"

    before = blobs(b)
    status, _, body = download(b, bob, f"mxc://127.0.0.9:{free_port()}/SomeMedia")
    assert status == 502, body
    answer = json.loads(body)
    assert "127.0.0.9" in answer["error"]
    assert blobs(b) == before and temp_files(b) == []


def test_legacy_fallback_and_location_redirect(net: FederationNet, origin: Origin) -> None:
    _, b = servers(net)
    _, bob = register(b, "bob3")
    status, headers, body = download(b, bob, f"mxc://{origin.server_name}/legacyonly")
    assert status == 200, body
    assert body == b"from the legacy endpoint"
    assert "old.txt" in headers["Content-Disposition"]
    assert "federation legacyonly" in origin.asked
    [legacy] = [x for x in origin.asked if x.startswith("legacy legacyonly")]
    assert "allow_remote=false" in legacy

    status, headers, body = download(b, bob, f"mxc://{origin.server_name}/redirect")
    assert status == 200, body
    assert body == b"behind a redirect"
    assert "moved.txt" in headers["Content-Disposition"]
    assert "file redirected" in origin.asked


def test_a_peer_sending_more_than_the_cap_is_refused(net: FederationNet, origin: Origin) -> None:
    _, b = servers(net)
    _, bob = register(b, "bob4")
    before = blobs(b)
    status, _, body = download(b, bob, f"mxc://{origin.server_name}/huge")
    assert status == 502, body
    assert json.loads(body)["errcode"] == "M_TOO_LARGE"
    assert blobs(b) == before and temp_files(b) == []
    # Asked again: still refused, nothing was cached.
    status, _, body = download(b, bob, f"mxc://{origin.server_name}/huge")
    assert status == 502, body


def test_sigkill_mid_fetch_leaves_no_half_file(net: FederationNet, origin: Origin) -> None:
    _, b = servers(net)
    _, bob = register(b, "bob5")
    mxc = f"mxc://{origin.server_name}/stall"
    result: list[Any] = []

    def ask() -> None:
        try:
            result.append(download(b, bob, mxc))
        except (OSError, http.client.HTTPException) as exc:
            result.append(exc)  # B is killed under this request

    waiter = threading.Thread(target=ask)
    waiter.start()
    assert origin.stalled.wait(30)
    deadline = time.monotonic() + 10
    while not temp_files(b) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert temp_files(b), "the first half is being written"
    b.stop(signal.SIGKILL)
    waiter.join(30)
    assert result and not isinstance(result[0], tuple), "no answer from a killed server"
    b.start(timeout=60)
    assert temp_files(b) == []
    origin.release.set()
    # Fetched afresh after the restart: the whole file, never the half.
    status, _, body = download(b, bob, mxc)
    assert (status, body) == (200, FIRST_HALF + b"second half")
    assert origin.asked.count("federation stall") == 2


def test_admin_deletes_cached_remote_media(net: FederationNet) -> None:
    a, b = servers(net)
    _, alice = register(a, "alice6")
    _, bob = register(b, "bob6")
    local = upload(b, bob, b"local bytes stay", "text/plain", "mine.txt")
    mxc = upload(a, alice, b"remote bytes to delete", "text/plain", "del.txt")
    status, _, body = download(b, bob, mxc)
    assert (status, body) == (200, b"remote bytes to delete")
    time.sleep(1.1)
    ok, reply = asyncio.run(
        send_command(b.workdir / "admin.sock", "media delete-past-remote-media 1s")
    )
    assert ok, reply
    assert not any(p.read_bytes() == b"remote bytes to delete" for p in blobs(b))
    assert download(b, bob, local)[2] == b"local bytes stay"
    # Asked again, B fetches it from A afresh.
    status, _, body = download(b, bob, mxc)
    assert (status, body) == (200, b"remote bytes to delete")
