"""Synapse (from PyPI, the ``crosscheck`` extra) as a federation peer on loopback.

It joins a :class:`~tests.kit.federation.FederationNet` as one more server named
``127.0.0.N:PORT``: its federation listener speaks TLS with a certificate for
``127.0.0.N`` from the net's throwaway CA, and it trusts that CA for its own
outbound federation (``federation_custom_ca_list``). Synapse refuses 127/8 by
default (``ip_range_blacklist``), and its ``ip_range_whitelist`` does not help here:
in Synapse 1.163 the check for IP-literal server names (``BlocklistingAgentWrapper``
of its federation client) is built with the blocklist alone. So the peer's
``ip_range_blacklist`` is Synapse's default without 127.0.0.0/8, plus the loopback
addresses a test wants it kept from (to keep Synapse from reaching a server
directly). A second, plain-HTTP listener on the same address serves the client API,
``/_synapse/admin`` (shared-secret registration) and ``/_matrix/key`` for the test's
own requests. SQLite in the work directory; stdout and stderr in ``synapse.log``,
shown when start-up fails.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.kit.server import free_port

#: Start-up of Synapse on a busy 2-core machine takes tens of seconds.
READY_TIMEOUT = 120.0


def synapse_available() -> bool:
    """Whether the ``crosscheck`` extra (matrix-synapse) is installed here."""
    return importlib.util.find_spec("synapse") is not None


def synapse_version() -> str:
    import synapse

    return str(synapse.__version__).split(" (")[0]


def _default_blocklist_but_loopback() -> list[str]:
    from synapse.config.server import DEFAULT_IP_RANGE_BLOCKLIST

    return [cidr for cidr in DEFAULT_IP_RANGE_BLOCKLIST if cidr != "127.0.0.0/8"]


def _write_signing_key(path: Path) -> None:
    """A fresh ed25519 signing key in Synapse's file format (``ed25519 VERSION SEED``)."""
    from signedjson.key import generate_signing_key, write_signing_keys

    with path.open("w") as file:
        write_signing_keys(file, [generate_signing_key("a_" + secrets.token_hex(2))])


@dataclass
class SynapsePeer:
    """One Synapse process; :meth:`start` writes its config and waits for it."""

    workdir: Path
    address: str
    chain_pem: Path
    key_pem: Path
    ca_file: Path
    #: Loopback CIDRs Synapse must not connect to (the rest of 127/8 it may).
    ip_blocklist: list[str]
    #: ``trusted_key_servers`` entries (``server_name`` and optionally ``verify_keys``).
    trusted_key_servers: list[dict[str, Any]] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    client_port: int = field(default_factory=free_port)
    shared_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    process: subprocess.Popen[bytes] | None = None

    @property
    def server_name(self) -> str:
        return f"{self.address}:{self.port}"

    @property
    def base_url(self) -> str:
        """The plain-HTTP listener (client API, admin API, keys)."""
        return f"http://{self.address}:{self.client_port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "synapse.log"

    @property
    def config_path(self) -> Path:
        return self.workdir / "homeserver.yaml"

    def config(self) -> dict[str, Any]:
        work = self.workdir
        return {
            "server_name": self.server_name,
            "pid_file": str(work / "homeserver.pid"),
            "listeners": [
                {
                    "port": self.port,
                    "bind_addresses": [self.address],
                    "type": "http",
                    "tls": True,
                    "x_forwarded": False,
                    "resources": [{"names": ["federation"], "compress": False}],
                },
                {
                    "port": self.client_port,
                    "bind_addresses": [self.address],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client", "keys"], "compress": False}],
                },
            ],
            "tls_certificate_path": str(self.chain_pem),
            "tls_private_key_path": str(self.key_pem),
            "federation_verify_certificates": True,
            "federation_custom_ca_list": [str(self.ca_file)],
            "ip_range_blacklist": [*_default_blocklist_but_loopback(), *self.ip_blocklist],
            "database": {"name": "sqlite3", "args": {"database": str(work / "homeserver.db")}},
            "media_store_path": str(work / "media"),
            "signing_key_path": str(work / "signing.key"),
            "registration_shared_secret": self.shared_secret,
            "macaroon_secret_key": secrets.token_hex(16),
            "form_secret": secrets.token_hex(16),
            "enable_registration": False,
            "report_stats": False,
            "enable_metrics": False,
            "url_preview_enabled": False,
            "trusted_key_servers": self.trusted_key_servers,
            "suppress_key_server_warning": True,
            "rc_message": {"per_second": 1000, "burst_count": 1000},
            "rc_login": {"address": {"per_second": 1000, "burst_count": 1000}},
            # Joins of many users (the federation benchmark's large room) are not limited.
            "rc_joins": {
                "local": {"per_second": 1000, "burst_count": 1000},
                "remote": {"per_second": 1000, "burst_count": 1000},
            },
            "rc_joins_per_room": {"per_second": 1000, "burst_count": 1000},
            # Presence updates (the benchmark's EDU figures): Synapse ignores a PUT
            # /presence beyond 0.1/s per user by default, silently.
            "rc_presence": {"per_user": {"per_second": 1000, "burst_count": 1000}},
            # Passwords are hashed cheaply: the peer's accounts are throwaway.
            "bcrypt_rounds": 4,
            # Inbound federation requests per origin: not what a test or benchmark checks.
            "rc_federation": {
                "window_size": 1000,
                "sleep_limit": 100_000,
                "sleep_delay": 1,
                "reject_limit": 100_000,
                "concurrent": 1000,
            },
        }

    def start(self, timeout: float = READY_TIMEOUT) -> SynapsePeer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        _write_signing_key(self.workdir / "signing.key")
        # JSON is YAML: Synapse reads it as its config file.
        self.config_path.write_text(json.dumps(self.config(), indent=2))
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "synapse.app.homeserver", "-c", str(self.config_path)],
                cwd=self.workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> float:
        """Poll ``/versions`` until it answers 200; the seconds it took."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"Synapse exited during start-up:\n{self.log_tail()}")
            try:
                url = f"{self.base_url}/_matrix/client/versions"
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return time.monotonic() - started
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.1)
        raise TimeoutError(f"Synapse not ready after {timeout}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 20.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        self.process = None

    def _post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.base_url}{path}", data=data, method="POST" if data else "GET"
        )
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=30) as response:
            answer: dict[str, Any] = json.loads(response.read())
            return answer

    def register(self, username: str, password: str = "pw-123456") -> tuple[str, str]:
        """A new user through the shared-secret admin API: (user ID, access token)."""
        nonce = self._post("/_synapse/admin/v1/register")["nonce"]
        mac = hmac.new(self.shared_secret.encode(), digestmod=hashlib.sha1)
        mac.update(
            b"\x00".join([nonce.encode(), username.encode(), password.encode(), b"notadmin"])
        )
        answer = self._post(
            "/_synapse/admin/v1/register",
            {
                "nonce": nonce,
                "username": username,
                "password": password,
                "admin": False,
                "mac": mac.hexdigest(),
            },
        )
        return answer["user_id"], answer["access_token"]
