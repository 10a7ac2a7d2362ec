"""The Nix side, as far as this machine can take it without nixpkgs.

The TOML that the NixOS module writes (nixos/lib.nix, evaluated by Nix; and the
module evaluated by nixpkgs' real module system, nix/tests/real-lib.nix) must be
a configuration the real server loads, with the token read from the credential.
"""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from pathlib import Path

import pytest

from conduwuit import __version__
from conduwuit.config import load_config
from tests.packaging.units import REAL_LIB_NIX, ROOT, nix_eval, real_lib_eval

needs_nix = pytest.mark.skipif(shutil.which("nix-instantiate") is None, reason="needs Nix")
needs_real_lib = pytest.mark.skipif(
    not REAL_LIB_NIX.exists(), reason="needs nix/.cache/trixie (bash nix/check-real-lib.sh)"
)


@needs_nix
def test_module_toml_is_a_config_the_server_loads(tmp_path: Path) -> None:
    rendered = nix_eval(
        f'import ./nix/tests/module-logic.nix {{ credentialsDirectory = "{tmp_path}"; }}'
    )
    (tmp_path / "registration_token").write_text("family-token\n")
    path = tmp_path / "conduwuit.toml"
    path.write_text(rendered["toml"])
    data = tomllib.loads(rendered["toml"])
    assert data["global"]["new_user_displayname_suffix"] == '🏡 "family"\n'
    assert "address" not in data["global"]  # null: left to the server's default

    loaded = load_config(path, {})
    config = loaded.config
    assert loaded.warnings == []
    assert config.server_name == "example.org"
    assert config.database_path == Path("/var/lib/conduwuit-py")
    assert [int(port) for port in config.ports] == [8008, 8448]
    assert config.well_known.client == "https://matrix.example.org"
    assert config.registration_token_file == tmp_path / "registration_token"
    assert config.client_shutdown_timeout == 30.5

    minimal = tmp_path / "minimal.toml"
    minimal.write_text(rendered["minimalToml"])
    assert load_config(minimal, {}).config.server_name == "example.org"


@needs_nix
def test_module_service() -> None:
    rendered = nix_eval("import ./nix/tests/module-logic.nix {}")
    service = rendered["serviceConfig"]
    assert service["ExecStart"].endswith("/bin/conduwuit serve")
    assert service["LoadCredential"] == ["registration_token:/run/secrets/token"]
    assert rendered["environment"] == {
        "CONDUWUIT_CONFIG": "/nix/store/0000-conduwuit.toml",
        "CONDUWUIT_LOG": "info",
        "PYTHONUNBUFFERED": "1",
    }
    assert all(len(messages) == 1 for messages in rendered["failures"].values())


@needs_real_lib
def test_real_module_toml_is_a_config_the_server_loads(tmp_path: Path) -> None:
    """Settings merged by nixpkgs' module system, nulls included, load as they should."""
    rendered = real_lib_eval(f'credentialsDirectory = "{tmp_path}";')
    assert rendered["settings"]["global"]["registration_shared_secret"] is None
    (tmp_path / "registration_token").write_text("family-token\n")
    path = tmp_path / "conduwuit.toml"
    path.write_text(rendered["toml"])
    data = tomllib.loads(rendered["toml"])
    assert "registration_shared_secret" not in data["global"]
    assert "server" not in data["global"]["well_known"]

    loaded = load_config(path, {})
    assert loaded.warnings == []
    config = loaded.config
    assert config.database_path == Path("/var/lib/conduwuit-py")
    assert config.registration_token_file == tmp_path / "registration_token"
    assert config.unix_socket_perms == 660 and config.max_request_size == 20_000_000

    socket = tmp_path / "socket.toml"
    socket.write_text(rendered["socketToml"])
    config = load_config(socket, {}).config
    assert config.unix_socket_path == Path("/run/conduwuit-py/conduwuit.sock")
    assert config.unix_socket_mode == 0o660


@needs_real_lib
def test_pi_image_toml_with_the_first_boot_environment(tmp_path: Path) -> None:
    """images/rpi.nix's settings, merged by the real module system, plus firstboot's env."""
    rendered = real_lib_eval(f'credentialsDirectory = "{tmp_path}";')
    (tmp_path / "registration_token").write_text("family-token")
    path = tmp_path / "conduwuit.toml"
    path.write_text(rendered["rpiToml"])
    environ = {
        "CONDUWUIT_SERVER_NAME": "matrix.family.example",
        "SERVER_NAME": "matrix.family.example",
        "ACME_EMAIL": "me@family.example",
        "CONDUWUIT_ALLOW_FEDERATION": "false",
    }
    loaded = load_config(path, environ)
    assert loaded.warnings == []
    config = loaded.config
    assert config.server_name == "matrix.family.example"
    assert config.allow_federation is False
    assert [str(a) for a in config.addresses] == ["127.0.0.1"]
    assert config.registration_token_file == tmp_path / "registration_token"


@needs_real_lib
def test_real_module_unit() -> None:
    rendered = real_lib_eval("")
    service = rendered["serviceConfig"]
    for key in ("PrivateMounts", "PrivateIPC", "DynamicUser", "NoNewPrivileges"):
        assert service[key] is True, key
    assert service["User"] == service["Group"] == service["StateDirectory"] == "conduwuit-py"
    assert service["TimeoutStartSec"] == "10min"
    assert service["ExecStartPre"].startswith("+/nix/store/")
    assert service["ExecStartPre"].endswith(
        " /var/lib/conduwuit-py /var/lib/private/conduwuit /var/lib/conduwuit"
    )
    assert rendered["unitConfig"] == {"StartLimitBurst": 5, "StartLimitIntervalSec": 60}
    assert rendered["environment"]["CONDUWUIT_CONFIG"].endswith("-conduwuit.toml")


def test_nix_version_matches_the_package() -> None:
    text = (ROOT / "nix" / "version.nix").read_text()
    assert re.findall(r'^"([^"]+)"$', text, re.MULTILINE) == [__version__]


def test_flake_lock_format() -> None:
    lock = json.loads((ROOT / "flake.lock").read_text())
    assert lock["version"] == 7 and lock["root"] == "root"
    assert lock["nodes"]["root"] == {"inputs": {"nixpkgs": "nixpkgs"}}
    node = lock["nodes"]["nixpkgs"]
    locked = node["locked"]
    assert set(locked) == {"lastModified", "narHash", "owner", "repo", "rev", "type"}
    assert locked["type"] == "github" and locked["owner"] == "NixOS"
    assert re.fullmatch(r"[0-9a-f]{40}", locked["rev"])
    assert re.fullmatch(r"sha256-[A-Za-z0-9+/]{43}=", locked["narHash"])
    assert isinstance(locked["lastModified"], int)
    assert node["original"] == {
        "owner": "NixOS",
        "ref": "nixos-25.11",
        "repo": "nixpkgs",
        "type": "github",
    }
    flake = (ROOT / "flake.nix").read_text()
    assert 'inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";' in flake
