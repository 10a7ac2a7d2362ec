"""The generic systemd unit: hardening lines, equal to the NixOS module's, and valid."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.packaging.units import UNIT, hardening_block, nix_eval, systemd_value, unit_lines

REQUIRED = {
    "Type": "notify",
    "Restart": "on-failure",
    "DynamicUser": "yes",
    "StateDirectory": "conduwuit",
    "StateDirectoryMode": "0700",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "NoNewPrivileges": "yes",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "RestrictNamespaces": "yes",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "SystemCallArchitectures": "native",
    "CapabilityBoundingSet": "",
}


def test_hardening_lines() -> None:
    lines = unit_lines()
    values = dict(lines)
    for key, expected in REQUIRED.items():
        assert values.get(key) == expected, key
    # Exactly one allow line and one deny line: each further allow line would
    # widen the allowed set.
    filters = [value for key, value in lines if key == "SystemCallFilter"]
    assert filters == [
        "@system-service @resources",
        "~@clock @debug @module @mount @reboot @swap @cpu-emulation @obsolete @timer "
        "@chown @setuid @privileged @keyring",
    ]
    assert values["ExecStart"].endswith("serve --config /etc/conduwuit/conduwuit.toml")


@pytest.mark.skipif(shutil.which("nix-instantiate") is None, reason="needs nix-instantiate")
def test_same_hardening_as_the_nixos_module() -> None:
    nix = nix_eval("(import ./nixos/lib.nix).hardening")
    expected = []
    for key in sorted(nix):
        for value in systemd_value(nix[key]):
            expected.append((key, value))
    yes_no = {"true": "yes", "false": "no"}
    unit = [(key, yes_no.get(value, value)) for key, value in hardening_block()]
    expected = [(key, yes_no.get(value, value)) for key, value in expected]
    # RestrictAddressFamilies is one line in the unit, a list in Nix.
    unit = [
        item
        for key, value in unit
        for item in (
            [(key, family) for family in value.split()]
            if key == "RestrictAddressFamilies"
            else [(key, value)]
        )
    ]
    assert sorted(unit) == sorted(expected)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_accepts_the_unit() -> None:
    result = subprocess.run(
        ["systemd-analyze", "verify", str(UNIT)], capture_output=True, text=True, timeout=60
    )
    # The only complaint allowed: the server is not installed at ExecStart's path here.
    complaints = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.strip() and "is not executable" not in line
    ]
    assert complaints == []
