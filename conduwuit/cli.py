"""Command line: serve (the default), check-config, generate-config, admin,
generate-admin-docs, generate-route-shapes, init-dev-config, rotate-signing-key."""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import secrets
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from conduwuit import SERVER_NAME, __version__

if TYPE_CHECKING:
    from conduwuit.config import GlobalConfig
    from conduwuit.service.services import Services


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="conduwuit", description="A Matrix homeserver.")
    parser.add_argument("--version", action="version", version=f"{SERVER_NAME} {__version__}")
    parser.add_argument(
        "-c", "--config", type=Path, help="config file (else $CONDUWUIT_CONFIG, $CONDUIT_CONFIG)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, text in (
        ("serve", "run the server (the default)"),
        ("check-config", "validate the configuration and exit"),
        (
            "rotate-signing-key",
            "retire the server's signing key into old_verify_keys and make a new one "
            "(with the server stopped)",
        ),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("-c", "--config", type=Path, dest="sub_config", help="config file")
    commands.add_parser("generate-config", help="print the example config with every option")
    admin = commands.add_parser(
        "admin",
        help="run an admin command on the running server (admin_socket_path), "
        "e.g. conduwuit admin users list-users",
    )
    admin.add_argument("-c", "--config", type=Path, dest="sub_config", help="config file")
    admin.add_argument("words", nargs=argparse.REMAINDER, help="<group> <command> [args]")
    commands.add_parser(
        "generate-admin-docs", help="print the admin room's command reference (docs/admin.md)"
    )
    commands.add_parser(
        "generate-route-shapes",
        help="print the lazily loaded routes' shapes (conduwuit/api/route_shapes.py)",
    )
    init = commands.add_parser(
        "init-dev-config", help="write a development config for localhost if none exists"
    )
    init.add_argument("-c", "--config", type=Path, dest="sub_config", default=None)
    return parser


DEV_CONFIG = """\
# Development config written by `make run` (conduwuit init-dev-config).
# Every option: docs/conduwuit-example.toml.
[global]
server_name = "localhost"
database_path = "./data"
address = "127.0.0.1"
port = 8008
allow_registration = true
registration_token = "{token}"
log = "info"
"""


def admin_command(config: GlobalConfig, words: list[str]) -> int:
    """``conduwuit admin <group> <command>``: sent to the running server's admin socket."""
    import asyncio
    import shlex

    from conduwuit.admin.socket import send_command

    if config.admin_socket_path is None:
        return _fail(["admin_socket_path is not set: the server has no admin socket"])
    try:
        ok, text = asyncio.run(send_command(config.admin_socket_path, shlex.join(words)))
    except OSError as exc:
        return _fail([f"cannot reach the server at {config.admin_socket_path}: {exc}"])
    print(text.rstrip("\n"))
    return 0 if ok else 1


@contextlib.contextmanager
def _throwaway_services() -> Iterator[Services]:
    """Every service, over a database in a temporary directory."""
    import tempfile

    from conduwuit.config import load_config
    from conduwuit.server import build_services

    with tempfile.TemporaryDirectory() as tmp:
        env = {"CONDUWUIT_SERVER_NAME": "example.org", "CONDUWUIT_DATABASE_PATH": tmp}
        services = build_services(load_config(None, env).config)
        try:
            yield services
        finally:
            services.close()


def admin_reference() -> str:
    """The admin commands' reference, from a server built over a throwaway database
    (the commands are declared by the objects that run them)."""
    from conduwuit.admin.reference import reference
    from conduwuit.server import build_admin

    with _throwaway_services() as services:
        return reference(build_admin(services).parser)


def route_shapes() -> str:
    """conduwuit/api/route_shapes.py: the routes of every lazily loaded group."""
    from conduwuit.api.lazy import render_shapes
    from conduwuit.api.routes import EAGER, GROUPS

    with _throwaway_services() as services:
        return render_shapes((b.__name__, b(services)) for b in GROUPS if b not in EAGER)


def init_dev_config(path: Path) -> int:
    if path.exists():
        print(f"using existing config {path}")
        return 0
    token = secrets.token_urlsafe(18)
    path.write_text(DEV_CONFIG.format(token=token))
    path.chmod(0o600)
    print(f"wrote development config {path}")
    print(f"registration token (shown once, also in {path}): {token}")
    return 0


def rotate_signing_key(config: GlobalConfig) -> int:
    """Retire the current key (still published, with its expiry, so signatures made
    with it keep verifying) and generate a new one."""
    from conduwuit.db import MAPS, Database
    from conduwuit.server import database_options
    from conduwuit.service.server_keys import ServerKeys

    db = Database.open(database_options(config))
    try:
        keys = ServerKeys(config.server_name, db.map(MAPS.global_))
        old = keys.keypair.key_id
        new = keys.rotate()
    finally:
        db.close()
    print(f"retired {old} into old_verify_keys; new signing key {new.key_id}")
    return 0


def _fail(lines: list[str]) -> int:
    for line in lines:
        print(f"conduwuit: error: {line}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    started_at = time.monotonic()
    args = _parser().parse_args(argv)
    config_file = getattr(args, "sub_config", None) or args.config
    command = args.command or "serve"
    if command == "generate-config":
        from conduwuit.config.example import example_config

        sys.stdout.write(example_config())
        return 0
    if command == "generate-admin-docs":
        sys.stdout.write(admin_reference())
        return 0
    if command == "generate-route-shapes":
        sys.stdout.write(route_shapes())
        return 0
    if command == "init-dev-config":
        return init_dev_config(config_file or Path("conduwuit.toml"))
    # Start-up allocates hundreds of thousands of long-lived objects (modules,
    # classes, pydantic models, routes) and almost no garbage; the cyclic GC
    # re-traversing them as they pile up was ~60 of ~410 ms (issue 21).
    # ``runtime.serve`` turns it back on once listening; every other way out here
    # too (``finally``).
    gc.disable()
    try:
        return _configured(args, command, config_file, started_at)
    finally:
        gc.enable()


def _configured(
    args: argparse.Namespace, command: str, config_file: Path | None, started_at: float
) -> int:
    """The commands that load the configuration: check-config, admin,
    rotate-signing-key and serve."""
    from conduwuit.config import ConfigError, load_config
    from conduwuit.config.logging import setup_logging

    try:
        loaded = load_config(config_file, os.environ)
    except ConfigError as exc:
        return _fail(exc.problems)
    if command == "check-config":
        for warning in loaded.warnings:
            print(f"conduwuit: warning: {warning}", file=sys.stderr)
        print(f"configuration OK ({loaded.path or 'environment only'})")
        return 0

    if command != "serve":
        gc.enable()  # the paused GC is for the server's start-up only
    if command == "admin":
        return admin_command(loaded.config, args.words)

    from conduwuit.db import DatabaseInUseError

    if command == "rotate-signing-key":
        try:
            return rotate_signing_key(loaded.config)
        except DatabaseInUseError as exc:
            return _fail([str(exc)])

    from conduwuit.lean_imports import import_aiohttp_without_default_cas

    import_aiohttp_without_default_cas()  # before anything imports aiohttp (issue 21)
    from conduwuit.admin import AdminExecuteError
    from conduwuit.runtime import run

    setup_logging(loaded.config.log)
    try:
        run(loaded, started_at)
    except (DatabaseInUseError, AdminExecuteError) as exc:
        return _fail([str(exc)])
    except OSError as exc:
        return _fail([str(exc.strerror or exc)])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
