"""synapse-admin's media pages in headless Chromium against this server.

``python -m tests.browser.synapse_admin_media DIST`` (DIST: a built synapse-admin,
``vite build`` of Awesome-Technologies/synapse-admin) starts this server on a
loopback port with open registration, makes an admin and alice, who uploads an
image and sends it in a room, serves DIST with a ``config.json`` naming the
server, logs in through synapse-admin's form, opens alice's media tab and
quarantines the image from its row, opens the media statistics page and the room
list; then it prints the requests to ``/_synapse/admin`` with their statuses, every
answer of 400 or more, and the page's console errors, and saves screenshots beside
DIST. It exits 1 when an
admin request failed or the page logged an error.

Needs ``playwright`` (the ``browser`` extra) and Debian's ``chromium``; the server
runs under ``CONDUWUIT_PYTHON`` (default: this interpreter) so the two can live in
different virtualenvs. docs/development/testing.md says what was found.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

from playwright.async_api import async_playwright

from tests.kit.server import OPEN_REGISTRATION, free_port

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple"
#: synapse-admin 0.11.4's index.html reads a build constant its vite config does not
#: define (the version in the login page's footer): its own error, on any server.
UPSTREAM_ERROR = "__SYNAPSE_ADMIN_VERSION__ is not defined"
#: A 1x1 PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def call(base: str, method: str, path: str, body: Any = None, token: str = "", **kw: Any) -> Any:
    data = kw.get("raw", json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(f"{base}{path}", data=data, method=method)
    request.add_header("Content-Type", kw.get("content_type", "application/json"))
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def start_server(workdir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONDUWUIT_", "CONDUIT_"))}
    env.update(OPEN_REGISTRATION)
    env.update(
        {
            "PYTHONPATH": str(REPO),
            "CONDUWUIT_SERVER_NAME": "localhost",
            "CONDUWUIT_DATABASE_PATH": str(workdir / "db"),
            "CONDUWUIT_ADDRESS": "127.0.0.1",
            "CONDUWUIT_PORT": str(port),
        }
    )
    python = os.environ.get("CONDUWUIT_PYTHON", sys.executable)
    log = (workdir / "server.log").open("ab")
    process = subprocess.Popen([python, "-m", "conduwuit"], env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    for _ in range(400):  # bounded: 20 s
        try:
            call(base, "GET", "/_matrix/client/versions")
            return process
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the server did not start; see server.log")


def populate(base: str) -> str:
    """An admin (the first user) and alice with an image in a room; alice's ID."""

    def register(name: str) -> str:
        body = {"username": name, "password": PASSWORD, "auth": {"type": "m.login.dummy"}}
        return str(call(base, "POST", "/_matrix/client/v3/register", body)["access_token"])

    register("admin")
    alice = register("alice")
    uploaded = call(
        base,
        "POST",
        "/_matrix/media/v3/upload?filename=dot.png",
        raw=PNG,
        content_type="image/png",
        token=alice,
    )
    room = call(base, "POST", "/_matrix/client/v3/createRoom", {"name": "Pictures"}, alice)
    content = {"msgtype": "m.image", "body": "dot.png", "url": uploaded["content_uri"]}
    path = f"/_matrix/client/v3/rooms/{room['room_id']}/send/m.room.message/1"
    call(base, "PUT", path, content, alice)
    return "@alice:localhost"


def serve_dist(dist: Path, homeserver: str) -> tuple[ThreadingHTTPServer, str]:
    (dist / "config.json").write_text(json.dumps({"restrictBaseUrl": homeserver}))
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(dist))
    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


async def browse(ui: str, base: str, alice: str, shots: Path) -> list[str]:
    problems: list[str] = []
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(
            executable_path=chromium, headless=True, args=["--no-sandbox"]
        )
        page = await browser.new_page()
        page.on(
            "console",
            lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
        )
        page.on(
            "pageerror",
            lambda e: None if UPSTREAM_ERROR in str(e) else problems.append(f"page error: {e}"),
        )

        def answered(response: Any) -> None:
            if response.url.startswith(base):
                line = f"{response.status} {response.request.method} {response.url[len(base) :]}"
                print(line)
                if response.status >= 400:
                    problems.append(f"answer {line}")

        page.on("response", answered)
        await page.goto(ui)
        await page.fill("input[name=username]", "admin")
        await page.fill("input[name=password]", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url("**/#/users**", timeout=20_000)
        await page.wait_for_load_state("networkidle")
        for name, route in (
            ("user-media", f"#/users/{quote(alice, safe='')}/media"),
            ("media-statistics", "#/user_media_statistics"),
            ("rooms", "#/rooms"),
        ):
            await page.goto(f"{ui}/{route}")
            await page.wait_for_load_state("networkidle")
            await page.wait_for_timeout(1500)
            await page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
            print(f"-- {name}: {await page.title()!r}")
            if name == "user-media":
                # Quarantine the image from its row, as an admin would.
                async with page.expect_response(lambda r: "/media/quarantine/" in r.url) as got:
                    await (
                        page.locator("tbody").get_by_role("button", name="Quarantine").first.click()
                    )
                print(f"-- quarantine button: {(await got.value).status}")
                # synapse-admin 0.11.4 shows "An error has occurred." here and does
                # not refresh, though the answer is 200 {} as Synapse's: reload.
                await page.reload()
                await page.wait_for_load_state("networkidle")
                await page.wait_for_timeout(1500)
                await page.screenshot(path=str(shots / "quarantined.png"), full_page=True)
        await browser.close()
    return problems


def main() -> int:
    dist = Path(sys.argv[1]).resolve()
    shots = dist.parent / "screenshots"
    shots.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        process = start_server(Path(tmp), port)
        base = f"http://127.0.0.1:{port}"
        try:
            alice = populate(base)
            httpd, ui = serve_dist(dist, base)
            try:
                problems = asyncio.run(asyncio.wait_for(browse(ui, base, alice, shots), 120))
            finally:
                httpd.shutdown()
        finally:
            process.terminate()
            process.wait(15)
    for problem in problems:
        print("PROBLEM", problem)
    print(f"screenshots in {shots}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
