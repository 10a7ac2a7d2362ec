"""Homeservers under test: each starts fresh in a temp directory on loopback.

Both kinds answer the same questions: how long from process start to the first 200
from ``/_matrix/client/versions``, which pids make up the server (for RSS), and how
to register users (a shared secret, Synapse-style, is set on both).

Synapse runs from a venv that :func:`ensure_synapse` creates under the gitignored
``.cache/bench/`` directory, with SQLite and its rate limits lifted so the limiter
is not what is measured.
"""

from __future__ import annotations

import compileall
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache" / "bench"
SYNAPSE_VENV = CACHE / "synapse-venv"
READY_TIMEOUT = 90.0  # Synapse on a busy 2-core machine can take tens of seconds
STOP_TIMEOUT = 20.0
SERVER_NAME = "localhost"
#: Largest upload both servers accept (bytes): room for the media-large scenario.
MAX_UPLOAD = 512 * 1024 * 1024

# Every Synapse rate limiter we know of, lifted. Unknown keys are ignored by Synapse.
_LIFTED = {"per_second": 1_000_000, "burst_count": 1_000_000}
SYNAPSE_RATE_LIMITS: dict[str, Any] = {
    "rc_message": _LIFTED,
    "rc_registration": _LIFTED,
    "rc_registration_token_validity": _LIFTED,
    "rc_login": {"address": _LIFTED, "account": _LIFTED, "failed_attempts": _LIFTED},
    "rc_admin_redaction": _LIFTED,
    "rc_joins": {"local": _LIFTED, "remote": _LIFTED},
    "rc_joins_per_room": _LIFTED,
    "rc_3pid_validation": _LIFTED,
    "rc_invites": {"per_room": _LIFTED, "per_user": _LIFTED, "per_issuer": _LIFTED},
    "rc_third_party_invite": _LIFTED,
    "rc_media_create": _LIFTED,
    "rc_presence": {"per_user": _LIFTED},
    "rc_delayed_event_mgmt": _LIFTED,
    "rc_reports": _LIFTED,
    "rc_room_creation": _LIFTED,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the comm field may contain spaces and parentheses: split after the last ")"
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def process_tree(pid: int) -> list[int]:
    """The pid and all its descendants (bounded: a server has few)."""
    tree: list[int] = []
    todo = [pid]
    while todo and len(tree) < 1000:
        current = todo.pop()
        tree.append(current)
        todo.extend(_children(current))
    return tree


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kib(pid: int) -> int:
    return sum(rss_kib(p) for p in process_tree(pid))


class PeakRss:
    """Samples the RSS of a process tree in a thread; ``peak_mib`` when stopped, and
    with ``keep_samples`` every ``(time.monotonic(), kib)`` sample (at most 100,000)."""

    def __init__(self, pid: int, interval: float = 0.05, keep_samples: bool = False) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_kib = 0
        self.keep_samples = keep_samples
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            kib = tree_rss_kib(self.pid)
            self.peak_kib = max(self.peak_kib, kib)
            if self.keep_samples and len(self.samples) < 100_000:
                self.samples.append((time.monotonic(), kib))
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.peak_kib = max(self.peak_kib, tree_rss_kib(self.pid))

    @property
    def peak_mib(self) -> float:
        return round(self.peak_kib / 1024, 1)


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = READY_TIMEOUT) -> float:
    """Poll ``url`` until it answers 200; the ``time.monotonic()`` at that moment."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError("server exited during start-up")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic()
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            time.sleep(0.005)
    raise TimeoutError(f"no 200 from {url} within {timeout}s")


def compile_bytecode(package: Path) -> None:
    """Write ``package``'s bytecode (``__pycache__``), as installing it would.

    An installed server (pip, Nix) runs from compiled bytecode, and so does the
    Synapse venv it is measured against; a checkout run with
    ``PYTHONDONTWRITEBYTECODE=1`` (this machine's environment) compiles ~340
    modules from source at every start instead: ~0.27 s of CPU, a third of the
    start-up measured before (issue 21). Up-to-date files are only stat'ed, and
    this runs in ``prepare``, outside the timed start-up.
    """
    compileall.compile_dir(package, quiet=1, workers=1)


class Server:
    """One fresh server process; subclasses say how to configure and launch it."""

    kind = "server"

    def __init__(self, workdir: Path | None = None, port: int | None = None) -> None:
        self._own_tmp = workdir is None
        self.workdir = (
            Path(tempfile.mkdtemp(prefix=f"bench-{self.kind}-")) if workdir is None else workdir
        )
        self.port = port or free_port()
        self.shared_secret = secrets.token_hex(16)
        self.process: subprocess.Popen[bytes] | None = None
        self.startup_s: float | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    def prepare(self) -> None:
        """Write configuration; not part of the start-up time."""

    def command(self) -> tuple[list[str], dict[str, str]]:
        raise NotImplementedError

    def start(self, timeout: float = READY_TIMEOUT) -> float:
        """Launch and wait for the first 200 from /versions; the seconds that took."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.prepare()
        argv, env = self.command()
        with self.log_path.open("ab") as log:
            started = time.monotonic()
            self.process = subprocess.Popen(
                argv, env=env, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT
            )
        self.startup_s = self._wait_ready(started, timeout)
        return self.startup_s

    def _wait_ready(self, started: float, timeout: float) -> float:
        assert self.process is not None
        try:
            ready = wait_ready(f"{self.base_url}/_matrix/client/versions", self.process, timeout)
        except RuntimeError:
            raise RuntimeError(f"{self.kind} exited during start-up:\n{self.log_tail()}") from None
        return ready - started

    def version(self) -> str:
        try:
            with urllib.request.urlopen(
                f"{self.base_url}/_matrix/federation/v1/version", timeout=5
            ) as response:
                server = json.loads(response.read()).get("server", {})
                return f"{server.get('name', '?')} {server.get('version', '?')}"
        except (urllib.error.URLError, OSError, ValueError):
            return "unknown"

    def rss_kib(self) -> int:
        return tree_rss_kib(self.pid)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)
        self.process = None
        keep = os.environ.get("BENCH_KEEP_LOGS")
        if keep and self.log_path.exists():
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(self.log_path, Path(keep) / f"{self.kind}-{self.workdir.name}.log")
        if self._own_tmp:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Conduwuit(Server):
    """``python -m conduwuit`` from this checkout, configured by environment."""

    kind = "conduwuit"

    def __init__(
        self,
        *args: Any,
        python: str | None = None,
        src: Path | None = None,
        extra_env: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.python = python or sys.executable
        self.src = src or REPO  # another checkout (e.g. a branch) to benchmark
        self.extra_env = extra_env or {}  # options a single benchmark needs

    def prepare(self) -> None:
        compile_bytecode(self.src / "conduwuit")

    def command(self) -> tuple[list[str], dict[str, str]]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CONDUWUIT_", "CONDUIT_"))}
        env.update(
            CONDUWUIT_SERVER_NAME=SERVER_NAME,
            CONDUWUIT_DATABASE_PATH=str(self.workdir / "db"),
            CONDUWUIT_ADDRESS="127.0.0.1",
            CONDUWUIT_PORT=str(self.port),
            CONDUWUIT_LOG="warn",
            CONDUWUIT_REGISTRATION_SHARED_SECRET=self.shared_secret,
            CONDUWUIT_ALLOW_REGISTRATION="true",
            CONDUWUIT_YES_I_AM_VERY_VERY_SURE_I_WANT_AN_OPEN_REGISTRATION_SERVER_PRONE_TO_ABUSE=(
                "true"
            ),
            CONDUWUIT_TRUSTED_SERVERS="[]",
            # the media scenarios' large upload fits (as Synapse's max_upload_size below)
            CONDUWUIT_MAX_REQUEST_SIZE=str(MAX_UPLOAD),
            # the limiter is not what is measured (0 disables; older servers warn)
            CONDUWUIT_RATE_LIMIT_LOGIN_PER_SECOND="0",
            CONDUWUIT_RATE_LIMIT_REGISTRATION_PER_SECOND="0",
            CONDUWUIT_RATE_LIMIT_MESSAGE_PER_SECOND="0",
            CONDUWUIT_RATE_LIMIT_ROOM_CREATION_PER_SECOND="0",
            CONDUWUIT_RATE_LIMIT_JOINS_PER_SECOND="0",
            CONDUWUIT_RATE_LIMIT_INVITES_PER_SECOND="0",
            CONDUWUIT_RATE_LIMIT_INVITES_RECEIVED_PER_SECOND="0",
            CONDUWUIT_RATE_LIMIT_TYPING_PER_SECOND="0",
            CONDUWUIT_RATE_LIMIT_PRESENCE_PER_SECOND="0",
            CONDUWUIT_RATE_LIMIT_REFRESH_PER_SECOND="0",
            CONDUWUIT_RATE_LIMIT_UIAA_PER_SECOND="0",
            # event-loop stalls, read by the sync-stall scenario (a 5 ms timer: negligible)
            CONDUWUIT_LOOP_LAG_MONITOR="true",
        )
        env.update(self.extra_env)
        # BENCH_CONDUWUIT_X=v reaches the server as CONDUWUIT_X=v, over the defaults
        # above (diagnosis: BENCH_CONDUWUIT_LOOP_LAG_TRACE_MS=8, BENCH_CONDUWUIT_LOG=...)
        passed = {k: v for k, v in os.environ.items() if k.startswith("BENCH_CONDUWUIT_")}
        env.update({k.removeprefix("BENCH_"): v for k, v in passed.items()})
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.src), env.get("PYTHONPATH")]))
        return [self.python, "-m", "conduwuit"], env


def synapse_python(venv: Path = SYNAPSE_VENV) -> Path:
    return venv / "bin" / "python"


def synapse_installed(venv: Path = SYNAPSE_VENV) -> bool:
    python = synapse_python(venv)
    if not python.exists():
        return False
    result = subprocess.run(
        [str(python), "-c", "import synapse"], capture_output=True, timeout=60, check=False
    )
    return result.returncode == 0


def ensure_synapse(venv: Path = SYNAPSE_VENV, install: bool = True) -> Path:
    """The Synapse venv's python, creating the venv from PyPI if asked and needed."""
    venv = venv.absolute()  # servers run in their temp dirs; not resolve(): keep the venv link
    if synapse_installed(venv):
        return synapse_python(venv)
    if not install:
        raise RuntimeError(
            f"Synapse is not installed in {venv} (run bench/run.py once without --no-install)"
        )
    print(f"installing matrix-synapse into {venv} (once; a few minutes)", file=sys.stderr)
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = [str(synapse_python(venv)), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True, timeout=600)
    subprocess.run([*pip, "matrix-synapse"], check=True, timeout=1800)
    return synapse_python(venv)


# Runs inside Synapse's venv (which has PyYAML): patch the generated config.
_PATCH_SCRIPT = r"""
import json, sys, yaml
config_path, log_config_path, overrides = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
with open(config_path) as f:
    config = yaml.safe_load(f)
port = overrides.pop("port")
config["listeners"] = [{
    "port": port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False,
    "x_forwarded": False, "resources": [{"names": ["client", "federation"], "compress": False}],
}]
config.update(overrides)
with open(config_path, "w") as f:
    yaml.safe_dump(config, f)
with open(log_config_path) as f:
    log = yaml.safe_load(f)
log.setdefault("root", {})["level"] = "WARNING"
for logger in log.get("loggers", {}).values():
    logger["level"] = "WARNING"
with open(log_config_path, "w") as f:
    yaml.safe_dump(log, f)
"""


class Synapse(Server):
    """Synapse from its venv, SQLite, generated config patched for a fair comparison."""

    kind = "synapse"
    #: Options a subclass sets beyond the benchmark's (e.g. open registration).
    config_overrides: dict[str, Any] = {}

    def __init__(self, *args: Any, python: Path | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.python = str(python or synapse_python())

    @property
    def config_path(self) -> Path:
        return self.workdir / "homeserver.yaml"

    def prepare(self) -> None:
        if self.config_path.exists():
            return
        subprocess.run(
            [
                self.python,
                "-m",
                "synapse.app.homeserver",
                "--server-name",
                SERVER_NAME,
                "--config-path",
                str(self.config_path),
                "--data-directory",
                str(self.workdir),
                "--generate-config",
                "--report-stats=no",
            ],
            cwd=self.workdir,
            check=True,
            capture_output=True,
            timeout=120,
        )
        overrides = {
            "port": self.port,
            "database": {
                "name": "sqlite3",
                "args": {"database": str(self.workdir / "homeserver.db")},
            },
            "registration_shared_secret": self.shared_secret,
            "enable_registration": False,
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "report_stats": False,
            "enable_metrics": False,
            "url_preview_enabled": False,
            "max_upload_size": MAX_UPLOAD,
            **SYNAPSE_RATE_LIMITS,
            **self.config_overrides,
        }
        subprocess.run(
            [
                self.python,
                "-c",
                _PATCH_SCRIPT,
                str(self.config_path),
                str(self.workdir / f"{SERVER_NAME}.log.config"),
                json.dumps(overrides),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def version(self) -> str:
        # Synapse appends "(b=branch,commit)" from the git repository around its files:
        # here that is this checkout (the venv is inside it), not Synapse's
        return super().version().split(" (b=")[0]

    def command(self) -> tuple[list[str], dict[str, str]]:
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        return [
            self.python,
            "-m",
            "synapse.app.homeserver",
            "--config-path",
            str(self.config_path),
        ], env


KINDS: dict[str, type[Server]] = {"conduwuit": Conduwuit, "synapse": Synapse}
