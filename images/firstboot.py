"""First-boot configuration of the Raspberry Pi image, from the FAT boot partition.

Reads /boot/firmware/conduwuit.toml (edited on a laptop before the first boot),
checks it, and writes what the services read:

  /var/lib/conduwuit-setup/env                 CONDUWUIT_SERVER_NAME, SERVER_NAME, ACME_EMAIL,
                                               and CONDUWUIT_* for each option of [server]
  /var/lib/conduwuit-setup/registration_token  (mode 0600; systemd LoadCredential)
  /var/lib/conduwuit-ssh/admin                 ssh_authorized_keys (sshd's AuthorizedKeysFile)

so one image serves every family: nothing personal is built into it.

Without a usable file it removes env, so conduwuit and Caddy stay stopped and the
setup page (images/setup-page.py) explains what to set. Runs at every boot: edits
to the file apply at the next boot. Exit status 0 either way; messages go to the
console and the journal.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tomllib
from pathlib import Path

SOURCE = Path(os.environ.get("FIRSTBOOT_SOURCE", "/boot/firmware/conduwuit.toml"))
STATE = Path(os.environ.get("FIRSTBOOT_STATE", "/var/lib/conduwuit-setup"))
SSH = Path(os.environ.get("FIRSTBOOT_SSH", "/var/lib/conduwuit-ssh"))
SSH_KEY = re.compile(
    r"^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-\S+) [A-Za-z0-9+/=]+( .*)?$"
)
# Set by the image itself: a [server] table may not change them.
MANAGED = {
    "server_name",
    "database_path",
    "address",
    "port",
    "unix_socket_path",
    "registration_token",
    "registration_token_file",
}
HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def problems_of(data: dict[str, object]) -> list[str]:
    problems = []
    name = data.get("server_name")
    if not isinstance(name, str) or not HOSTNAME.match(name.lower()):
        problems.append('server_name must be your domain, e.g. server_name = "matrix.example.org"')
    token = data.get("registration_token")
    if not isinstance(token, str) or len(token.strip()) < 8:
        problems.append(
            "registration_token must be a secret of 8+ characters that family members type "
            "when they create their account"
        )
    email = data.get("acme_email")
    if not isinstance(email, str) or not EMAIL.match(email):
        problems.append(
            'acme_email must be an e-mail address for Let\'s Encrypt, e.g. "me@example.org"'
        )
    keys = data.get("ssh_authorized_keys", [])
    if isinstance(keys, str):
        keys = [keys]
    if not isinstance(keys, list) or not all(
        isinstance(k, str) and SSH_KEY.match(k.strip()) for k in keys
    ):
        problems.append(
            'ssh_authorized_keys must be public keys, e.g. ["ssh-ed25519 AAAA... me@laptop"]'
        )
    server = data.get("server", {})
    if not isinstance(server, dict):
        problems.append("[server] must be a table of server options")
    else:
        problems += [
            f"[server] {key}: set by the image, not here" for key in server if key in MANAGED
        ]
        try:
            env_lines(server)
        except ValueError as exc:
            problems.append(f"[server] {exc}")
    return problems


def toml_value(value: object) -> str:
    """A value as the server reads one from its environment (TOML syntax)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise ValueError(f"cannot pass {type(value).__name__} values")


def env_lines(table: dict[str, object], prefix: str = "CONDUWUIT_") -> list[str]:
    """CONDUWUIT_KEY='value' lines for systemd's EnvironmentFile ("__" nests tables)."""
    lines = []
    for key, value in table.items():
        if not re.fullmatch(r"[a-z0-9_]+", key):
            raise ValueError(f"{key!r} is not an option name")
        name = prefix + key.upper()
        if isinstance(value, dict):
            lines += env_lines(value, name + "__")
            continue
        text = toml_value(value)
        if "'" in text or "\n" in text:
            raise ValueError(f"{key}: quotes and line breaks cannot be passed")
        lines.append(f"{name}='{text}'")
    return lines


def main() -> int:
    STATE.mkdir(mode=0o700, parents=True, exist_ok=True)
    env = STATE / "env"
    if not SOURCE.exists():
        env.unlink(missing_ok=True)
        print(f"conduwuit: not configured: create {SOURCE} (see conduwuit.toml.example there)")
        return 0
    try:
        data = tomllib.loads(SOURCE.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        env.unlink(missing_ok=True)
        print(f"conduwuit: cannot read {SOURCE}: {exc}")
        return 0
    problems = problems_of(data)
    if problems:
        env.unlink(missing_ok=True)
        for problem in problems:
            print(f"conduwuit: {SOURCE}: {problem}")
        return 0
    name = str(data["server_name"]).lower()
    token = STATE / "registration_token"
    token.touch(mode=0o600)
    token.write_text(str(data["registration_token"]).strip())
    keys = data.get("ssh_authorized_keys", [])
    SSH.mkdir(mode=0o755, parents=True, exist_ok=True)
    (SSH / "admin").write_text(
        "".join(k.strip() + "\n" for k in ([keys] if isinstance(keys, str) else keys))
    )
    (SSH / "admin").chmod(0o644)
    server = data.get("server", {})
    assert isinstance(server, dict)
    extra = env_lines(server)
    env.write_text(
        f"CONDUWUIT_SERVER_NAME={name}\nSERVER_NAME={name}\nACME_EMAIL={data['acme_email']}\n"
        + "".join(line + "\n" for line in extra)
    )
    print(f"conduwuit: configured for {name} from {SOURCE}")
    if not keys:
        print("conduwuit: no ssh_authorized_keys: nobody can log in with SSH")
    return 0


if __name__ == "__main__":
    sys.exit(main())
