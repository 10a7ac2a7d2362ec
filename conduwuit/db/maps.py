"""The registry of every named map (RocksDB column family).

Names follow conduwuit: ``<key parts>_<value>``, e.g. ``userid_password``.
Each :class:`MapSpec` documents its key and value layout (keys built with
:mod:`conduwuit.db.codec`). Services get a map with ``db.map(MAPS.name)``;
no code names a column family by a string of its own.

To add a map: add a ``MapSpec`` attribute to :class:`Maps` with its layout.
The database creates missing column families at open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class MapSpec:
    """A named map and the layout of its keys and values."""

    name: str
    layout: str

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*", self.name):
            raise ValueError(f"map name must be lower_snake_case: {self.name!r}")


# Keys of the `global` map.
GLOBAL_VERSION: Final = b"version"
GLOBAL_COUNTER: Final = b"c"
GLOBAL_KEYPAIR: Final = b"keypair"


class Maps:
    """Every map of the server, in one place. Attribute order is declaration order."""

    global_: Final = MapSpec(
        "global",
        """Server-wide single values, keyed by a short ASCII name.
        b"version" -> u64: schema version (see conduwuit.db.migrations).
        b"c"       -> u64: the global stream counter (Database.next_count).
        b"keypair" -> bytes: the server's signing key pair (owned by the signing-key service).""",
    )
    server_signingkeys: Final = MapSpec(
        "server_signingkeys",
        """Published signing keys of servers, ours and remote.
        key:   server name (UTF-8)
        value: JSON object of the server's verify_keys and old_verify_keys with their
               expiry (valid_until_ts), merged across fetches.""",
    )

    @classmethod
    def all(cls) -> tuple[MapSpec, ...]:
        """Every registered map, in declaration order; names are checked unique."""
        specs = tuple(v for v in vars(cls).values() if isinstance(v, MapSpec))
        names = [s.name for s in specs]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate map names in registry: {dupes}")
        return specs


MAPS: Final = Maps
ALL_MAPS: Final = Maps.all()
