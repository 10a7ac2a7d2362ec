"""Listening: direct TLS, TLS and plain HTTP on one port, a unix socket with permissions."""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import stat
import time
import urllib.request
from pathlib import Path

import aiohttp
import trustme

from tests.kit.server import ServerProcess


def _certs(tmp_path: Path) -> tuple[trustme.CA, Path, Path]:
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    chain, key = tmp_path / "chain.pem", tmp_path / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(chain))
    cert.private_key_pem.write_to_path(str(key))
    return ca, chain, key


def _get(url: str, context: ssl.SSLContext | None = None) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=5, context=context) as response:
        result: dict[str, object] = json.loads(response.read())
        return result


def test_direct_tls(server: ServerProcess, tmp_path: Path) -> None:
    ca, chain, key = _certs(tmp_path)
    server.env.update(CONDUWUIT_TLS__CERTS=str(chain), CONDUWUIT_TLS__KEY=str(key))
    server.start(wait=False)
    context = ssl.create_default_context()
    ca.configure_trust(context)
    url = f"https://localhost:{server.port}/_matrix/client/versions"
    deadline = time.monotonic() + 20
    while True:
        try:
            assert "versions" in _get(url, context)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(server.log()) from None
            time.sleep(0.05)


def test_dual_protocol_serves_tls_and_plain_on_one_port(
    server: ServerProcess, tmp_path: Path
) -> None:
    ca, chain, key = _certs(tmp_path)
    server.env.update(
        CONDUWUIT_TLS__CERTS=str(chain),
        CONDUWUIT_TLS__KEY=str(key),
        CONDUWUIT_TLS__DUAL_PROTOCOL="true",
    )
    server.start()  # waits on plain HTTP
    context = ssl.create_default_context()
    ca.configure_trust(context)
    assert "verify_keys" in _get(f"https://localhost:{server.port}/_matrix/key/v2/server", context)
    assert "versions" in _get(f"http://127.0.0.1:{server.port}/_matrix/client/versions")
    # a TLS client that does not trust the CA is refused, and the server keeps serving
    try:
        _get(
            f"https://localhost:{server.port}/_matrix/client/versions", ssl.create_default_context()
        )
        raise AssertionError("untrusted certificate accepted")
    except OSError:
        pass
    assert "versions" in _get(f"http://127.0.0.1:{server.port}/_matrix/client/versions")


async def test_unix_socket_with_permissions(server: ServerProcess, tmp_path: Path) -> None:
    socket_path = tmp_path / "run" / "conduwuit.sock"
    server.env.update(
        CONDUWUIT_UNIX_SOCKET_PATH=str(socket_path), CONDUWUIT_UNIX_SOCKET_PERMS="660"
    )
    server.start(wait=False)
    for _ in range(400):
        if socket_path.exists():
            break
        await asyncio.sleep(0.05)
    connector = aiohttp.UnixConnector(path=str(socket_path))
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(100):
            try:
                async with session.get("http://localhost/_matrix/client/versions") as response:
                    assert response.status == 200
                    break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
        else:
            raise AssertionError(server.log())
    assert stat.S_IMODE(os.stat(socket_path).st_mode) == 0o660
