"""Libraries a request needs only now and then load on first use, not at start-up
(issue 21: idle RSS on a Raspberry Pi). A fresh interpreter starts the real server
(listening on loopback) and reports what it has imported, before and after using
each library once. The federation's TLS context (the system's CAs) is built on
first use too."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.kit.server import free_port

#: Loaded on first use: Pillow (thumbnails, previews), dnspython (federation's
#: server discovery), PyYAML (appservice registrations), argon2-cffi (the first
#: password hash or check). jinja2: the root page.
LAZY = ("PIL", "dns", "yaml", "jinja2", "argon2")

SCRIPT = textwrap.dedent("""
    import asyncio, json, sys
    from pathlib import Path

    from conduwuit.config import load_config
    from conduwuit.runtime import RunningServer

    LAZY = {lazy!r}

    def loaded():
        return sorted({{name.split(".")[0] for name in sys.modules}} & set(LAZY))

    def admin_commands():
        return sorted(n for n in sys.modules if n.startswith("conduwuit.admin.commands"))

    SLIDING_CONFIG = "conduwuit.service.sliding_sync.config"

    async def main():
        env = {{
            "CONDUWUIT_SERVER_NAME": "test.example",
            "CONDUWUIT_DATABASE_PATH": {db!r},
            "CONDUWUIT_ADDRESS": "127.0.0.1",
            "CONDUWUIT_PORT": "{port}",
        }}
        server = RunningServer(load_config(None, env).config)
        await server.start()
        services = server.server.services
        report = {{"serving": loaded(), "tls": services.federation.client.tls.built}}
        report["admin_serving"] = admin_commands()
        report["sliding_config"] = SLIDING_CONFIG in sys.modules
        report["admin_help"] = server.server.admin.parser.help("server")
        report["admin_used"] = admin_commands()
        try:
            from conduwuit.service.media.thumbnail import NotThumbnailable, probe
            try:
                probe(Path({not_image!r}), 1_000_000)
            except NotThumbnailable:
                pass
            dns = services.federation.resolver.dns
            try:  # not a DNS name: refused before any packet is sent
                await dns.query("no..such", 1)
            except OSError:
                pass
            hasher = services.users.hasher
            report["verified"] = hasher.verify_sync(hasher.hash_sync("pw"), "pw")
            report["used"] = loaded()
        finally:
            await server.stop()
        print(json.dumps(report))

    asyncio.run(main())
    """)


def test_pillow_dnspython_yaml_jinja2_load_on_first_use(tmp_path: Path) -> None:
    not_image = tmp_path / "not-an-image"
    not_image.write_bytes(b"plain text")
    script = SCRIPT.format(
        lazy=LAZY, db=str(tmp_path / "db"), port=free_port(), not_image=str(not_image)
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["serving"] == []  # none of them while the server starts and idles
    assert report["tls"] is False  # nor the federation's CA store (0.8 MiB)
    assert report["used"] == ["PIL", "argon2", "dns"]  # each on its first use
    assert report["verified"] is True
    # The admin commands' modules (~5 ms of start-up) load for the first command line.
    assert report["admin_serving"] == []
    assert "uptime" in report["admin_help"]
    assert "conduwuit.admin.commands.server" in report["admin_used"]
    # Sliding sync's request types: with the api module, on the first request to it.
    assert report["sliding_config"] is False


CLI_SCRIPT = textwrap.dedent("""
    import json, os, ssl, sys, types

    def run(loaded, started_at):  # instead of serving: what the entry point left
        import aiohttp.connector
        default = aiohttp.connector._SSL_CONTEXT_VERIFIED
        print(json.dumps({{
            "aiohttp_cas": default.cert_store_stats()["x509_ca"],
            "system_cas": ssl.create_default_context().cert_store_stats()["x509_ca"],
            "env": {{k: os.environ.get(k) for k in ("SSL_CERT_FILE", "SSL_CERT_DIR")}},
        }}))

    # The runtime (which imports aiohttp itself) stands in for this run alone.
    sys.modules["conduwuit.runtime"] = types.SimpleNamespace(run=run)
    from conduwuit.cli import main
    sys.exit(main(["serve"]))
    """)


def test_serving_process_imports_aiohttp_without_its_default_cas(tmp_path: Path) -> None:
    # aiohttp's import-time contexts would hold the system's CAs (~1.9 MiB); the
    # server passes its own, built on first use, to every HTTPS request.
    import ssl

    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": ":".join(sys.path),
        "CONDUWUIT_SERVER_NAME": "test.example",
        "CONDUWUIT_DATABASE_PATH": str(tmp_path / "db"),
        "SSL_CERT_DIR": "/etc/ssl/certs",  # an operator's setting is kept
    }
    result = subprocess.run(
        [sys.executable, "-c", CLI_SCRIPT.format()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["aiohttp_cas"] == 0
    assert report["env"] == {"SSL_CERT_FILE": None, "SSL_CERT_DIR": "/etc/ssl/certs"}
    if ssl.create_default_context().cert_store_stats()["x509_ca"]:  # the system has CAs
        assert report["system_cas"] > 0  # and later contexts still load them
