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

    # -- accounts (conduwuit.service.users) ------------------------------------------
    userid_account: Final = MapSpec(
        "userid_account",
        """Every account ever registered on this server; never deleted, so a
        deactivated ID can never be registered again.
        key:   user ID (UTF-8)
        value: JSON {"created_ts": ms, "is_guest": bool, "is_admin": bool,
               "deactivated": bool}""",
    )
    userid_password: Final = MapSpec(
        "userid_password",
        """Password hashes. Absent for accounts without a password (guests,
        deactivated accounts).
        key:   user ID (UTF-8)
        value: argon2id PHC string (UTF-8)""",
    )
    userid_profile: Final = MapSpec(
        "userid_profile",
        """Global profiles: displayname, avatar_url and custom fields (spec v1.16), one
        record per user so the 64 KiB limit on a whole profile is one read.
        key:   user ID (UTF-8)
        value: canonical JSON object of the profile fields""",
    )
    userid_autojoin: Final = MapSpec(
        "userid_autojoin",
        """Rooms a newly registered user still has to join (config auto_join_rooms),
        for the rooms service to honour and delete.
        key:   user ID (UTF-8)
        value: JSON list of room IDs or aliases""",
    )
    # -- devices and tokens (conduwuit.service.devices) ------------------------------
    userdeviceid_metadata: Final = MapSpec(
        "userdeviceid_metadata",
        """Devices of local users.
        key:   user ID, 0xFF, device ID
        value: JSON {"device_id", "display_name", "last_seen_ip", "last_seen_ts"}""",
    )
    userdeviceid_token: Final = MapSpec(
        "userdeviceid_token",
        """The one access token of each device.
        key:   user ID, 0xFF, device ID
        value: access token (UTF-8)""",
    )
    token_userdeviceid: Final = MapSpec(
        "token_userdeviceid",
        """Access token -> its device, for authenticating requests.
        key:   access token (UTF-8)
        value: JSON {"user_id", "device_id", "expires_ts": ms or null}""",
    )
    userdeviceid_refreshtoken: Final = MapSpec(
        "userdeviceid_refreshtoken",
        """The one refresh token of a device whose client supports refresh.
        key:   user ID, 0xFF, device ID
        value: refresh token (UTF-8)""",
    )
    refreshtoken_userdeviceid: Final = MapSpec(
        "refreshtoken_userdeviceid",
        """Refresh token -> its device.
        key:   refresh token (UTF-8)
        value: JSON {"user_id", "device_id", "expires_ts": ms or null}""",
    )
    logintoken_userid: Final = MapSpec(
        "logintoken_userid",
        """Short-lived single-use login tokens (m.login.token, POST /login/get_token).
        key:   login token (UTF-8)
        value: JSON {"user_id", "expires_ts": ms}""",
    )
    # -- account data and filters ------------------------------------------------------
    roomuserdataid_accountdata: Final = MapSpec(
        "roomuserdataid_accountdata",
        """Account data events in stream order, for sync: the newest write of a type
        wins; older ones are deleted in the same batch.
        key:   room ID or "" for global, 0xFF, user ID, 0xFF, u64 stream count
        value: JSON {"type": ..., "content": {...}}; content {} after a DELETE""",
    )
    roomusertype_roomuserdataid: Final = MapSpec(
        "roomusertype_roomuserdataid",
        """Where the current account data event of a type is.
        key:   room ID or "", 0xFF, user ID, 0xFF, event type
        value: the key of that event in roomuserdataid_accountdata""",
    )
    userfilterid_filter: Final = MapSpec(
        "userfilterid_filter",
        """Filters uploaded by users for sync.
        key:   user ID, 0xFF, filter ID (decimal digits)
        value: canonical JSON of the filter""",
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
