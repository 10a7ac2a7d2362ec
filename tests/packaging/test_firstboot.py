"""The Pi image's first-boot script (images/firstboot.py): boot-partition TOML to env + token."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.packaging.units import ROOT

SCRIPT = ROOT / "images" / "firstboot.py"


def run(tmp_path: Path, text: str | None) -> tuple[str, Path]:
    source = tmp_path / "firmware" / "conduwuit.toml"
    source.parent.mkdir(exist_ok=True)
    if text is not None:
        source.write_text(text)
    elif source.exists():
        source.unlink()
    state = tmp_path / "state"
    env = dict(
        os.environ,
        FIRSTBOOT_SOURCE=str(source),
        FIRSTBOOT_STATE=str(state),
        FIRSTBOOT_SSH=str(tmp_path / "ssh"),
    )
    result = subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    return result.stdout, state


def test_example_file_is_rejected_until_edited(tmp_path: Path) -> None:
    example = (ROOT / "images" / "conduwuit.toml.example").read_text()
    out, state = run(tmp_path, example.replace("matrix.example.org", "bad name"))
    assert "server_name must be your domain" in out
    assert not (state / "env").exists()


def test_configured(tmp_path: Path) -> None:
    out, state = run(
        tmp_path,
        'server_name = "Matrix.Family.example"\nregistration_token = " sesame-open "\n'
        'acme_email = "me@family.example"\n',
    )
    assert "configured for matrix.family.example" in out
    assert (state / "env").read_text().splitlines() == [
        "CONDUWUIT_SERVER_NAME=matrix.family.example",
        "SERVER_NAME=matrix.family.example",
        "ACME_EMAIL=me@family.example",
    ]
    token = state / "registration_token"
    assert token.read_text() == "sesame-open"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert stat.S_IMODE(state.stat().st_mode) == 0o700

    # The file removed (or broken) later: the services stay stopped again.
    out, state = run(tmp_path, None)
    assert "not configured" in out and not (state / "env").exists()
    out, state = run(tmp_path, "server_name = [")
    assert "cannot read" in out and not (state / "env").exists()


KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG9vcGxlYXNlIGRvIG5vdCB1c2UgdGhpcyBrZXk me@laptop"
BASE = (
    'server_name = "matrix.family.example"\nregistration_token = "sesame-open"\n'
    'acme_email = "me@family.example"\n'
)


def test_ssh_keys_and_server_options_come_from_the_card(tmp_path: Path) -> None:
    out, state = run(
        tmp_path,
        f'ssh_authorized_keys = ["{KEY}"]\n' + BASE + "[server]\n"
        "allow_federation = false\nmax_request_size = 50_000_000\n"
        'new_user_displayname_suffix = "🏡"\n'
        'trusted_servers = ["matrix.org", "tchncs.de"]\n'
        "[server.well_known]\n"
        'client = "https://matrix.family.example"\n',
    )
    assert "configured for" in out and "nobody can log in" not in out
    assert (tmp_path / "ssh" / "admin").read_text() == KEY + "\n"
    lines = (state / "env").read_text().splitlines()
    assert lines[3:] == [
        "CONDUWUIT_ALLOW_FEDERATION='false'",
        "CONDUWUIT_MAX_REQUEST_SIZE='50000000'",
        "CONDUWUIT_NEW_USER_DISPLAYNAME_SUFFIX='\"🏡\"'",
        'CONDUWUIT_TRUSTED_SERVERS=\'["matrix.org", "tchncs.de"]\'',
        "CONDUWUIT_WELL_KNOWN__CLIENT='\"https://matrix.family.example\"'",
    ]

    # What the server makes of them, as systemd's EnvironmentFile hands them over
    # (the single quotes removed).
    from conduwuit.config import load_config

    environ = {}
    for line in lines:
        key, _, value = line.partition("=")
        environ[key] = value.strip("'")
    config = load_config(None, environ).config
    assert config.allow_federation is False and config.max_request_size == 50_000_000
    assert config.new_user_displayname_suffix == "🏡"
    assert config.trusted_servers == ["matrix.org", "tchncs.de"]
    assert config.well_known.client == "https://matrix.family.example"


def test_bad_keys_and_managed_options_are_refused(tmp_path: Path) -> None:
    out, state = run(
        tmp_path,
        'ssh_authorized_keys = "my password"\n' + BASE + "[server]\nport = 9999\n",
    )
    assert "ssh_authorized_keys must be public keys" in out
    assert "[server] port: set by the image" in out
    assert not (state / "env").exists()


def test_without_ssh_keys_it_says_so(tmp_path: Path) -> None:
    out, _ = run(tmp_path, BASE)
    assert "nobody can log in with SSH" in out
    assert (tmp_path / "ssh" / "admin").read_text() == ""
