"""The pure parts of server discovery (server-server API: "Resolving server names").

IP literals, the ``/.well-known/matrix/server`` document and how long to keep it,
and the RFC 2782 order of SRV records. No I/O: the resolver in
``conduwuit.service.federation`` does the lookups and calls these.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from conduwuit.core.ids import ServerName

#: The port of a server name without one, and of a delegated name without one.
DEFAULT_PORT = 8448
#: Spec: cache a well-known answer for 24 h when it carries no cache headers...
WELL_KNOWN_DEFAULT_CACHE_S = 24 * 3600
#: ...never longer than 48 h whatever its headers say...
WELL_KNOWN_MAX_CACHE_S = 48 * 3600
#: ...and a failure (error, non-200, bad JSON, no ``m.server``) for an hour.
WELL_KNOWN_FAILURE_CACHE_S = 3600

_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)
_NO_STORE = re.compile(r"(?:^|,)\s*no-store\s*(?:,|$)", re.IGNORECASE)


def ip_literal(host: str) -> str | None:
    """The address of ``host`` if it is an IP literal (an IPv6 one in brackets, as in
    a server name), without brackets; ``None`` for a host name."""
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def parse_well_known(body: bytes) -> ServerName | None:
    """The delegated server name of a ``/.well-known/matrix/server`` body, or ``None``
    if the body is not a JSON object with a valid server name in ``m.server``."""
    try:
        document = json.loads(body)
    except ValueError:  # bad JSON and bad UTF-8 alike
        return None
    if not isinstance(document, dict):
        return None
    delegated = document.get("m.server")
    if not isinstance(delegated, str):
        return None
    try:
        return ServerName.parse(delegated)
    except ValueError:
        return None


def cache_seconds(cache_control: str | None, expires: str | None, now_s: float) -> float:
    """How long to keep a successful well-known answer, from its headers.

    ``Cache-Control: no-store`` means not at all; ``max-age`` wins over ``Expires``
    (RFC 9111 section 5.3); neither gives the spec's default of 24 h; the result is
    never over 48 h nor under 0. An ``Expires`` that cannot be parsed is already
    expired (RFC 9111), so is not kept either.
    """
    if cache_control is not None:
        if _NO_STORE.search(cache_control):
            return 0.0
        match = _MAX_AGE.search(cache_control)
        if match is not None:
            return float(min(int(match.group(1)), WELL_KNOWN_MAX_CACHE_S))
    if expires is not None:
        try:
            at = parsedate_to_datetime(expires).timestamp()
        except (TypeError, ValueError, IndexError):
            return 0.0
        return max(0.0, min(at - now_s, float(WELL_KNOWN_MAX_CACHE_S)))
    return float(WELL_KNOWN_DEFAULT_CACHE_S)


@dataclass(frozen=True)
class SrvTarget:
    """One SRV record: ``priority weight port target``."""

    priority: int
    weight: int
    port: int
    target: str


def order_srv(records: Sequence[SrvTarget], random: Callable[[], float]) -> list[SrvTarget]:
    """The records in the order to try them (RFC 2782): lower priority first; within
    one priority, a weighted random draw (``random()`` in [0, 1)) repeated over the
    records not yet drawn, where records of weight 0 have a small chance only.

    A lone record whose target is ``.`` says the service is decidedly not available:
    the answer is then no record at all.
    """
    if len(records) == 1 and records[0].target in (".", ""):
        return []
    ordered: list[SrvTarget] = []
    for priority in sorted({r.priority for r in records}):
        # RFC 2782: weight-0 records first, so they are drawn only when the draw is
        # exactly 0 (or when only weight-0 records are left).
        pool = sorted((r for r in records if r.priority == priority), key=lambda r: r.weight)
        while pool:
            total = sum(r.weight for r in pool)
            if total == 0:
                ordered.extend(pool)
                break
            pick = random() * total
            running = 0
            chosen = pool[-1]
            for record in pool:
                running += record.weight
                if running >= pick:
                    chosen = record
                    break
            ordered.append(chosen)
            pool.remove(chosen)
    return [r for r in ordered if r.target not in (".", "")]


def parse_hosts(text: str) -> dict[str, list[str]]:
    """A hosts file (``/etc/hosts``): each lower-cased name and its addresses in file
    order. Lines that do not start with an IP address are skipped."""
    hosts: dict[str, list[str]] = {}
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        try:
            address = str(ipaddress.ip_address(fields[0].split("%", 1)[0]))
        except ValueError:
            continue
        for name in fields[1:]:
            found = hosts.setdefault(name.lower().rstrip("."), [])
            if address not in found:
                found.append(address)
    return hosts
