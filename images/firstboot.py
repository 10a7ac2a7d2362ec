"""First-boot configuration of the Raspberry Pi image, from the FAT boot partition.

Reads /boot/firmware/conduwuit.toml (edited on a laptop before the first boot),
checks it, and writes what the services read:

  /var/lib/conduwuit-setup/env                 CONDUWUIT_SERVER_NAME, SERVER_NAME, ACME_EMAIL
  /var/lib/conduwuit-setup/registration_token  (mode 0600; systemd LoadCredential)

Without a usable file it removes env, so conduwuit and Caddy stay stopped and the
setup page (images/setup-page.py) explains what to set. Runs at every boot: edits
to the file apply at the next boot. Exit status 0 either way; messages go to the
console and the journal.
"""

from __future__ import annotations

import os
import re
import sys
import tomllib
from pathlib import Path

SOURCE = Path(os.environ.get("FIRSTBOOT_SOURCE", "/boot/firmware/conduwuit.toml"))
STATE = Path(os.environ.get("FIRSTBOOT_STATE", "/var/lib/conduwuit-setup"))
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
    return problems


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
    env.write_text(
        f"CONDUWUIT_SERVER_NAME={name}\nSERVER_NAME={name}\nACME_EMAIL={data['acme_email']}\n"
    )
    print(f"conduwuit: configured for {name} from {SOURCE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
