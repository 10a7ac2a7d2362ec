"""Federating server processes on loopback: IP-literal server names and a test CA.

Each server listens on its own loopback address (``127.0.0.2``, ``127.0.0.3``, ...;
Linux routes all of 127/8 to ``lo``) and is named ``127.0.0.N:PORT``: a valid
Matrix server name that needs no DNS. Its TLS certificate (for the IP) comes from a
throwaway CA made with ``cryptography`` (through trustme); every server trusts that
CA as ``federation_ca_file``, and ``ip_range_denylist`` lets 127.0.0.0/8 through.
Plain HTTP is accepted on the same port (``tls.dual_protocol``) for the test's
own client requests.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import trustme

from tests.kit.server import OPEN_REGISTRATION, ServerProcess, free_port
from tests.kit.synapse_peer import SynapsePeer

#: Everything the default denylist refuses except loopback.
DENYLIST_WITHOUT_LOOPBACK = json.dumps(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"])


@dataclass
class FederationNet:
    workdir: Path
    ca: trustme.CA = field(default_factory=trustme.CA)
    servers: list[ServerProcess] = field(default_factory=list)
    synapses: list[SynapsePeer] = field(default_factory=list)

    @property
    def ca_file(self) -> Path:
        path = self.workdir / "ca.pem"
        if not path.exists():
            self.workdir.mkdir(parents=True, exist_ok=True)
            self.ca.cert_pem.write_to_path(str(path))
        return path

    def server(self, host_index: int, **env: str) -> ServerProcess:
        """A (not yet started) server on ``127.0.0.<host_index>``."""
        address = f"127.0.0.{host_index}"
        port = free_port()
        workdir = self.workdir / f"hs{host_index}"
        workdir.mkdir(parents=True, exist_ok=True)
        cert = self.ca.issue_cert(address)
        chain, key = workdir / "chain.pem", workdir / "key.pem"
        cert.private_key_and_cert_chain_pem.write_to_path(str(chain))
        cert.private_key_pem.write_to_path(str(key))
        server = ServerProcess(
            workdir,
            server_name=f"{address}:{port}",
            port=port,
            address=address,
            env={
                **OPEN_REGISTRATION,
                "CONDUWUIT_TLS__CERTS": str(chain),
                "CONDUWUIT_TLS__KEY": str(key),
                "CONDUWUIT_TLS__DUAL_PROTOCOL": "true",
                "CONDUWUIT_FEDERATION_CA_FILE": str(self.ca_file),
                "CONDUWUIT_IP_RANGE_DENYLIST": DENYLIST_WITHOUT_LOOPBACK,
                "CONDUWUIT_TRUSTED_SERVERS": "[]",
                "CONDUWUIT_REQUEST_CONN_TIMEOUT": "3",
                "CONDUWUIT_FEDERATION_TIMEOUT": "15",
                **env,
            },
        )
        self.servers.append(server)
        return server

    def synapse(
        self,
        host_index: int,
        *,
        ip_blocklist: list[str] | None = None,
        trusted_key_servers: list[dict[str, Any]] | None = None,
    ) -> SynapsePeer:
        """A (not yet started) Synapse on ``127.0.0.<host_index>``, see synapse_peer.py."""
        address = f"127.0.0.{host_index}"
        workdir = self.workdir / f"synapse{host_index}"
        workdir.mkdir(parents=True, exist_ok=True)
        cert = self.ca.issue_cert(address)
        chain, key = workdir / "chain.pem", workdir / "key.pem"
        chain.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
        cert.private_key_pem.write_to_path(str(key))
        peer = SynapsePeer(
            workdir,
            address,
            chain,
            key,
            self.ca_file,
            ip_blocklist=ip_blocklist or [],
            trusted_key_servers=trusted_key_servers or [],
        )
        self.synapses.append(peer)
        return peer

    def stop(self) -> None:
        for peer in self.synapses:
            peer.stop()
        for server in self.servers:
            server.stop()


@contextmanager
def federation(workdir: Path) -> Iterator[FederationNet]:
    net = FederationNet(workdir)
    try:
        yield net
    finally:
        net.stop()


@contextmanager
def running(workdir: Path, *host_indexes: int) -> Iterator[FederationNet]:
    """A net with one started server (default options) per ``host_indexes``."""
    with federation(workdir) as net:
        servers = [net.server(i) for i in host_indexes]
        for server in servers:
            server.start(wait=False)
        for server in servers:
            server.wait_ready(60)
        yield net


def q(value: str) -> str:
    """``value`` as one path segment."""
    return urllib.parse.quote(value, safe="")


class HasBaseUrl(Protocol):
    @property
    def base_url(self) -> str: ...


def call(
    server: HasBaseUrl,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """One plain-HTTP request to ``server``: (status, JSON answer)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{server.base_url}{path}", data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def register(server: ServerProcess, username: str, password: str = "pw-123456") -> tuple[str, str]:
    """A new user on ``server``: (user ID, access token)."""
    status, answer = call(
        server,
        "POST",
        "/_matrix/client/v3/register",
        {"username": username, "password": password, "auth": {"type": "m.login.dummy"}},
    )
    assert status == 200, answer
    return answer["user_id"], answer["access_token"]


def walk(
    server: HasBaseUrl, token: str, room: str, start: str | None, limit: int = 10
) -> list[dict[str, Any]]:
    """Every event /messages gives backwards from ``start``, ``limit`` at a time,
    following ``end`` until it is left out; the tokens keep the walk going backwards."""
    return [e for page in walk_pages(server, token, room, start, limit) for e in page["chunk"]]


def walk_pages(
    server: HasBaseUrl, token: str, room: str, start: str | None, limit: int = 10
) -> list[dict[str, Any]]:
    """The /messages pages of ``walk``, each checked: it starts at the token asked
    for, and an end token comes with events."""
    pages: list[dict[str, Any]] = []
    position = start
    for _ in range(50):
        path = f"/_matrix/client/v3/rooms/{q(room)}/messages?dir=b&limit={limit}"
        if position is not None:
            path += f"&from={q(position)}"
        status, page = call(server, "GET", path, token=token)
        assert status == 200, page
        if position is not None:
            assert page["start"] == position
        pages.append(page)
        if "end" not in page:
            return pages
        assert page["chunk"], page
        position = page["end"]
    raise AssertionError("pagination never ended")
