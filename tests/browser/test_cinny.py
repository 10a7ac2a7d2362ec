"""Cinny, a real Matrix web client, in headless Chromium against a real server process.

What a family member does on a fresh server: open the web client, register, wait for
the room list, create a room, write in it, and read what someone else writes. The
test checks each step where it lands: the message typed in Cinny is read back over
the client API, and a message sent over the API shows up in Cinny's timeline. It
does the same in an encrypted room (Cinny's own crypto, in the browser), where the
server must only ever hold ``m.room.encrypted`` events.

Every answer of 400 or more the browser got from the homeserver is recorded (the
browser's network events) and written to ``report.json`` beside the screenshots,
with requests slower than a second; any failed request but the few Cinny expects
(``EXPECTED``: the registration challenge, no key backup, no TURN server, no
``.well-known``) fails the test.

Run by ``make e2e-browser`` (not by ``make test``: a cold Cinny build takes minutes).
Needs Debian's ``chromium`` and the Python package ``playwright`` (the ``browser``
extra; Playwright's own browser download is not used). Screenshots and the report go
to ``CINNY_ARTIFACTS`` (default ``.cache/cinny/artifacts/``, gitignored).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import web

from bench.servers import Synapse, synapse_installed
from tests.browser.cinny import CACHE, CinnyUnavailable, build, config_json
from tests.browser.key_order import OpenSynapse
from tests.kit.server import OPEN_REGISTRATION, ServerProcess

if not os.environ.get("CONDUWUIT_E2E_BROWSER"):
    pytest.skip("browser tests run with `make e2e-browser`", allow_module_level=True)

pytest.importorskip("playwright.async_api", reason="pip install -e '.[browser]'")
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Request,
    Response,
    async_playwright,
)
from playwright.async_api import (
    TimeoutError as PlaywrightTimeoutError,
)

#: The 4xx answers Cinny expects of this server; any other failed request fails the test.
EXPECTED = {
    # No .well-known/matrix/client configured: Cinny then uses the URL it was given.
    ("GET", "/.well-known/matrix/client", 404),
    # The user-interactive auth challenge of registration (then m.login.dummy).
    ("POST", "/_matrix/client/v3/register", 401),
    # No key backup made yet.
    ("GET", "/_matrix/client/v3/room_keys/version", 404),
    # No TURN server configured: conduwuit answers 404 (MSC4166), Cinny goes on.
    ("GET", "/_matrix/client/v3/voip/turnServer", 404),
}
PASSWORD = "correct horse battery staple"
#: A step waits at most this long for the page (seconds); the whole test is bounded by it.
STEP = 60.0
#: Console lines with these (lower-cased) are crypto's log: kept in the report.
CRYPTO_LOG_WORDS = ("ecrypt", "olm", "to-device", "room_key", "room key")
#: The message composer: a Slate editor (its "Send a message..." is a span, not a placeholder).
COMPOSER = "[data-slate-editor=true]"


@dataclass
class Recorder:
    """What the browser saw: failed homeserver answers, console errors, screenshots."""

    artifacts: Path
    homeserver: str
    failed: list[dict[str, Any]] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    slow: list[dict[str, Any]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    syncs: list[str] = field(default_factory=list)
    sync_bodies: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    wall_started: float = field(default_factory=time.time)

    def on_response(self, response: Response) -> None:
        if response.url.startswith(self.homeserver) and response.status >= 400:
            parts = urlsplit(response.url)
            self.failed.append(
                {
                    "method": response.request.method,
                    "path": parts.path,
                    "query": parts.query,
                    "status": response.status,
                }
            )

    async def on_sync(self, who: str, response: Response) -> None:
        """What each /sync answer carried that crypto depends on: to-device messages
        (room keys travel in them) and encrypted timeline events; such answers are
        kept whole in ``sync_bodies``."""
        if "/_matrix/client/v3/sync" not in response.url or response.status != 200:
            return
        try:
            body = await response.json()
        except Exception:  # the page went away before the body was read
            return
        rooms = body.get("rooms", {}).get("join", {})
        encrypted = sum(
            e.get("type") == "m.room.encrypted"
            for room in rooms.values()
            for e in room.get("timeline", {}).get("events", [])
        )
        to_device = [e.get("type") for e in body.get("to_device", {}).get("events", [])]
        if to_device or encrypted:
            query = urlsplit(response.url).query
            since = next((p for p in query.split("&") if p.startswith("since=")), "initial")
            at = time.monotonic() - self.started
            self.sync_bodies.append({"who": who, "at": round(at, 2), "since": since, "body": body})
            self.syncs.append(
                f"{at:7.2f}s {who} {since} -> {body.get('next_batch')}: to_device={to_device} "
                f"encrypted_events={encrypted} "
                f"otk_counts={body.get('device_one_time_keys_count')}"
            )

    def on_console(self, who: str, message: ConsoleMessage) -> None:
        text = message.text
        if message.type in ("error", "warning") or any(
            word in text.lower() for word in CRYPTO_LOG_WORDS
        ):
            at = time.monotonic() - self.started
            self.console.append(f"{at:7.2f}s {who} {message.type}: {text[:500]}")

    def on_request_finished(self, request: Request) -> None:
        """Requests that took over a second (long-polls show here with their timeout)."""
        ms = request.timing["responseEnd"]
        if not request.url.startswith(self.homeserver):
            return
        at = request.timing["startTime"] / 1000 - self.wall_started
        self.requests.append(f"{at:7.2f}s {ms:6.0f}ms {request.method} {request.url}")
        if ms > 1000:
            parts = urlsplit(request.url)
            self.slow.append({"path": parts.path, "query": parts.query, "ms": round(ms)})

    def on_request_failed(self, request: Request) -> None:
        # ERR_ABORTED: the page itself cancelled it (a long-poll /sync when it navigates);
        # ERR_INTERNET_DISCONNECTED: the test took the browser profile offline.
        if request.url.startswith(self.homeserver) and request.failure not in (
            "net::ERR_ABORTED",
            "net::ERR_INTERNET_DISCONNECTED",
        ):
            self.failed.append(
                {
                    "method": request.method,
                    "path": urlsplit(request.url).path,
                    "status": 0,
                    "failure": request.failure,
                }
            )

    async def step(self, page: Page, name: str) -> None:
        elapsed = round(time.monotonic() - self.started, 2)
        shot = self.artifacts / f"{len(self.steps) + 1:02d}-{name}.png"
        await page.screenshot(path=str(shot))
        self.steps.append({"name": name, "seconds": elapsed, "screenshot": shot.name})

    def write(self, error: str | None = None) -> None:
        report = {
            "steps": self.steps,
            "notes": self.notes,
            "failed_requests": self.failed,
            "slow_requests": self.slow,
            "console": self.console[-300:],
            "requests": self.requests,
            "syncs": self.syncs,
            "sync_bodies": self.sync_bodies,
            "error": error,
        }
        (self.artifacts / "report.json").write_text(json.dumps(report, indent=1))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def cinny_dist() -> Path:
    try:
        return build()
    except CinnyUnavailable as error:
        reason = str(error)
    pytest.fail(f"Cinny could not be built: {reason}", pytrace=False)


@pytest.fixture
def homeserver(tmp_path: Path) -> Iterator[ServerProcess | Synapse]:
    """This server; or Synapse (from the benchmark's venv) with
    ``CINNY_HOMESERVER=synapse``."""
    if os.environ.get("CINNY_HOMESERVER") == "synapse":
        if not synapse_installed():
            pytest.fail("no Synapse venv: run `python -m bench.run` once", pytrace=False)
        synapse = OpenSynapse(tmp_path / "synapse")
        synapse.start()
        yield synapse
        synapse.stop()
        return
    process = ServerProcess(tmp_path / "hs", env=OPEN_REGISTRATION)
    process.start()
    yield process
    process.stop()


@pytest.fixture
async def cinny_url(cinny_dist: Path, homeserver: ServerProcess) -> AsyncIterator[str]:
    """Cinny's dist on a loopback port, with the rewrites of Cinny's own nginx config.

    ``*/olm.wasm`` is the root one (Cinny loads it relative to the page), any other
    unknown path is the app (it routes itself), ``config.json`` names this server.
    """
    config = config_json(homeserver.base_url)

    async def serve(request: web.Request) -> web.StreamResponse:
        if request.path == "/config.json":
            return web.json_response(config)
        if request.path.endswith("/olm.wasm"):
            return web.FileResponse(cinny_dist / "olm.wasm")
        path = (cinny_dist / request.path.lstrip("/")).resolve()
        if path.is_relative_to(cinny_dist) and path.is_file():
            return web.FileResponse(path)
        return web.FileResponse(cinny_dist / "index.html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
def artifacts() -> Path:
    root = Path(os.environ.get("CINNY_ARTIFACTS", CACHE / "artifacts"))
    path = root / time.strftime("%Y%m%d-%H%M%S")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("no chromium: apt-get install chromium", pytrace=False)
    async with async_playwright() as driver:
        # Root has no user namespaces for Chromium's sandbox here; the page is our own.
        launched = await driver.chromium.launch(
            executable_path=chromium, headless=True, args=["--no-sandbox"]
        )
        yield launched
        await launched.close()


class Api:
    """The client-server API over aiohttp, as the second user (and as a checker)."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session, self.base, self.token = session, base, ""

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with self.session.request(
            method, f"{self.base}/_matrix/client/v3{path}", json=body, headers=headers
        ) as response:
            data = await response.json()
            assert response.status == 200, (method, path, response.status, data)
            return data

    async def register(self, username: str) -> str:
        body = {"username": username, "password": PASSWORD, "auth": {"type": "m.login.dummy"}}
        reply = await self.call("POST", "/register", body)
        self.token = reply["access_token"]
        return str(reply["user_id"])

    async def login(self, username: str) -> None:
        body = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": username},
            "password": PASSWORD,
        }
        self.token = (await self.call("POST", "/login", body))["access_token"]

    async def room_named(self, name: str) -> str:
        for room_id in (await self.call("GET", "/joined_rooms"))["joined_rooms"]:
            state = await self.call("GET", f"/rooms/{room_id}/state")
            if any(e["type"] == "m.room.name" and e["content"].get("name") == name for e in state):
                return str(room_id)
        raise AssertionError(f"no joined room named {name!r}")

    async def messages(self, room_id: str) -> list[dict[str, Any]]:
        reply = await self.call("GET", f"/rooms/{room_id}/messages?dir=b&limit=50")
        return list(reply["chunk"])


async def _create_room(page: Page, name: str, encrypted: bool) -> None:
    """Cinny's Create Room dialog (the home sidebar's + or the empty home's button)."""
    await page.get_by_role("button", name="Create Room").first.click(timeout=STEP * 1000)
    dialog = page.locator(".create-room__form")
    await dialog.wait_for(timeout=STEP * 1000)
    if not encrypted:
        # The toggle (on by default for private rooms) is the tile's only switch.
        await page.locator(".create-room__form .toggle").first.click()
    await dialog.locator("input[name=name]").fill(name)
    await dialog.get_by_role("button", name="Create").click()
    await page.locator(COMPOSER).wait_for(timeout=STEP * 1000)


async def _send(page: Page, text: str) -> None:
    await page.locator(COMPOSER).click()
    await page.keyboard.type(text)
    await page.keyboard.press("Enter")


async def _wait_api(check: Any, what: str) -> Any:
    """Poll ``check()`` (an async callable) until it returns something truthy."""
    deadline = time.monotonic() + STEP
    while time.monotonic() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


async def _register(page: Page, cinny_url: str, username: str, recorder: Recorder) -> None:
    """Cinny's own registration form (the server offers m.login.dummy: no captcha, no
    email); done when the home room list is shown (empty, or with the server's Admin
    Room for the first user, which may come with the first sync or just after)."""
    await page.goto(f"{cinny_url}/register/")
    await page.locator("input[name=usernameInput]").fill(username)
    await page.locator("input[name=passwordInput]").fill(PASSWORD)
    await page.locator("input[name=confirmPasswordInput]").fill(PASSWORD)
    await recorder.step(page, f"register-{username}")
    await page.get_by_role("button", name="Register").click()
    await page.get_by_text("Create Room").first.wait_for()


async def _open_page(browser: Browser, recorder: Recorder, who: str) -> tuple[BrowserContext, Page]:
    """A fresh browser profile (one user's Cinny), its traffic recorded."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})

    async def on_sync(response: Response) -> None:
        await recorder.on_sync(who, response)

    context.on("response", recorder.on_response)
    context.on("response", on_sync)
    context.on("requestfailed", recorder.on_request_failed)
    context.on("requestfinished", recorder.on_request_finished)
    page = await context.new_page()
    page.on("console", lambda message: recorder.on_console(who, message))
    page.set_default_timeout(STEP * 1000)
    return context, page


async def test_cinny_register_chat_and_encrypted_room(
    homeserver: ServerProcess | Synapse, cinny_url: str, browser: Browser, artifacts: Path
) -> None:
    recorder = Recorder(artifacts, homeserver.base_url)
    alice_context, alice = await _open_page(browser, recorder, "alice")
    carol_context, carol = await _open_page(browser, recorder, "carol")
    error: str | None = None
    try:
        async with aiohttp.ClientSession() as session:
            await _scenario(recorder, homeserver, cinny_url, session, alice, carol)
    except BaseException as failure:
        error = repr(failure)
        for name, page in (("alice", alice), ("carol", carol)):
            try:
                await recorder.step(page, f"failure-{name}")
            except Exception as shot_error:
                error += f" (no screenshot of {name}: {shot_error!r})"
        raise
    finally:
        recorder.write(error)
        summary = {
            "steps": recorder.steps,
            "notes": recorder.notes,
            "failed": recorder.failed,
            "slow": recorder.slow,
        }
        print(f"\ncinny artifacts: {artifacts}\n{json.dumps(summary, indent=1)}")
        await alice_context.close()
        await carol_context.close()
    unexpected = [
        f for f in recorder.failed if (f["method"], f["path"], f["status"]) not in EXPECTED
    ]
    assert not unexpected, unexpected


def _in_timeline(page: Page, text: str) -> Any:
    return page.locator("[data-message-id]", has_text=text)


async def _scenario(
    recorder: Recorder,
    homeserver: ServerProcess | Synapse,
    cinny_url: str,
    session: aiohttp.ClientSession,
    page: Page,
    carol: Page,
) -> None:
    # 1. Alice registers in Cinny and sees her room list.
    await _register(page, cinny_url, "alice", recorder)
    await recorder.step(page, "room-list")

    # 2. The initial sync is over when Cinny hides "Connecting..." (shown from the
    # first sync until a second one returns: on a quiet server, one long-poll).
    await page.get_by_text("Connecting...").wait_for(state="hidden")
    await recorder.step(page, "connected")

    # 3. Create a room in the UI and write in it.
    await _create_room(page, "Family", encrypted=False)
    await recorder.step(page, "room-created")
    await _send(page, "Hello from Cinny")
    await _in_timeline(page, "Hello from Cinny").wait_for()
    await recorder.step(page, "message-sent")

    # 4. The server has it: read back over the client API as Alice (another device).
    alice = Api(session, homeserver.base_url)
    await alice.login("alice")
    family = await alice.room_named("Family")

    async def alices_message() -> bool:
        return any(
            e["type"] == "m.room.message" and e["content"].get("body") == "Hello from Cinny"
            for e in await alice.messages(family)
        )

    await _wait_api(alices_message, "Cinny's message on the server")

    # 5. Bob (over the API) joins and answers; Cinny's timeline shows it.
    bob = Api(session, homeserver.base_url)
    bob_id = await bob.register("bob")
    await alice.call("POST", f"/rooms/{family}/invite", {"user_id": bob_id})
    await bob.call("POST", f"/rooms/{family}/join", {})
    reply = {"msgtype": "m.text", "body": "Hello from Bob"}
    await bob.call("PUT", f"/rooms/{family}/send/m.room.message/t1", reply)
    await _in_timeline(page, "Hello from Bob").wait_for()
    await recorder.step(page, "reply-received")

    # 6. An encrypted room between two Cinnys (matrix-js-sdk's crypto in each browser):
    # Alice creates it in Cinny, Carol (registered in her own Cinny) joins, each reads
    # the other's message in clear, and the server holds only ciphertext.
    await _register(carol, cinny_url, "carol", recorder)
    await page.goto(f"{cinny_url}/home/")
    await _create_room(page, "Secrets", encrypted=True)
    await recorder.step(page, "encrypted-room-created")
    secrets = await alice.room_named("Secrets")
    carol_api = Api(session, homeserver.base_url)
    await carol_api.login("carol")
    await alice.call("POST", f"/rooms/{secrets}/invite", {"user_id": "@carol:localhost"})
    await carol_api.call("POST", f"/rooms/{secrets}/join", {})
    # Alice's Cinny must know Carol is in the room before it shares its room key.
    await page.get_by_text("carol joined the room").wait_for()
    throttle = float(os.environ.get("CINNY_CPU_THROTTLE", "1"))
    if throttle > 1:
        # A slow device (Chrome's CPU throttling, as DevTools does it) for Carol while
        # the room key and the message reach her: widens the race in Cinny that
        # shows "Unable to decrypt message" (docs/development/testing.md).
        cdp = await carol.context.new_cdp_session(carol)
        await cdp.send("Emulation.setCPUThrottlingRate", {"rate": throttle})
        recorder.notes.append(f"carol's CPU throttled {throttle:g}x")
    offline = os.environ.get("CINNY_KEY_WITH_MESSAGE") == "1"
    if offline:
        # Carol's device is offline while Alice writes: back online, one /sync answer
        # carries both the room key and the message, whatever order they reached
        # the server in (the case where Cinny may show "Unable to decrypt message").
        await carol.context.set_offline(True)
        recorder.notes.append("carol was offline while alice sent")
    await _send(page, "An encrypted hello")
    await _in_timeline(page, "An encrypted hello").wait_for()
    await recorder.step(page, "encrypted-message-sent")
    if offline:
        await asyncio.sleep(2)  # the room key's to-device request follows the message
        await carol.context.set_offline(False)

    await carol.get_by_text("Secrets", exact=True).first.click()
    try:
        await _in_timeline(carol, "An encrypted hello").wait_for(timeout=15_000)
    except PlaywrightTimeoutError:
        # Cinny 4.2.2's, not the server's (docs/development/testing.md, "Unable to
        # decrypt message"): the message came before or with its room key, the
        # SDK's retry succeeded between Cinny rendering the failure and listening
        # for the success. Recorded, then what a user would do.
        if not await carol.get_by_text("Unable to decrypt message").count():
            raise
        await recorder.step(carol, "carol-unable-to-decrypt")
        # Leave the room and come back inside the app (no reload: the same
        # matrix-js-sdk client and its events in memory). If it shows in clear now,
        # the SDK had decrypted it and only Cinny's rendered message was stale.
        room_url = carol.url
        try:
            await carol.go_back()
            await carol.wait_for_url(lambda url: url != room_url, timeout=10_000)
            await carol.go_forward()
            await carol.wait_for_url(room_url, timeout=10_000)
            await _in_timeline(carol, "An encrypted hello").wait_for(timeout=5_000)
            recorder.notes.append(
                "carol saw 'Unable to decrypt message' until she reopened the room (no reload)"
            )
        except PlaywrightTimeoutError:
            recorder.notes.append("carol saw 'Unable to decrypt message' until a reload")
            await carol.reload()
            await _in_timeline(carol, "An encrypted hello").wait_for()
    await recorder.step(carol, "carol-decrypted")
    await _send(carol, "Encrypted reply from Carol")
    await _in_timeline(page, "Encrypted reply from Carol").wait_for()
    await recorder.step(page, "alice-decrypted-reply")

    async def ciphertext() -> list[dict[str, Any]]:
        events = await alice.messages(secrets)
        return [e for e in events if e["type"] == "m.room.encrypted"]

    encrypted = await _wait_api(ciphertext, "m.room.encrypted events from Cinny")
    assert len(encrypted) >= 2, encrypted
    assert {e["content"]["algorithm"] for e in encrypted} == {"m.megolm.v1.aes-sha2"}
    plain = [e for e in await alice.messages(secrets) if e["type"] == "m.room.message"]
    assert not plain, f"an encrypted room holds plaintext: {plain}"
