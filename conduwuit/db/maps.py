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

    # -- end-to-end encryption (conduwuit.service.e2ee) -------------------------------
    userdeviceid_devicekeys: Final = MapSpec(
        "userdeviceid_devicekeys",
        """Device identity keys as uploaded by /keys/upload, with the signatures the
        user's own keys made on them (self-signing key) merged in.
        key:   user ID, 0xFF, device ID
        value: canonical JSON of the DeviceKeys object (no "unsigned")""",
    )
    onetimekeyid_onetimekeys: Final = MapSpec(
        "onetimekeyid_onetimekeys",
        """Unclaimed one-time keys, in upload order per algorithm (the spec hands them
        out in the order they were uploaded: /keys/claim takes the first).
        key:   user ID, 0xFF, device ID, 0xFF, algorithm, 0xFF, u64 count of the
               upload, 0xFF, key ID (the part after "algorithm:")
        value: canonical JSON of the key object (or string, for unsigned algorithms)""",
    )
    userdeviceid_fallbackkeys: Final = MapSpec(
        "userdeviceid_fallbackkeys",
        """The one fallback key per device and algorithm; kept after a claim, marked used.
        key:   user ID, 0xFF, device ID, 0xFF, algorithm
        value: JSON {"key_id": str, "key": key object, "used": bool}""",
    )
    userid_lastonetimekeyupdate: Final = MapSpec(
        "userid_lastonetimekeyupdate",
        """Stream position of the last change to any one-time or fallback key of a user's
        devices (upload or claim), so /sync can tell whether the counts changed.
        key:   user ID
        value: u64 count""",
    )
    userid_crosssigningkeys: Final = MapSpec(
        "userid_crosssigningkeys",
        """A user's cross-signing keys, one record so /keys/query reads them at once;
        signatures by the user's own devices on the master key are merged in.
        key:   user ID
        value: JSON {"master"?: key, "self_signing"?: key, "user_signing"?: key}""",
    )
    useridsigner_signatures: Final = MapSpec(
        "useridsigner_signatures",
        """Signatures another user's user-signing key made on this user's master key;
        only the signer may see them (spec: cross-signing).
        key:   signed user ID, 0xFF, signing user ID
        value: JSON {signer key ID: signature} (of the target's current master key)""",
    )
    keychangeid_userid: Final = MapSpec(
        "keychangeid_userid",
        """Device-list changes fanned out on write to every local user who must hear of
        them, so /sync and /keys/changes scan one prefix from their since position.
        key:   observing user ID, 0xFF, u64 count, 0xFF, user ID that changed
        value: b"c" (keys changed, or now share a room) or b"l" (no longer share a
               room); the newest entry for a user in a range wins""",
    )
    keychangeuserid_count: Final = MapSpec(
        "keychangeuserid_count",
        """Where the one keychangeid_userid entry of an (observer, changed user) pair is:
        a new change replaces the older entry, so the map grows with pairs, not changes.
        key:   observing user ID, 0xFF, user ID that changed
        value: u64 count of its entry in keychangeid_userid""",
    )
    todeviceid_events: Final = MapSpec(
        "todeviceid_events",
        """To-device messages waiting for a device, until it acknowledges them with a
        later since token.
        key:   user ID, 0xFF, device ID, 0xFF, u64 count
        value: JSON {"type", "sender", "content"}""",
    )
    userdevicetxnid_todevice: Final = MapSpec(
        "userdevicetxnid_todevice",
        """Transaction IDs of PUT /sendToDevice already handled, for idempotency.
        key:   user ID, 0xFF, device ID, 0xFF, event type, 0xFF, transaction ID
        value: u64 count of the send""",
    )
    backupid_algorithm: Final = MapSpec(
        "backupid_algorithm",
        """Key-backup versions of a user; version numbers are global counts, never reused.
        key:   user ID, 0xFF, u64 version
        value: JSON {"algorithm": str, "auth_data": object}""",
    )
    backupid_etag: Final = MapSpec(
        "backupid_etag",
        """The etag of a backup version: the count of the last change to its keys.
        key:   user ID, 0xFF, u64 version
        value: u64 count""",
    )
    backupkeyid_backup: Final = MapSpec(
        "backupkeyid_backup",
        """Backed-up room keys.
        key:   user ID, 0xFF, u64 version, 0xFF, room ID, 0xFF, session ID
        value: JSON KeyBackupData {"first_message_index", "forwarded_count",
               "is_verified", "session_data"}""",
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
