"""Server ACLs (client-server API, "Server Access Control Lists"; ``m.room.server_acl``).

A server name is matched without its port. ``deny`` is checked first, then
``allow``; a server matching neither is denied (``allow`` defaults to nothing).
With ``allow_ip_literals`` false, servers named by an IP address are denied. Globs
take ``*`` (any run of characters) and ``?`` (one character) and match the whole
name, case-insensitively as Synapse does (server names are DNS names). Entries
that are not strings are ignored; a non-boolean ``allow_ip_literals`` counts as
true (Synapse's reading of a malformed event).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Mapping
from typing import Any


def host_of(server_name: str) -> str:
    """The server name without its port (``[::1]:8448`` -> ``[::1]``)."""
    if server_name.startswith("["):
        end = server_name.find("]")
        return server_name[: end + 1] if end != -1 else server_name
    return server_name.rsplit(":", 1)[0] if ":" in server_name else server_name


def is_ip_literal(host: str) -> bool:
    if host.startswith("[") and host.endswith("]"):
        return True
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=1024)
def _glob(pattern: str) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _matches(host: str, patterns: Any) -> bool:
    if not isinstance(patterns, list):
        return False
    return any(isinstance(p, str) and _glob(p).fullmatch(host) for p in patterns)


def server_allowed(acl: Mapping[str, Any] | None, server_name: str) -> bool:
    """Whether ``server_name`` may take part in a room whose ACL content is ``acl``
    (None: the room has no ACL, every server may)."""
    if acl is None:
        return True
    host = host_of(server_name)
    allow_ip_literals = acl.get("allow_ip_literals", True)
    if allow_ip_literals is False and is_ip_literal(host):
        return False
    if _matches(host, acl.get("deny")):
        return False
    return _matches(host, acl.get("allow"))
