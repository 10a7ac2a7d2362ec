"""A real server process on loopback, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conduwuit.config import GlobalConfig

#: Every rate limit of the config turned off (``per_second = 0``), new ones included.
RATE_LIMITS_OFF = {
    f"CONDUWUIT_{name.upper()}": "0"
    for name in GlobalConfig.model_fields
    if name.startswith("rate_limit_") and name.endswith("_per_second")
}

#: Open registration without rate limits, for end-to-end tests with client libraries.
OPEN_REGISTRATION = {
    "CONDUWUIT_ALLOW_REGISTRATION": "true",
    "CONDUWUIT_YES_I_AM_VERY_VERY_SURE_I_WANT_AN_OPEN_REGISTRATION_SERVER_PRONE_TO_ABUSE": "true",
    **RATE_LIMITS_OFF,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    """``python -m conduwuit`` configured by environment, with its output in a log file."""

    workdir: Path
    server_name: str = "localhost"
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    #: The loopback address it listens on (all of 127/8 is loopback on Linux).
    address: str = "127.0.0.1"

    @property
    def base_url(self) -> str:
        return f"http://{self.address}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    def environ(self) -> dict[str, str]:
        environ = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("CONDUWUIT_", "CONDUIT_"))
        }
        environ.update(
            {
                "CONDUWUIT_SERVER_NAME": self.server_name,
                "CONDUWUIT_DATABASE_PATH": str(self.workdir / "db"),
                "CONDUWUIT_ADDRESS": self.address,
                "CONDUWUIT_PORT": str(self.port),
                "CONDUWUIT_LOG": "info",
                "CONDUWUIT_CLIENT_SHUTDOWN_TIMEOUT": "10",
            }
        )
        environ.update(self.env)
        return environ

    def start(self, *args: str, wait: bool = True, timeout: float = 20.0) -> ServerProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "conduwuit", *args],
                env=self.environ(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 20.0) -> float:
        """Poll /versions until it answers 200; the seconds it took."""
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                with urllib.request.urlopen(
                    f"{self.base_url}/_matrix/client/versions", timeout=1
                ) as response:
                    if response.status == 200:
                        return time.monotonic() - started
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.02)
        raise TimeoutError(f"server not ready after {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.process = None
        return code

    def get_json(self, path: str) -> tuple[int, Any]:
        import json

        try:
            with urllib.request.urlopen(f"{self.base_url}{path}", timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())
