"""Cinny, a Matrix web client built on matrix-js-sdk, built once into ``.cache/cinny/``.

``build()`` takes Cinny's source tree, installs its npm dependencies (``npm ci`` with its
lockfile, ``npm install`` without one) and builds it with vite into
``.cache/cinny/<version>/dist`` (gitignored), once per version, under a file lock.
The ``config.json`` baked into the build points at ``http://127.0.0.1:8008`` (``make
run``'s address); the test serves its own ``config.json`` for its server's port.

Where the source comes from:

- ``CINNY_SOURCE``, if set: a directory, or a ``.tar.gz``/``.tgz``, holding Cinny's
  source tree (``package.json`` and ``src/``), e.g. ``git archive v4.5.1`` of Cinny's
  repository. Its ``package.json`` names the version.
- otherwise ``npm pack cinny@CINNY_VERSION``. The npm package cinny 4.5.1 (the only
  version published) holds ``package.json``, ``vite.config.js``, ``index.html`` and
  ``public/`` but not ``src/``, so it cannot be built: ``build()`` then raises
  ``CinnyUnavailable`` saying so.

``python -m tests.browser.cinny`` builds it alone and prints the dist directory.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "cinny"
#: The Cinny release the npm registry has (``npm view cinny versions``).
CINNY_VERSION = "4.5.1"
#: The homeserver the built ``config.json`` names; tests override it when serving.
DEFAULT_HOMESERVER = "http://127.0.0.1:8008"
NPM_FLAGS = ["--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline"]


class CinnyUnavailable(RuntimeError):
    """Cinny cannot be built here; the message says which step failed and why."""


def config_json(homeserver: str) -> dict[str, object]:
    """Cinny's ``config.json``: one homeserver, preselected, no featured communities."""
    return {
        "defaultHomeserver": 0,
        "homeserverList": [homeserver],
        "allowCustomHomeservers": True,
        "featuredCommunities": {"openAsDefault": False, "spaces": [], "rooms": [], "servers": []},
        "hashRouter": {"enabled": False, "basename": "/"},
    }


def _run(argv: list[str], cwd: Path, step: str, timeout: float) -> None:
    try:
        subprocess.run(argv, cwd=cwd, check=True, capture_output=True, text=True, timeout=timeout)
    except subprocess.CalledProcessError as error:
        output = (error.stdout or "")[-3000:] + (error.stderr or "")[-3000:]
        raise CinnyUnavailable(f"{step} failed ({' '.join(argv)}):\n{output}") from error
    except subprocess.TimeoutExpired as error:
        raise CinnyUnavailable(f"{step} took over {timeout:.0f}s ({' '.join(argv)})") from error


def _unpack(archive: Path, into: Path) -> Path:
    """Extract a tarball; the directory holding its package.json."""
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    found = sorted(into.glob("**/package.json"), key=lambda p: len(p.parts))
    if not found:
        raise CinnyUnavailable(f"{archive.name} holds no package.json")
    return found[0].parent


def _source(work: Path, npm: str) -> Path:
    """A fresh copy of Cinny's source tree inside ``work``."""
    given = os.environ.get("CINNY_SOURCE")
    if given:
        path = Path(given)
        if path.is_dir():
            tree = work / "tree"
            shutil.copytree(path, tree, ignore=shutil.ignore_patterns("node_modules", "dist"))
        elif path.is_file():
            tree = _unpack(path, work / "tree")
        else:
            raise CinnyUnavailable(f"CINNY_SOURCE={given} is neither a directory nor a file")
        origin = f"CINNY_SOURCE={given}"
    else:
        _run(
            [npm, "pack", f"cinny@{CINNY_VERSION}", "--pack-destination", str(work)],
            work,
            f"npm pack cinny@{CINNY_VERSION}",
            120,
        )
        tree = _unpack(next(work.glob("cinny-*.tgz")), work / "tree")
        origin = f"the npm package cinny@{CINNY_VERSION}"
    if not (tree / "src").is_dir():
        raise CinnyUnavailable(
            f"{origin} has no src/ (it holds {sorted(p.name for p in tree.iterdir())}): "
            "Cinny's source is not published on npm, so vite has nothing to build. "
            "Set CINNY_SOURCE to a checkout or `git archive` tarball of Cinny's "
            "repository at a release tag."
        )
    return tree


def _version(tree: Path) -> str:
    version = json.loads((tree / "package.json").read_text())["version"]
    assert isinstance(version, str)
    return version


def build(log: bool = False) -> Path:
    """``.cache/cinny/<version>/dist``, built if absent; raises ``CinnyUnavailable``."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        raise CinnyUnavailable("node and npm are needed to build Cinny")
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with tempfile.TemporaryDirectory(dir=CACHE, prefix=".build-") as scratch:
            work = Path(scratch)
            tree = _source(work, npm)
            target = CACHE / _version(tree)
            if (target / ".built").exists():
                return target / "dist"
            timings: dict[str, float] = {}
            started = time.monotonic()
            if (tree / "package-lock.json").exists():
                _run([npm, "ci", *NPM_FLAGS], tree, "npm ci", 900)
            else:
                _run([npm, "install", *NPM_FLAGS], tree, "npm install (no lockfile)", 900)
            timings["install"] = time.monotonic() - started
            (tree / "config.json").write_text(json.dumps(config_json(DEFAULT_HOMESERVER), indent=2))
            started = time.monotonic()
            vite = tree / "node_modules" / "vite" / "bin" / "vite.js"
            _run([node, str(vite), "build", "--sourcemap", "false"], tree, "vite build", 1200)
            timings["build"] = time.monotonic() - started
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir()
            shutil.move(tree / "dist", target / "dist")
            (target / "timings.json").write_text(json.dumps(timings))
            (target / ".built").touch()
            if log:
                print(f"cinny {_version(tree)}: {timings}", file=sys.stderr)
            return target / "dist"


if __name__ == "__main__":
    try:
        print(build(log=True))
    except CinnyUnavailable as error:
        sys.exit(f"cinny: {error}")
