"""The configuration models: every option, its default and its documentation.

Option names follow conduwuit's example config. The description of each field is
its documentation: ``conduwuit generate-config`` renders them into the example
config (docs/conduwuit-example.toml), so this file is the one source.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from conduwuit.core.ids import ServerName, is_valid_localpart

#: Addresses an outbound request must never reach unless the admin says so:
#: private (RFC 1918), loopback, link-local, CGNAT, multicast, documentation
#: ("test") networks, benchmarking, reserved and unique-local IPv6.
DEFAULT_IP_RANGE_DENYLIST: list[str] = [
    "127.0.0.0/8",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "192.0.0.0/24",
    "169.254.0.0/16",
    "192.88.99.0/24",
    "198.18.0.0/15",
    "192.0.2.0/24",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "0.0.0.0/8",
    "::1/128",
    "fe80::/10",
    "fc00::/7",
    "2001:db8::/32",
    "ff00::/8",
    "fec0::/10",
]


def doc(text: str) -> str:
    """Normalise a multi-line option description (strip the common indent)."""
    lines = [line.strip() for line in text.strip().splitlines()]
    return "\n".join(lines)


#: Ends the documentation of every option that no code reads yet: such options are
#: accepted (and validated) so that existing configs keep loading, but change nothing
#: until their feature lands. tests/config/test_unused_options.py keeps this honest.
NOT_YET_USED = "Not yet used: this server accepts the option but does not act on it yet."


def unused(text: str) -> str:
    """The description of an option no code reads yet: ``text`` and the marker."""
    return f"{doc(text)}\n{NOT_YET_USED}"


class Section(BaseModel):
    """Base for every config table: unknown keys are reported by the loader, not here."""

    model_config = ConfigDict(extra="ignore", validate_default=True, frozen=True)


class WellKnown(Section):
    """`[global.well_known]`: what the server publishes under /.well-known/matrix/."""

    client: str | None = Field(
        None,
        description=doc("""
            The URL clients should use to reach this server, served as
            m.homeserver.base_url at /.well-known/matrix/client.
            Example: "https://matrix.example.com"
        """),
    )
    server: str | None = Field(
        None,
        description=doc("""
            The host:port other servers should use for federation, served as
            m.server at /.well-known/matrix/server. Example: "matrix.example.com:443"
        """),
    )
    support_page: str | None = Field(
        None, description="URL of a support page, published at /.well-known/matrix/support."
    )
    support_role: str = Field(
        "m.role.admin",
        description="The role of the support contact (m.role.admin or m.role.security).",
    )
    support_email: str | None = Field(None, description="E-mail address of the support contact.")
    support_mxid: str | None = Field(None, description="Matrix user ID of the support contact.")

    @field_validator("client", "support_page")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value


class Tls(Section):
    """`[global.tls]`: serve TLS directly, without a reverse proxy."""

    certs: Path | None = Field(
        None, description="Path to a PEM certificate chain. Both certs and key enable TLS."
    )
    key: Path | None = Field(None, description="Path to the PEM private key of certs.")
    dual_protocol: bool = Field(
        False,
        description=doc("""
            Accept both TLS and plain HTTP on every listening port (the first byte of
            each connection tells which). Useful for test setups; behind a reverse
            proxy leave TLS off entirely.
        """),
    )

    @model_validator(mode="after")
    def _both_or_neither(self) -> Tls:
        if (self.certs is None) != (self.key is None):
            raise ValueError("tls.certs and tls.key must be set together")
        return self

    @property
    def enabled(self) -> bool:
        return self.certs is not None and self.key is not None


Compression = Literal["zstd", "lz4", "snappy", "zlib", "bz2", "none"]


def _listify(value: object) -> object:
    return value if isinstance(value, list) else [value]


#: A value or a list of values in the file; always a list once loaded.
PortList = Annotated[list[int], BeforeValidator(_listify)]
AddressList = Annotated[list[str], BeforeValidator(_listify)]


class GlobalConfig(Section):
    """`[global]`: all options of the server."""

    # -- identity and storage -------------------------------------------------
    server_name: str = Field(
        ...,
        description=doc("""
            The server name: the part after the colon in user IDs (@alice:example.com).
            It cannot be changed once users exist. Required.
        """),
    )
    database_path: Path = Field(
        Path("/var/lib/conduwuit"),
        description="Directory of the RocksDB database and media. Created if missing.",
    )
    database_backend: Literal["rocksdb"] = Field(
        "rocksdb", description='The database engine. Only "rocksdb" is supported.'
    )
    database_backup_path: Path | None = Field(
        None,
        description=doc("""
            Directory for online database backups (RocksDB checkpoints), made by the
            admin command or CLI. Unset: backups are disabled.
        """),
    )
    database_backups_to_keep: int = Field(
        1, ge=1, description="How many backups to keep in database_backup_path."
    )
    db_cache_capacity_mb: float | None = Field(
        None,
        ge=0,
        description=doc("""
            Size of the RocksDB block cache (shared by every map), in megabytes; 0
            disables it. Unset: derived from the machine's memory (or its cgroup's
            limit): 1/128 of it, at most 4 + 2 per CPU core — 8 on a 1 GB Raspberry
            Pi, 4 on a 512 MB one. Unlike conduwuit's (128 + 64 per core), sized for a
            family server: its recent data is in the write buffers, and the OS caches
            the database's files.
        """),
    )
    db_write_buffer_capacity_mb: float | None = Field(
        None,
        gt=0,
        description=doc("""
            Memory for RocksDB's write buffers (memtables) of all maps together, in
            megabytes: writes since the last flush live there, so this bounds the
            memory that grows with what was written. Each map's own buffer is half of
            it, at most 8. Unset: derived from the machine's memory: 1/64 of it, at
            least 4, at most 8 + 4 per CPU core — 16 on a 1 GB Raspberry Pi, 8 on a
            512 MB one (conduwuit: 48 + 4 per core).
        """),
    )
    cache_capacity_modifier: float = Field(
        1.0,
        gt=0,
        description=doc("""
            Multiplier applied to every in-memory cache size, the RocksDB block cache
            included (derived or set); not to the write buffers.
        """),
    )

    # -- listening ---------------------------------------------------------------
    address: AddressList = Field(
        ["127.0.0.1", "::1"],
        description=doc("""
            Address(es) to listen on. A string or a list. The default is loopback only:
            put a reverse proxy in front, or use "0.0.0.0" / "::" in a container.
        """),
    )
    port: PortList = Field([8008], description="Port(s) to listen on: an integer or a list.")
    unix_socket_path: Path | None = Field(
        None,
        description="Listen on this unix socket instead of TCP addresses and ports.",
    )
    unix_socket_perms: int = Field(
        660, description="Permissions of the unix socket, as octal digits (e.g. 660)."
    )
    max_request_size: int = Field(
        20_000_000,
        ge=1024,
        description="Largest accepted request body, in bytes; also the largest media upload.",
    )
    client_shutdown_timeout: float = Field(
        180.0,
        ge=0,
        description=doc("""
            On shutdown (SIGTERM/SIGINT), how long in-flight requests may run before
            they are cut off, in seconds.
        """),
    )
    tls: Tls = Field(default_factory=lambda: Tls(), description="Direct TLS.")
    well_known: WellKnown = Field(
        default_factory=lambda: WellKnown(), description="Delegation and support info."
    )
    zstd_compression: bool = Field(False, description="Compress responses with zstd.")
    gzip_compression: bool = Field(False, description="Compress responses with gzip.")
    brotli_compression: bool = Field(False, description="Compress responses with brotli.")

    # -- logging -------------------------------------------------------------------
    log: str = Field(
        "info",
        description=doc("""
            Log filter: a default level, then per-module levels, comma-separated.
            Example: "info,conduwuit.federation=debug". Requests are logged at debug.
        """),
    )
    loop_lag_monitor: bool = Field(
        False,
        description=doc("""
            Measure event-loop stalls: a task wakes every 5 ms and records how late it
            is, and how much of that the loop's thread was on the CPU (the rest is the
            machine, not the server). Admins read the longest and 99th-percentile lag at
            GET /_conduwuit/admin/v1/loop_lag (?reset=true starts a new window); the
            longest is also logged at shutdown. For benchmarks and diagnosis.
        """),
    )
    loop_lag_trace_ms: int = Field(
        0,
        ge=0,
        description=doc("""
            With loop_lag_monitor on: log a warning with the Python stacks seen while the
            event loop was held longer than this many milliseconds (and how much of that
            its thread was on the CPU), and the garbage collections that took more than
            half of it; 0 turns it off. A watchdog thread samples the stacks every 2 ms:
            for diagnosis, not for production.
        """),
    )
    allow_metrics: bool = Field(
        False,
        description=doc("""
            Serve Prometheus metrics (text format) at metrics_path on the client
            listeners: requests by endpoint and status, their latency, event-loop lag,
            waiting /sync long-polls, federation queues and failures per destination,
            RocksDB and cache sizes, and the process's memory and CPU. Not a conduwuit
            option (conduwuit has no Prometheus endpoint). Off by default; set
            metrics_token too unless only a trusted network reaches the server.
        """),
    )
    metrics_path: str = Field(
        "/metrics",
        pattern=r"^/[A-Za-z0-9/_.-]*$",
        description=doc("""
            Path of the Prometheus metrics endpoint (with allow_metrics); not under
            /_matrix/ or /.well-known/, which belong to Matrix.
        """),
    )
    metrics_token: str | None = Field(
        None,
        description=doc("""
            Bearer token a scraper must send (Authorization: Bearer <token>) to read
            the metrics; unset, anyone who reaches metrics_path may.
        """),
    )

    # -- registration --------------------------------------------------------------
    allow_registration: bool = Field(
        False,
        description=doc("""
            Allow new accounts to be registered. Needs registration_token (or
            registration_token_file), or the long confirmation option below for an
            open server.
        """),
    )
    yes_i_am_very_very_sure_i_want_an_open_registration_server_prone_to_abuse: bool = Field(
        False,
        description="Allow registration without a token. Open servers attract spam.",
    )
    registration_token: str | None = Field(
        None, description="A token that registering users must present."
    )
    registration_token_file: Path | None = Field(
        None, description="A file whose contents (trimmed) are the registration token."
    )
    registration_shared_secret: str | None = Field(
        None,
        description=doc("""
            Enables Synapse-compatible shared-secret registration at
            /_synapse/admin/v1/register. Keep it secret; unset disables the endpoint.
        """),
    )
    allow_guest_registration: bool = Field(False, description="Allow guest accounts.")
    new_user_displayname_suffix: str = Field(
        "", description="Appended to the default display name of new users."
    )
    forbidden_usernames: list[str] = Field(
        [],
        description=doc("""
            Localparts that may not be registered: a new username is refused with
            M_INVALID_USERNAME when it contains any of these strings (case-insensitive).
            Shared-secret (admin) registration is not affected.
        """),
    )
    auto_join_rooms: list[str] = Field(
        [],
        description=doc("""
            Local room IDs or aliases every newly registered user joins (rooms that
            do not exist or refuse the join are skipped and logged).
        """),
    )
    allow_room_creation: bool = Field(
        True,
        description="Let local users create rooms; when false, only server admins may (conduwuit).",
    )
    max_event_delay_duration_ms: int = Field(
        86_400_000,
        ge=1,
        description=doc("""
            Longest delay, in milliseconds, a client may ask for when it schedules a
            delayed event (MSC4140: PUT /send or /state with
            ?org.matrix.msc4140.delay=<ms>); a longer one is refused with M_UNKNOWN and
            "org.matrix.msc4140.errcode": "M_MAX_DELAY_EXCEEDED". Synapse's
            max_event_delay_duration (conduwuit has no such option; the unit is in the
            name because this config takes plain numbers). Unlike Synapse, delayed
            events are on by default: Element Call needs them to end a call
            membership when a client vanishes, and a delay is bounded by this value.
            The default, 24 hours, is what Element's own deployments use.
        """),
    )
    forbidden_alias_names: list[str] = Field(
        [],
        description=doc("""
            Room alias localparts that may not be created: refused with M_BAD_ALIAS when
            the alias contains any of these strings (case-insensitive). Non-admins may
            not join through such an alias either.
        """),
    )
    block_non_admin_invites: bool = Field(
        False,
        description=doc("""
            Local users who are not server admins may not send invites (to local or
            remote users, createRoom's invite list included) nor receive invites from
            other servers (403). Admins always may.
        """),
    )
    auto_deactivate_banned_room_attempts: bool = Field(
        False,
        description=doc("""
            Deactivate the account of a local non-admin user who tries to join a banned
            room (!admin rooms moderation ban-room), a room or alias of a server in
            forbidden_remote_server_names, or an alias matching forbidden_alias_names
            (deactivation also makes them leave every room). Off by default: rooms are
            banned for reasons other than abuse too.
        """),
    )
    admin_execute: list[str] = Field(
        default_factory=list,
        description=doc("""
            Admin commands to run at start-up, in order, e.g.
            ["users create-user alice", "server backup-database"]; each one's output
            is logged and posted in the admin room. See docs/admin.md.
        """),
    )
    admin_room_notices: bool = Field(
        True,
        description="Post notices in the admin room, such as a new user's registration.",
    )
    log_guest_registrations: bool = Field(
        False, description="Post guest registrations in the admin room too."
    )
    server_notices_mxid_localpart: str | None = Field(
        None,
        description=doc("""
            Server notices (Synapse's, flattened): the localpart of the user that sends
            them, e.g. "_server" for @_server:<server_name>. Set, it enables
            POST /_synapse/admin/v1/send_server_notice for server admins; the user is
            created (with no password: it cannot log in) on the first notice. Unset:
            server notices are off. See docs/server-notices.md.
        """),
    )
    server_notices_mxid_display_name: str | None = Field(
        None, description="The server notices user's display name (unset: its localpart)."
    )
    server_notices_mxid_avatar_url: str | None = Field(
        None, description="The server notices user's avatar (an mxc:// URI); unset: none."
    )
    server_notices_room_name: str = Field(
        "Server Notices", description="The name of each user's server notices room."
    )
    server_notices_room_topic: str | None = Field(
        None, description="The topic of each user's server notices room; unset: none."
    )
    admin_socket_path: Path | None = Field(
        None,
        description=doc("""
            Unix socket for `conduwuit admin <group> <command>` from the shell (mode
            0600: only the user the server runs as can use it). Unset: no socket.
        """),
    )
    admin_execute_errors_ignore: bool = Field(
        False,
        description="Start even if an admin_execute command fails (else the start fails).",
    )
    lockdown_public_room_directory: bool = Field(
        False, description="Only server admins may publish rooms to the room directory."
    )
    allow_public_room_directory_without_auth: bool = Field(
        False, description="Serve /publicRooms to clients without an access token."
    )
    allow_public_room_directory_over_federation: bool = Field(
        False,
        description=doc("""
            Serve the public room directory to other servers
            (/_matrix/federation/v1/publicRooms). Off, it is 403 M_FORBIDDEN, which
            keeps /publicRooms spiders out but hides the directory from other
            servers' users too.
        """),
    )
    login_via_existing_session: bool = Field(
        True,
        description=doc("""
            Let a logged-in client create a short-lived login token for another
            device (POST /login/get_token, MSC3882).
        """),
    )
    login_token_ttl: int = Field(
        120_000, ge=1000, description="Lifetime of a login token, in milliseconds."
    )
    refreshable_access_token_lifetime: int = Field(
        300_000,
        ge=1000,
        description=doc("""
            Lifetime of an access token issued to a client that asked for a refresh
            token, in milliseconds. Tokens of clients without refresh support never expire.
        """),
    )
    refresh_token_lifetime: int | None = Field(
        None,
        ge=1000,
        description=doc("""
            Lifetime of a refresh token, in milliseconds. Unset: refresh tokens last
            until used or the device is logged out.
        """),
    )
    uiaa_session_timeout: int = Field(
        3_600_000,
        ge=1000,
        description="How long an unfinished user-interactive authentication session lives (ms).",
    )
    require_auth_for_profile_requests: bool = Field(
        False, description="Only users with an access token may read profiles."
    )
    argon2_time_cost: int = Field(
        2, ge=1, description="argon2id passes over memory when hashing a password."
    )
    argon2_memory_cost: int = Field(
        19_456,
        ge=8,
        description=doc("""
            argon2id memory per password hash, in KiB. The default (19 MiB, 2 passes,
            1 lane) is OWASP's recommended minimum and conduwuit's default.
        """),
    )
    argon2_parallelism: int = Field(1, ge=1, description="argon2id lanes per password hash.")
    rate_limit_login_per_second: float = Field(
        0.17,
        ge=0,
        description=doc("""
            Login attempts allowed per second per client address and per account,
            after the burst below. 0 disables the limit (as for Complement runs).
        """),
    )
    rate_limit_login_burst: int = Field(
        5, ge=1, description="Login attempts allowed in a burst before the rate applies."
    )
    rate_limit_uiaa_per_second: float = Field(
        0.17,
        ge=0,
        description=doc("""
            Failed user-interactive auth attempts (a wrong password when deleting a
            device, changing the password...) allowed per second per account, after
            the burst below; then 429 until the bucket refills. 0 disables the limit.
        """),
    )
    rate_limit_uiaa_burst: int = Field(
        5, ge=1, description="Failed user-interactive auth attempts allowed in a burst."
    )
    rate_limit_registration_per_second: float = Field(
        0.17,
        ge=0,
        description=doc("""
            Registration attempts allowed per second per client address, after the
            burst below. 0 disables the limit.
        """),
    )
    rate_limit_registration_burst: int = Field(
        3, ge=1, description="Registration attempts allowed in a burst."
    )
    rate_limit_message_per_second: float = Field(
        0.2,
        ge=0,
        description=doc("""
            Events a user may send per second (PUT /send, /state and /redact) after the
            burst below; retries of a sent transaction are free. Synapse's rc_message.
            Server admins are exempt from this and the other per-user limits. 0
            disables the limit.
        """),
    )
    rate_limit_message_burst: int = Field(
        10, ge=1, description="Events a user may send in a burst."
    )
    rate_limit_room_creation_per_second: float = Field(
        0.016,
        ge=0,
        description=doc("""
            Rooms a user may create per second (about one a minute) after the burst
            below. Synapse's rc_room_creation: creating a room writes many events at
            once, so it has its own, slower bucket. 0 disables the limit.
        """),
    )
    rate_limit_room_creation_burst: int = Field(
        10, ge=1, description="Rooms a user may create in a burst."
    )
    rate_limit_joins_per_second: float = Field(
        0.1,
        ge=0,
        description=doc("""
            Room joins per second per user after the burst below; joining a room one
            is already in is free. Synapse's rc_joins.local. 0 disables the limit.
        """),
    )
    rate_limit_joins_burst: int = Field(10, ge=1, description="Room joins per user in a burst.")
    rate_limit_invites_per_second: float = Field(
        0.3,
        ge=0,
        description=doc("""
            Invites a user may send per second after the burst below (Synapse's
            rc_invites.per_issuer). 0 disables the limit.
        """),
    )
    rate_limit_invites_burst: int = Field(
        10, ge=1, description="Invites a user may send in a burst."
    )
    rate_limit_invites_received_per_second: float = Field(
        0.003,
        ge=0,
        description=doc("""
            Invites a user may receive per second after the burst below, whoever sends
            them: stops invite spam at one target (Synapse's rc_invites.per_user). 0
            disables the limit.
        """),
    )
    rate_limit_invites_received_burst: int = Field(
        5, ge=1, description="Invites a user may receive in a burst."
    )
    rate_limit_typing_per_second: float = Field(
        1.0,
        ge=0,
        description=doc("""
            Typing notifications a user may send per second after the burst below
            (Synapse has no such limit; a client sends a few per message). 0 disables
            the limit.
        """),
    )
    rate_limit_typing_burst: int = Field(
        10, ge=1, description="Typing notifications a user may send in a burst."
    )
    rate_limit_presence_per_second: float = Field(
        0.1,
        ge=0,
        description=doc("""
            Presence updates (PUT /presence) a user may make per second after the burst
            below. Synapse's rc_presence.per_user rate; its burst of 1 is for presence
            set by /sync, dropped silently, while a refused PUT here is a 429. 0
            disables the limit.
        """),
    )
    rate_limit_presence_burst: int = Field(
        5, ge=1, description="Presence updates a user may make in a burst."
    )
    rate_limit_refresh_per_second: float = Field(
        0.5,
        ge=0,
        description=doc("""
            Token refreshes (POST /refresh, unauthenticated) per second per client
            address after the burst below. A device refreshes once per access-token
            lifetime, but a household shares one address. 0 disables the limit.
        """),
    )
    rate_limit_refresh_burst: int = Field(
        20, ge=1, description="Token refreshes per client address in a burst."
    )

    # -- media repository (docs/media.md) -------------------------------------------
    allow_legacy_media: bool = Field(
        True,
        description=doc("""
            Serve the legacy unauthenticated media endpoints: GET
            /_matrix/media/{r0,v1,v3}/download/... and /config. The authenticated
            /_matrix/client/v1/media/* endpoints and uploads are always served.
        """),
    )
    freeze_legacy_media: bool = Field(
        True,
        description=doc("""
            Freeze the legacy unauthenticated download endpoints (spec v1.11): media
            uploaded (or remote media cached) after the first start with this on is
            served only by the authenticated endpoints; the legacy ones answer 404.
            Turning it off serves everything there again and forgets the freeze point.
        """),
    )
    media_startup_check: bool = Field(
        True,
        description=doc("""
            At start, check that every media's file exists and that every file belongs
            to some media; both kinds of mismatch are logged.
        """),
    )
    prune_missing_media: bool = Field(
        False,
        description=doc("""
            With media_startup_check: remove the metadata of media whose file is
            missing. Off by default: a media directory that is only out of reach
            (an unmounted disk) would lose every entry.
        """),
    )
    prevent_media_downloads_from: list[str] = Field(
        [],
        description=doc("""
            Server names whose media is never fetched or served: their media
            answers 404 M_NOT_FOUND.
        """),
    )
    max_pending_media_uploads: int = Field(
        5,
        ge=1,
        description=doc("""
            How many media IDs from POST /_matrix/media/v1/create a user may hold
            without having uploaded them (further ones: 429 M_LIMIT_EXCEEDED).
        """),
    )
    media_create_unused_expiration_time: int = Field(
        86400,
        ge=1,
        description=doc("""
            Seconds a media ID from POST /_matrix/media/v1/create stays usable for its
            upload (unused_expires_at); after that it is gone.
        """),
    )

    # -- federation ----------------------------------------------------------------
    allow_federation: bool = Field(
        True,
        description=doc("""
            Federate with other servers. When false, no request is sent to another
            server and every federation request is refused with M_FORBIDDEN.
        """),
    )
    federation_partial_state_joins: bool = Field(
        True,
        description=doc("""
            Join remote rooms with partial state (MSC3706, send_join v2
            omit_members=true, as Synapse does): a resident that supports it leaves
            most member events out of its answer, so joining a large room is fast and
            the room is usable at once; the rest of the state is fetched in the
            background (also after a restart; given up, bounded, when no server will
            give it). Until then /members waits, an eager /sync leaves the room out
            (a lazy-loading one shows it), device-list tracking of the members not
            yet known waits, and events are checked against the partial state
            resolved with their auth events, then again on the full state
            (docs/federation-sender.md). Set false to always ask for the full state.
            This server's own name for it: conduwuit has no such option.
        """),
    )
    trusted_servers: list[str] = Field(
        ["matrix.org"],
        description=doc("""
            Notary servers: asked (POST /_matrix/key/v2/query) for other servers'
            signing keys. Their answers must carry the notary's own signature.
        """),
    )
    query_trusted_key_servers_first: bool = Field(
        True,
        description=doc("""
            Ask the trusted_servers for a server's signing keys before asking that
            server itself (the faster order for most servers); false asks the server
            first and the notaries only when it fails.
        """),
    )
    query_trusted_key_servers_first_on_join: bool = Field(
        True,
        description=doc("""
            The same choice as query_trusted_key_servers_first, for the many keys a
            room join needs at once.
        """),
    )
    only_query_trusted_key_servers: bool = Field(
        False,
        description=doc("""
            Never ask a server for its own keys: only the trusted_servers. Keys then
            depend entirely on the notaries.
        """),
    )
    allow_profile_lookup_federation_requests: bool = Field(
        True,
        description=doc("""
            Answer other servers' profile look-ups of our users
            (GET /_matrix/federation/v1/query/profile); false: 403 M_FORBIDDEN.
        """),
    )
    forbidden_remote_server_names: list[str] = Field(
        [],
        description=doc("""
            Server names this server does not federate with ("global ACLs"): their
            requests are refused with M_FORBIDDEN and nothing is sent to them; local
            non-admin users may not join rooms or aliases of theirs (403).
        """),
    )
    forbidden_remote_room_directory_server_names: list[str] = Field(
        [],
        description=doc("""
            Server names whose public room directory local users may not ask for
            (`/publicRooms?server=`): 403 M_FORBIDDEN, nothing is sent. Keeps users from
            wandering into bad parts of Matrix through those servers' directories.
        """),
    )
    federation_ca_file: Path | None = Field(
        None,
        description=doc("""
            An extra CA certificate (PEM) trusted for outbound federation (well-known
            fetches so far), beside the system's. For test networks.
        """),
    )
    ip_range_denylist: list[str] = Field(
        DEFAULT_IP_RANGE_DENYLIST,
        description=doc("""
            Networks (CIDR) that outbound requests (push gateways, federation, URL
            previews) must never reach: a pusher whose gateway host resolves into one
            is refused, delivery and federation check every connection, and a URL
            preview checks every address of every redirect hop and of the image.
            Default: private, loopback, link-local, CGNAT, multicast, documentation
            and unique-local ranges.
        """),
    )
    allow_unstable_room_versions: bool = Field(
        True, description="Allow creating rooms with unstable room versions."
    )
    default_room_version: str = Field("11", description="Room version of new rooms.")

    # -- DNS and server discovery (docs/federation.md) ------------------------------
    dns_cache_entries: int = Field(
        32768,
        ge=0,
        description=doc("""
            Most DNS answers kept in memory (each name and record type is one entry);
            resolved server names are kept up to this many too. Only lower it when an
            external DNS cache sits in front (systemd-resolved does not count).
        """),
    )
    dns_min_ttl: int = Field(
        10800,
        ge=0,
        description=doc("""
            Shortest time (seconds) a DNS answer is kept, whatever its TTL says. High
            by design; only lower it behind an external DNS cache.
        """),
    )
    dns_min_ttl_nxdomain: int = Field(
        259200,
        ge=0,
        description=doc("""
            Shortest time (seconds) a negative DNS answer (NXDOMAIN, or no record of
            the type asked) is kept: such names very rarely start to federate, and
            asking again for them costs every federation request. Default 3 days.
        """),
    )
    dns_timeout: float = Field(
        10,
        gt=0,
        description=doc("""
            Seconds to wait for the answer to one DNS query. Recursive lookups can
            take several seconds for some domains; do not set it too low.
        """),
    )
    dns_attempts: int = Field(
        10, ge=0, description="Further rounds over the nameservers after timeouts and failures."
    )
    dns_tcp_fallback: bool = Field(
        True,
        description=doc("""
            Ask again over TCP when a UDP answer is truncated or UDP fails. Turn off
            only for a nameserver without TCP.
        """),
    )
    query_all_nameservers: bool = Field(
        True,
        description=doc("""
            Check a negative answer (NXDOMAIN or no records) from one nameserver with
            the others before believing it. Off: the first nameserver that answers
            decides.
        """),
    )
    query_over_tcp_only: bool = Field(
        False,
        description="Ask the nameservers over TCP only, never UDP. You very likely do not want it.",
    )
    ip_lookup_strategy: Literal[1, 2, 3, 4, 5] = Field(
        5,
        description=doc("""
            Which address records are looked up: 1 A only (IPv4); 2 AAAA only (IPv6);
            3 both at once; 4 AAAA, then A if there is none; 5 A, then AAAA if there
            is none. 1 suits a server without IPv6.
        """),
    )
    well_known_conn_timeout: float = Field(
        6, gt=0, description="Connect timeout (seconds) of /.well-known/matrix/server fetches."
    )
    well_known_timeout: float = Field(
        10, gt=0, description="Timeout (seconds) of a whole /.well-known/matrix/server fetch."
    )

    # -- outbound request timeouts (seconds) ---------------------------------------
    request_conn_timeout: float = Field(
        10, gt=0, description="Connect timeout of outbound connections (federation, URL previews)."
    )
    request_timeout: float = Field(
        35,
        gt=0,
        description=doc("""
            Time an outbound request may wait for more data (push gateways: the whole
            request; URL previews: between reads).
        """),
    )
    request_total_timeout: float = Field(
        320,
        gt=0,
        description="Time limit of a whole outbound request (URL previews so far), a backstop.",
    )
    request_idle_timeout: float = Field(
        5, gt=0, description="Idle life of a pooled outbound connection (URL previews so far)."
    )
    federation_timeout: float = Field(
        300,
        gt=0,
        description="Timeout of a whole federation request, answer included (joins can be slow).",
    )
    federation_idle_timeout: float = Field(
        25, gt=0, description="Idle life of a pooled federation connection."
    )
    sender_retry_backoff_limit: int = Field(
        86400,
        ge=1,
        description=doc("""
            Longest wait (seconds) before retrying a server that keeps failing: the
            wait starts at 5 s and doubles per failure up to this (federation sender
            and every other federation request).
        """),
    )
    startup_netburst: bool = Field(
        True,
        description=doc("""
            At start, send what the federation queue still holds for each server at
            once. Off: a server's old queue waits until something new is queued for it.
        """),
    )
    startup_netburst_keep: int = Field(
        50,
        ge=-1,
        description=doc("""
            With startup_netburst, keep only the newest this many queued PDUs and EDUs
            per server at start (older ones are dropped; the newest events let the
            server fetch the gap). -1 keeps all, 0 drops all.
        """),
    )
    pusher_idle_timeout: float = Field(
        15, gt=0, description="Idle life of a pooled push gateway connection."
    )
    thread_subscription_push_rules: bool = Field(
        False,
        description=doc("""
            MSC4306's push rules: messages in a thread notify only users subscribed to
            it (``postcontent`` rules ``.io.element.msc4306.rule.unsubscribed_thread``
            and ``.subscribed_thread``; mentions still notify), and /versions
            advertises org.matrix.msc4306. Off by default, as Synapse's
            ``msc4306_enabled``: clients that never subscribe would go silent in
            threads. The subscription endpoints work either way.
        """),
    )
    appservice_timeout: float = Field(
        35,
        gt=0,
        description=doc("""
            Timeout (seconds) of a request to an application service: transactions,
            user and alias queries, pings, third-party network requests (a service
            slower than this is left out of a `/thirdparty` answer). Short, as
            appservices usually run next to the server.
        """),
    )
    appservice_idle_timeout: float = Field(
        300, gt=0, description="Idle life of a pooled application service connection."
    )
    appservice_dir: Path | None = Field(
        None,
        description=doc("""
            A directory of application service registration files (`*.yaml`,
            `*.yml`), each registered at start as with `!admin appservices register`
            (replacing a registration with the same id). A file that is not a valid
            registration stops the start. This server's addition (conduwuit registers
            appservices only from the admin room); the Complement image points it at
            /complement/appservice. Unset: none.
        """),
    )

    # -- presence, typing, receipts --------------------------------------------------
    allow_local_presence: bool = Field(True, description="Presence for local users.")
    allow_incoming_presence: bool = Field(
        True, description="Accept presence over federation (m.presence EDUs)."
    )
    allow_outgoing_presence: bool = Field(
        True,
        description="Send presence over federation (needs allow_local_presence).",
    )
    presence_idle_timeout_s: int = Field(300, ge=1, description="Idle after this long.")
    presence_offline_timeout_s: int = Field(1800, ge=1, description="Offline after this long.")
    allow_device_name_federation: bool = Field(
        False,
        description=(
            "Show our users' device display names to other servers (over federation:"
            " device lists and key queries). Off by default, for privacy."
        ),
    )
    allow_outgoing_typing: bool = Field(True, description="Send typing over federation.")
    allow_incoming_typing: bool = Field(True, description="Accept typing over federation.")
    typing_federation_timeout_s: int = Field(
        30, ge=1, description="Remote typing lifetime (within the typing_client_timeout bounds)."
    )
    typing_client_timeout_min_s: int = Field(15, ge=1, description="Shortest typing timeout.")
    typing_client_timeout_max_s: int = Field(45, ge=1, description="Longest typing timeout.")
    # -- TURN / VoIP (GET /voip/turnServer) --------------------------------------------
    turn_uris: list[str] = Field(
        [],
        description=doc("""
            TURN URIs clients are given for calls, e.g.
            ["turn:turn.example.com?transport=udp", "turn:turn.example.com?transport=tcp"].
            Empty: /voip/turnServer answers 404 M_NOT_FOUND (as conduwuit, MSC4166).
        """),
    )
    turn_secret: str = Field(
        "",
        description=doc("""
            The shared secret of the TURN server (coturn's static-auth-secret with
            use-auth-secret): clients get time-limited credentials, username
            "<expiry>:<user ID>" and password base64(HMAC-SHA1(secret, username)).
            Takes precedence over turn_username/turn_password.
        """),
    )
    turn_username: str = Field(
        "", description="Static TURN username given to clients when turn_secret is unset."
    )
    turn_password: str = Field(
        "", description="Static TURN password given to clients when turn_secret is unset."
    )
    turn_ttl: int = Field(
        86400,
        ge=1,
        le=10 * 365 * 86400,
        description="Lifetime of TURN credentials in seconds (time-limited ones expire then).",
    )
    turn_allow_guests: bool = Field(
        False,
        description=doc("""
            Give TURN credentials to guests and to unauthenticated callers of
            /voip/turnServer too (Synapse's turn_allow_guests).
        """),
    )
    allow_incoming_read_receipts: bool = Field(
        True, description="Accept read receipts over federation."
    )
    allow_outgoing_read_receipts: bool = Field(
        True, description="Send read receipts over federation."
    )

    # -- thumbnails and URL previews (docs/media.md) -------------------------------------
    max_image_pixels: int = Field(
        32_000_000,
        ge=1,
        description=doc("""
            Largest image (width x height, read from its header before anything is
            decoded) that is thumbnailed; a larger one gets 413 M_TOO_LARGE. Decoding
            takes about 4 bytes per pixel. As Synapse's max_image_pixels.
        """),
    )
    url_preview_domain_contains_allowlist: list[str] = Field(
        [],
        description=doc("""
            URL previews are off until one of the allowlists allows a URL. Domains
            allowed for previews by a *contains* match on the URL's host: "google.com"
            allows "google.com", "www.google.com" and "mymaliciousdomaingoogle.com".
            "*" allows every URL (a large attack surface: know the risks).
        """),
    )
    url_preview_domain_explicit_allowlist: list[str] = Field(
        [],
        description=doc("""
            Domains allowed for previews by an *exact* match on the URL's host:
            "google.com" allows "google.com" but not "www.google.com". "*" allows every
            URL.
        """),
    )
    url_preview_url_contains_allowlist: list[str] = Field(
        [],
        description=doc("""
            Strings that allow a URL for previews when the whole URL contains one:
            "https://example.com/news/" allows every URL under it. "*" allows every URL.
        """),
    )
    url_preview_domain_explicit_denylist: list[str] = Field(
        [],
        description=doc("""
            Domains never previewed, by an exact match on the host; checked before the
            allowlists ("*" means nothing here). ip_range_denylist applies to every
            preview whatever these lists say.
        """),
    )
    url_preview_max_spider_size: int = Field(
        384_000,
        ge=1024,
        description=doc("""
            Bytes of a page read for its preview; the rest is not downloaded (the
            OpenGraph tags are at its start).
        """),
    )
    url_preview_check_root_domain: bool = Field(
        False,
        description=doc("""
            Also run the domain allowlists and the denylist on the parent domains of
            the host: with "wikipedia.org" in an allowlist, "en.m.wikipedia.org" is
            allowed too. Does not apply to url_preview_url_contains_allowlist.
        """),
    )

    # -- RocksDB ---------------------------------------------------------------------
    rocksdb_compression_algo: Compression = Field(
        "zstd", description="Compression of database blocks."
    )
    rocksdb_compression_level: int = Field(
        32767, description="Compression level; 32767 means the algorithm's default."
    )
    rocksdb_bottommost_compression: bool = Field(
        False, description="Compress the bottommost level separately (heavier)."
    )
    rocksdb_bottommost_compression_level: int = Field(
        32767, description="Level for bottommost compression; 32767 is the default."
    )
    rocksdb_direct_io: bool = Field(False, description="Use direct I/O for reads and flushes.")
    rocksdb_optimize_for_spinning_disks: bool = Field(
        False, description="Tune for rotating disks (larger files, fewer seeks)."
    )
    rocksdb_recovery_mode: int = Field(
        1,
        ge=0,
        le=3,
        description=doc("""
            Write-ahead-log recovery after a crash, as in conduwuit: 0 absolute
            consistency, 1 tolerate a corrupted tail record (default), 2 point in
            time, 3 skip any corrupted record (last resort, may lose data).
        """),
    )
    rocksdb_parallelism_threads: int = Field(
        0, ge=0, description="Background threads; 0 means the number of cores."
    )
    rocksdb_log_level: Literal["debug", "info", "warn", "error", "fatal"] = Field(
        "error", description="Level of RocksDB's own LOG file."
    )
    rocksdb_max_log_file_size: int = Field(
        4 * 1024 * 1024, ge=0, description="Size at which RocksDB's LOG file rotates."
    )
    rocksdb_log_time_to_roll: int = Field(
        0, ge=0, description="Rotate RocksDB's LOG after this many seconds; 0 never."
    )
    rocksdb_max_log_files: int = Field(3, ge=1, description="RocksDB LOG files to keep.")

    @field_validator("server_name")
    @classmethod
    def _server_name(cls, value: str) -> str:
        ServerName.parse(value)
        return value

    @field_validator("server_notices_mxid_localpart")
    @classmethod
    def _notices_localpart(cls, value: str | None) -> str | None:
        if value is not None and not is_valid_localpart(value, strict=True):
            raise ValueError(f"{value!r} is not a valid user ID localpart")
        return value

    @field_validator("metrics_path")
    @classmethod
    def _metrics_path(cls, value: str) -> str:
        if value.startswith(("/_matrix/", "/.well-known/")):
            raise ValueError(f"{value} is a Matrix path: pick another, e.g. /metrics")
        return value

    @field_validator("port")
    @classmethod
    def _ports(cls, value: PortList) -> PortList:
        for port in value:
            if not 1 <= port <= 65535:
                raise ValueError(f"{port} is not a TCP port (1-65535)")
        return value

    @field_validator("address")
    @classmethod
    def _addresses(cls, value: AddressList) -> AddressList:
        for address in value:
            ipaddress.ip_address(address)
        return value

    @field_validator("ip_range_denylist")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            ipaddress.ip_network(network, strict=False)
        return value

    @field_validator("unix_socket_perms")
    @classmethod
    def _perms(cls, value: int) -> int:
        digits = str(value)
        if not digits.isdigit() or any(d > "7" for d in digits) or len(digits) > 4:
            raise ValueError("must be octal digits such as 660")
        return value

    @field_validator("log")
    @classmethod
    def _log(cls, value: str) -> str:
        from conduwuit.config.logging import parse_log_filter

        parse_log_filter(value)
        return value

    @property
    def addresses(self) -> list[str]:
        return self.address

    @property
    def ports(self) -> list[int]:
        return self.port

    @property
    def unix_socket_mode(self) -> int:
        return int(str(self.unix_socket_perms), 8)


class Config(BaseModel):
    """The whole file: everything lives under `[global]`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    global_: Annotated[GlobalConfig, Field(alias="global")]

    @property
    def g(self) -> GlobalConfig:
        return self.global_
