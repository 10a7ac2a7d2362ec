"""systemd's readiness protocol (sd_notify), without libsystemd.

Under ``Type=notify`` systemd sets ``$NOTIFY_SOCKET`` to a unix datagram socket
(a path, or ``@name`` for the abstract namespace) and waits for ``READY=1``
before it counts the service as started. Outside systemd the variable is unset
and :func:`notify` does nothing.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping


def notify(state: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send ``state`` (e.g. ``"READY=1"``) to the service manager.

    Returns whether a message was sent. Never raises: a service manager that went
    away must not take the server down with it.
    """
    address = (os.environ if environ is None else environ).get("NOTIFY_SOCKET", "")
    if not address or address[0] not in "/@":
        return False
    if address[0] == "@":
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
    except OSError:
        return False
    return True


def ready(status: str = "") -> bool:
    return notify(f"READY=1\nSTATUS={status}" if status else "READY=1")


def stopping() -> bool:
    return notify("STOPPING=1")
