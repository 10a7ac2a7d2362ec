"""The registry of every named map (RocksDB column family).

Names follow conduwuit: ``<key parts>_<value>``, e.g. ``userid_password``.
Each :class:`MapSpec` documents its key and value layout (keys built with
:mod:`conduwuit.db.codec`). Services get a map with ``db.map(MAPS.name)``;
no code names a column family by a string of its own.

To add a map: add a ``MapSpec`` attribute to :class:`Maps` with its layout.
The database creates missing column families at open. Small maps share one
column family (see :data:`OWN_COLUMN` at the end).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

SHARED_COLUMN: Final = "shared"
"""The column family the small and rarely used maps share (see OWN_COLUMN)."""


@dataclass(frozen=True, slots=True)
class MapSpec:
    """A named map and the layout of its keys and values."""

    name: str
    layout: str

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*", self.name):
            raise ValueError(f"map name must be lower_snake_case: {self.name!r}")
        if self.name == SHARED_COLUMN:
            raise ValueError(f"{SHARED_COLUMN!r} is the shared column family's name")


# Keys of the `global` map.
GLOBAL_VERSION: Final = b"version"
GLOBAL_COUNTER: Final = b"c"
GLOBAL_KEYPAIR: Final = b"keypair"
GLOBAL_MEDIA_FROZEN_AT: Final = b"media_legacy_frozen_at"
#: The secret key of the state snapshots' additive digest (db/state_diff.py).
GLOBAL_STATE_DIGEST_KEY: Final = b"state_digest_key"


class Maps:
    """Every map of the server, in one place. Attribute order is declaration order."""

    global_: Final = MapSpec(
        "global",
        """Server-wide single values, keyed by a short ASCII name.
        b"version" -> u64: schema version (see conduwuit.db.migrations).
        b"c"       -> u64: the global stream counter (Database.next_count).
        b"keypair" -> bytes: the server's signing key pair (owned by the signing-key service).
        b"media_legacy_frozen_at" -> u64 ms: since when media is frozen for the legacy
                   unauthenticated download endpoints (freeze_legacy_media).
        b"state_digest_key" -> 32 bytes: the secret key of the state snapshots'
                   additive digest (conduwuit/db/state_diff.py).""",
    )
    server_signingkeys: Final = MapSpec(
        "server_signingkeys",
        """Published signing keys of servers, ours and remote.
        key:   server name (UTF-8)
        value: JSON object of the server's verify_keys and old_verify_keys with their
               expiry (valid_until_ts), merged across fetches.""",
    )

    servername_outgoing: Final = MapSpec(
        "servername_outgoing",
        """The federation sender's queue: what each destination has not acknowledged.
        key:   destination server name, 0xFF, u64 stream count (of the event, or of
               the EDU's own batch): oldest first per destination
        value: b"p" + event ID (a PDU, read from the timeline when sent) or
               b"e" + EDU JSON {"edu_type", "content"}""",
    )
    servertxnid_response: Final = MapSpec(
        "servertxnid_response",
        """Federation transactions received (PUT /send/{txnId}), so a transaction sent
        again gets the first answer and nothing in it is processed twice.
        key:   origin server name, 0xFF, transaction ID
        value: JSON of the answer given ({"pdus": {event ID: result}})""",
    )

    id_appserviceregistrations: Final = MapSpec(
        "id_appserviceregistrations",
        """Application services registered with ``!admin appservices register``.
        key:   the registration's ``id`` (UTF-8)
        value: JSON of the registration (conduwuit.core.appservice.registration_to_json)""",
    )

    appserviceid_outgoing: Final = MapSpec(
        "appserviceid_outgoing",
        """The appservice sender's queue: what an application service has not yet
        acknowledged (PUT /_matrix/app/v1/transactions/{txnId} answered 2xx).
        key:   appservice id, 0xFF, u64 stream count (of the event, or of the
               ephemeral data's own batch): oldest first
        value: event ID (always starts with "$"; the event is read from the timeline
               when sent), or b"e" + JSON of an ephemeral event (MSC2409: m.typing,
               m.receipt, m.presence), or b"d" + JSON of a to-device message with
               to_user_id and to_device_id (MSC4203)""",
    )

    # -- rooms: short ids (conduwuit's "short" service) ------------------------------
    roomid_shortroomid: Final = MapSpec(
        "roomid_shortroomid",
        """Rooms interned to a short id, so per-room keys start with 8 bytes.
        key:   room ID (UTF-8)
        value: u64 shortroomid (from the global counter).""",
    )
    eventid_shorteventid: Final = MapSpec(
        "eventid_shorteventid",
        """Events interned to a short id (every event the server knows, incl. outliers).
        key:   event ID (UTF-8)
        value: u64 shorteventid.""",
    )
    shorteventid_eventid: Final = MapSpec(
        "shorteventid_eventid",
        """The reverse of eventid_shorteventid.
        key:   u64 shorteventid
        value: event ID (UTF-8).""",
    )
    statekey_shortstatekey: Final = MapSpec(
        "statekey_shortstatekey",
        """(event type, state key) pairs interned to a short id.
        key:   key(type, state_key)  (UTF-8 parts joined by 0xFF)
        value: u64 shortstatekey.""",
    )
    shortstatekey_statekey: Final = MapSpec(
        "shortstatekey_statekey",
        """The reverse of statekey_shortstatekey.
        key:   u64 shortstatekey
        value: key(type, state_key).""",
    )
    # -- rooms: events and the timeline ----------------------------------------------
    pduid_pdu: Final = MapSpec(
        "pduid_pdu",
        """Timeline events of every room, in stream order per room (a prefix scan per room).
        key:   pduid = u64 shortroomid + u64 stream count (global counter; two's
               complement, negative for backfilled history) [+ u64 sub-position of
               history fetched into a gap, core.timeline_pos]
        value: the PDU as canonical JSON, with server-computed `unsigned` (prev_content,
               replaces_state, redacted_because); replaced by its redacted form on redaction.""",
    )
    eventid_pduid: Final = MapSpec(
        "eventid_pduid",
        """Where a timeline event is stored.
        key:   event ID (UTF-8)
        value: pduid (16 bytes, 24 with a sub-position).""",
    )
    eventid_outlierpdu: Final = MapSpec(
        "eventid_outlierpdu",
        """Events known but not in the timeline (auth events fetched over federation,
        rejected events kept for auth chains).
        key:   event ID (UTF-8)
        value: PDU JSON.""",
    )
    softfailedeventids: Final = MapSpec(
        "softfailedeventids",
        """Events accepted into the DAG but soft-failed (not shown, not current state).
        key:   event ID (UTF-8)
        value: empty.""",
    )
    eventid_rejection: Final = MapSpec(
        "eventid_rejection",
        """Received events the auth rules refused, kept as outliers (with the state
        before them) so events citing them can be placed (a rejected prev event
        changes no state) or refused (a rejected auth event); never served.
        key:   event ID (UTF-8)
        value: why it was rejected (UTF-8).""",
    )
    pduid_missingprevs: Final = MapSpec(
        "pduid_missingprevs",
        """Gaps in the timeline (backward extremities): timeline events some of whose
        prev events are not in the timeline, so history is missing right before them
        (service.rooms.gaps). Written with the event; a gap whose events have all been
        placed since is dropped when next read.
        key:   pduid of the event after the gap (16 or 24 bytes)
        value: JSON list of the missing prev event IDs.""",
    )
    roomid_pduleaves: Final = MapSpec(
        "roomid_pduleaves",
        """Forward extremities of each room: the prev_events of the next local event.
        key:   u64 shortroomid + 0xFF + event ID
        value: empty.""",
    )
    shorteventid_authchain: Final = MapSpec(
        "shorteventid_authchain",
        """Memoised auth chain of an event (everything reachable through auth_events).
        key:   u64 shorteventid
        value: sorted u64 shorteventids, concatenated.""",
    )
    tofrom_relation: Final = MapSpec(
        "tofrom_relation",
        """m.relates_to edges, so relations of an event are a prefix scan.
        key:   u64 shorteventid (target) + u64 shorteventid (relating event)
        value: empty.""",
    )
    userdevicetxnid_response: Final = MapSpec(
        "userdevicetxnid_response",
        """Client transaction IDs of room events, for idempotent sends: a transaction is
        scoped to one device and one request path (see service.rooms.transactions).
        key:   user ID, 0xFF, device ID, 0xFF, request path without the version prefix
               and the txn ID (e.g. "/rooms/!r:x/send/m.room.message"), 0xFF, txn ID
        value: the event ID the transaction created (UTF-8).
        Schema 1 keyed it (user ID, device ID, txn ID); migration 2 drops those.""",
    )
    eventid_devicetxnid: Final = MapSpec(
        "eventid_devicetxnid",
        """The client transaction that created a local event, written with the event, for
        unsigned.transaction_id (shown only to the sending device).
        key:   event ID (UTF-8)
        value: device ID, 0xFF, txn ID
        Events stored before this map existed hold the pair as "_txn" in their JSON.""",
    )
    # -- rooms: state ------------------------------------------------------------------
    shortstatehash_statediff: Final = MapSpec(
        "shortstatehash_statediff",
        """State snapshots as diffs against a parent snapshot (conduwuit's layered diffs).
        key:   u64 shortstatehash
        value: u64 parent shortstatehash (0 = none: `added` is the full state)
               + u64 number of added entries + added entries + removed entries,
               each entry u64 shortstatekey + u64 shorteventid.""",
    )
    statehash_shortstatehash: Final = MapSpec(
        "statehash_shortstatehash",
        """Deduplicates snapshots: the additive digest of a full state's entries.
        key:   64 bytes, the sum mod 2**512 of the keyed BLAKE2b-512 of each 16-byte entry
               (conduwuit/db/state_diff.py; schema 4 on, sha256 of the sorted
               entries before)
        value: u64 shortstatehash.""",
    )
    shorteventid_shortstatehash: Final = MapSpec(
        "shorteventid_shortstatehash",
        """The state of the room before each event (the state after adds the event itself).
        key:   u64 shorteventid
        value: u64 shortstatehash.""",
    )
    roomid_shortstatehash: Final = MapSpec(
        "roomid_shortstatehash",
        """The current state of each room.
        key:   room ID (UTF-8)
        value: u64 shortstatehash.""",
    )
    # -- rooms: membership indexes -------------------------------------------------------
    userroomid_membership: Final = MapSpec(
        "userroomid_membership",
        """Rooms of a user with the user's current membership there.
        key:   key(user ID, room ID)
        value: membership (join, invite, leave, ban, knock) + 0xFF + u64 count when it
               changed + (invites and knocks) stripped state JSON for the client.""",
    )
    roomuserid_membership: Final = MapSpec(
        "roomuserid_membership",
        """Members of a room by membership (the reverse of userroomid_membership).
        key:   key(room ID, membership, user ID)
        value: empty.""",
    )
    roomid_membercount: Final = MapSpec(
        "roomid_membercount",
        """Member counts per room and membership, kept with the indexes.
        key:   key(room ID, membership)
        value: u64 count.""",
    )
    userroomid_forgotten: Final = MapSpec(
        "userroomid_forgotten",
        """Rooms a user has forgotten (cleared when they join or are invited again).
        key:   key(user ID, room ID)
        value: empty.""",
    )

    # -- rooms: aliases and the directory --------------------------------------------
    alias_roomid: Final = MapSpec(
        "alias_roomid",
        """Local room aliases.
        key:   alias (UTF-8, "#local:server")
        value: room ID.""",
    )
    alias_userid: Final = MapSpec(
        "alias_userid",
        """Who created a local alias (they may delete it).
        key:   alias
        value: user ID.""",
    )
    roomid_aliases: Final = MapSpec(
        "roomid_aliases",
        """The local aliases of a room, for GET /rooms/{roomId}/aliases.
        key:   key(room ID, alias)
        value: empty.""",
    )
    publicroomids: Final = MapSpec(
        "publicroomids",
        """Rooms published in the room directory.
        key:   room ID
        value: empty.""",
    )
    bannedroomids: Final = MapSpec(
        "bannedroomids",
        """Rooms banned by the admins (``!admin rooms moderation ban-room``): no local
        joins, knocks or invites, no federation.
        key:   room ID
        value: empty.""",
    )
    disabledroomids: Final = MapSpec(
        "disabledroomids",
        """Rooms whose incoming federation the admins disabled
        (``!admin federation disable-room``, and every banned room).
        key:   room ID
        value: empty.""",
    )

    # -- rooms: receipts --------------------------------------------------------------
    readreceiptid_readreceipt: Final = MapSpec(
        "readreceiptid_readreceipt",
        """Public receipts (m.read) per room in stream order, for sync.
        key:   key(room ID) + 0xFF + u64 stream count + user ID
        value: JSON {"event_id", "type", "ts", "thread_id"?}.""",
    )
    roomuserid_receipt: Final = MapSpec(
        "roomuserid_receipt",
        """A user's latest receipt of each type and thread in a room (private ones too).
        key:   key(room ID, user ID, receipt type, thread ID or "")
        value: u64 stream count + JSON as in readreceiptid_readreceipt.""",
    )

    # -- push: notifications (conduwuit.service.push.notifications) ------------------
    usercount_notification: Final = MapSpec(
        "usercount_notification",
        """Every event that notified a local user (push rules said "notify"), newest
        last, for GET /notifications; kept after it is read.
        key:   user ID, 0xFF, u64 stream count of the event
        value: JSON {"room_id", "event_id", "actions", "highlight": bool,
               "thread_id": root event ID or "" (main timeline), "ts": ms}""",
    )
    userroomthreadcount_unread: Final = MapSpec(
        "userroomthreadcount_unread",
        """The user's notifications not yet read, per room and thread: a receipt deletes
        those at or before the event it points at (its thread's, or every thread's for
        an unthreaded receipt), so what is left is what is unread and scans stay
        O(unread); absence from here is what makes a notification "read".
        key:   user ID, 0xFF, room ID, 0xFF, thread root ID or "" (main), 0xFF,
               u64 stream count of the event
        value: one byte, 1 if it highlights, else 0.""",
    )
    userroomthread_notificationcounts: Final = MapSpec(
        "userroomthread_notificationcounts",
        """Running counts of userroomthreadcount_unread, so /sync reads a room's counts
        without a scan of its notifications; a thread's entry goes when it drops to zero,
        the main timeline's ("") stays, carrying the room's last change.
        key:   user ID, 0xFF, room ID, 0xFF, thread root ID or "" (main)
        value: u64 notification count + u64 highlight count + u64 stream count of the
               last change of any count of the room (main entry; the thread's own else)""",
    )
    userroomthread_threadsubscription: Final = MapSpec(
        "userroomthread_threadsubscription",
        """A user's subscription to a thread (MSC4306), or the record that they left
        it, which later automatic subscriptions caused by older events must respect.
        key:   user ID, 0xFF, room ID, 0xFF, thread root event ID
        value: JSON {"subscribed": bool, "automatic": bool (subscribed only),
               "unsubscribed_at": u64 stream count when left (unsubscribed only),
               "position": u64 stream count of this change}""",
    )
    userposition_threadsubscription: Final = MapSpec(
        "userposition_threadsubscription",
        """userroomthread_threadsubscription by the position of each thread's latest
        change, for MSC4308's list of changes since a position (one entry per thread:
        a change deletes the thread's previous entry).
        key:   user ID, 0xFF, u64 stream count of the change
        value: room ID, 0xFF, thread root event ID""",
    )

    tokenids: Final = MapSpec(
        "tokenids",
        """Full-text index of message bodies, room names and topics, per room.
        key:   u64 shortroomid + lowercased word (UTF-8) + 0xFF + pduid (16 or 24 bytes)
        value: empty.""",
    )

    userid_presence: Final = MapSpec(
        "userid_presence",
        """The presence a local user last set (idle/offline are worked out on read from
        last_active_ts and the configured timeouts).
        key:   user ID
        value: JSON {"presence", "status_msg"?, "last_active_ts", "count"}.""",
    )

    roomid_threads: Final = MapSpec(
        "roomid_threads",
        """Thread roots of each room ordered by latest activity (for /threads).
        key:   u64 shortroomid + u64 stream count of the thread's latest event + root event ID
        value: empty.""",
    )
    threadroot_latest: Final = MapSpec(
        "threadroot_latest",
        """The latest activity of a thread, to move its roomid_threads key.
        key:   root event ID
        value: u64 stream count.""",
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
    userid_shadowbanned: Final = MapSpec(
        "userid_shadowbanned",
        """Shadow-banned local users (Synapse's admin API, service/users/shadow_bans.py):
        their sends, invites and typing are answered as if done, and nothing is stored.
        key:   user ID
        value: u64 ms since the epoch when the ban was set""",
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
    userid_erased: Final = MapSpec(
        "userid_erased",
        """Users who asked for erasure when deactivating (``erase: true``, spec v1.10):
        their events are served redacted to anyone not joined when they were sent.
        Never deleted (a deactivated ID is never reused).
        key:   user ID (UTF-8)
        value: u64 ms timestamp of the request""",
    )
    reportid_eventreport: Final = MapSpec(
        "reportid_eventreport",
        """Event reports (``POST /rooms/{roomId}/report/{eventId}``), kept for the admin
        API's ``/_synapse/admin/v1/event_reports`` until an admin deletes them.
        key:   u64 report ID (from the global counter: in the order received)
        value: JSON object: received_ts, room_id, event_id, user_id, reason, score""",
    )
    registrationtoken_info: Final = MapSpec(
        "registrationtoken_info",
        """Registration tokens made with the admin API (``/_synapse/admin/v1/
        registration_tokens``), accepted besides the config's ``registration_token``.
        key:   the token (UTF-8)
        value: JSON object: uses_allowed (int or null), pending, completed (ints),
               expiry_time (ms or null)""",
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
    openidtoken_expiresatuserid: Final = MapSpec(
        "openidtoken_expiresatuserid",
        """OpenID tokens (POST /user/{userId}/openid/request_token) that other servers
        redeem at /_matrix/federation/v1/openid/userinfo; the name and layout are
        conduwuit's. An expired token is deleted when it is presented.
        key:   token (ASCII)
        value: u64 expiry (ms since the epoch), then the user ID (UTF-8)""",
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

    # -- pushers (conduwuit.service.push.pushers) -------------------------------------
    userpusherid_pusher: Final = MapSpec(
        "userpusherid_pusher",
        """Pushers of local users (POST /pushers/set); a user's are one prefix scan.
        key:   user ID, 0xFF, app ID, 0xFF, pushkey
        value: JSON {"kind", "app_id", "pushkey", "app_display_name",
               "device_display_name", "profile_tag", "lang", "data",
               "device_id": the device that created it (deleting the device deletes
               the pusher), "pushkey_ts": ms of the last set}""",
    )
    pusherid_userids: Final = MapSpec(
        "pusherid_userids",
        """Who has a pusher for an (app ID, pushkey), for set without append (which
        removes the other users' pushers of that pushkey).
        key:   app ID, 0xFF, pushkey, 0xFF, user ID
        value: empty""",
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
    userid_devicelistid: Final = MapSpec(
        "userid_devicelistid",
        """The stream ID of the last m.device_list_update sent about a local user: the
        next update's prev_id, and the stream_id /user/devices answers with.
        key:   user ID
        value: u64 count""",
    )
    userid_remotedevicelist: Final = MapSpec(
        "userid_remotedevicelist",
        """Cached device list of a remote user a local user shares a room with, kept
        fresh by m.device_list_update and m.signing_key_update EDUs.
        key:   user ID
        value: JSON {"stream_id": int, "devices": {device ID: device keys},
               "master"?: key, "self_signing"?: key}""",
    )
    roomid_partialdevicelistout: Final = MapSpec(
        "roomid_partialdevicelistout",
        """A local user's device list or signing key update sent while a room it is
        joined to was partial-state, with the servers it went to
        (service.federation.partial_device_lists): once the room is complete the
        servers joined at the time that did not get it get it; then deleted.
        key:   room ID, 0xFF, u64 stream position, 0xFF, user ID
        value: JSON {"type": EDU type, "content": EDU content, "servers": [name...]}""",
    )
    userid_pendingdevicelist: Final = MapSpec(
        "userid_pendingdevicelist",
        """Remote users whose m.device_list_update or m.signing_key_update came while
        a room was joined with partial state and nobody here was known to share a
        room with them (service.federation.remote_user_keys): once a resync shows
        them in the room, our users hear their devices changed (Synapse's
        device_lists_remote_pending). Emptied when no partial-state room is left.
        key:   user ID
        value: empty""",
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

    # -- media repository (service/media) ---------------------------------------------
    mediaid_metadata: Final = MapSpec(
        "mediaid_metadata",
        """Stored media, local uploads and cached remote media; the file is the blob
        media/blobs/<sha256> under the database directory.
        key:   origin server name, 0xFF, media ID
        value: JSON {"sha256", "size", "created_ts", "content_type"?, "filename"?,
               "uploader"? (local media only)}""",
    )
    mediaid_pending: Final = MapSpec(
        "mediaid_pending",
        """Media IDs made by POST /media/v1/create whose content is not uploaded yet.
        key:   server name (ours), 0xFF, media ID
        value: JSON {"uploader", "created_ts", "expires_ts"}""",
    )
    userid_pendingmediaid: Final = MapSpec(
        "userid_pendingmediaid",
        """A user's pending media IDs, to count them against max_pending_media_uploads.
        key:   user ID, 0xFF, media ID
        value: u64 expires_ts""",
    )
    userid_mediaid: Final = MapSpec(
        "userid_mediaid",
        """The media a local user uploaded (for deleting all of a user's media).
        key:   user ID, 0xFF, media ID
        value: empty""",
    )
    sha256_mediaid: Final = MapSpec(
        "sha256_mediaid",
        """Which media refer to a blob: the blob is deleted with its last reference.
        key:   sha256 (64 hex digits), 0xFF, origin server name, 0xFF, media ID
        value: empty""",
    )
    mediaid_quarantinedby: Final = MapSpec(
        "mediaid_quarantinedby",
        """Quarantined media (Synapse's admin API): downloads and thumbnails answer 404
        until an admin unquarantines it; removed with the media's metadata.
        key:   origin server name, 0xFF, media ID
        value: UTF-8 user ID of the admin who quarantined it""",
    )
    mediaid_protected: Final = MapSpec(
        "mediaid_protected",
        """Local media an admin protected from quarantine (Synapse's
        ``safe_from_quarantine``): no quarantine marks it until it is unprotected;
        removed with the media's metadata.
        key:   server name (ours), 0xFF, media ID
        value: empty""",
    )

    # -- delayed events (MSC4140; service.rooms.delayed_events) -------------------------
    delayid_delayedevent: Final = MapSpec(
        "delayid_delayedevent",
        """Scheduled (delayed) events, by their delay ID (an unguessable random string:
        it is the capability of the unauthenticated cancel/restart/send endpoints).
        key:   delay ID (UTF-8)
        value: JSON {"user_id", "room_id", "type", "state_key" (state events only),
               "content", "delay" (ms), "running_since" (ms since the epoch)}.
        Written, restarted and removed together with its rows in the two maps below.""",
    )
    userid_delayid: Final = MapSpec(
        "userid_delayid",
        """Each user's scheduled events, for listing and for cancelling a user's
        delayed state event when they send that state themselves.
        key:   user ID, 0xFF, delay ID
        value: empty.""",
    )
    duets_delayid: Final = MapSpec(
        "duets_delayid",
        """Scheduled events in the order they are due: the first key is the one timer.
        key:   u64 due time (running_since + delay, ms since the epoch), 0xFF, delay ID
        value: empty.""",
    )
    userdevicetxnid_delayid: Final = MapSpec(
        "userdevicetxnid_delayid",
        """Client transaction IDs of delayed sends, so a retried PUT /send with the delay
        parameter answers the first delay ID (same key as userdevicetxnid_response).
        key:   user ID, 0xFF, device ID, 0xFF, request path, 0xFF, txn ID
        value: the delay ID (UTF-8). Kept after the event is sent or cancelled, like
               the event transactions, so a late retry does not schedule it again.""",
    )
    userdeviceconnid_slidingconn: Final = MapSpec(
        "userdeviceconnid_slidingconn",
        """Simplified Sliding Sync connections, so a client's ``pos`` survives a restart
        (conduwuit.service.sliding_sync.stored). One row per connection.
        key:   user ID, 0xFF, device ID, 0xFF, conn_id (may be empty)
        value: JSON {"v": 1, "pos", "next", "used" (s since the epoch), "lists"
               {list: count}, "base" (the position answered from, or null),
               "base_lists", "undo" {room ID: encoded room or null}}: the rooms of
               position "pos" are the rows of userdeviceconnidroomid_slidingroom, and
               "undo" turns them into those of "base".""",
    )
    userdeviceconnidroomid_slidingroom: Final = MapSpec(
        "userdeviceconnidroomid_slidingroom",
        """What a sliding sync connection has of each room, at its stored position.
        key:   user ID, 0xFF, device ID, 0xFF, conn_id, 0xFF, room ID
        value: JSON [since, membership, [[type, state key]...] (required_state),
               bump_stamp, [user ID...] (lazy members sent), timeline_limit]""",
    )

    roomid_purge: Final = MapSpec(
        "roomid_purge",
        """Room purges asked for and not finished (service.rooms.purge), written before
        the first row goes so a purge cut short by a crash resumes at start-up; and
        history purges (service.rooms.purge_history), the same way.
        key:   room ID (UTF-8)
        value: JSON {"delete_id", "block": bool, "force": bool (force_purge),
               "phase": "shutting_down" or "purging", "started_ts": ms}
        key:   room ID, 0xFF, "history" (a history purge)
        value: JSON {"purge_id", "before": stream count of the cut event,
               "delete_local_events": bool, "started_ts": ms}""",
    )

    roomid_partialstate: Final = MapSpec(
        "roomid_partialstate",
        """Rooms joined with partial state (send_join v2 ``omit_members``, MSC3706) whose
        full state is not fetched yet (service.rooms.partial_state); written with the
        join, deleted when the resync completes, so a resync cut short resumes at start.
        key:   room ID (UTF-8)
        value: JSON {"join": our join's event ID, "servers": [server name...] (the
               resident first, then the answer's servers_in_room)}""",
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

# Column families. RocksDB holds ~56 KiB per column family whatever it stores (each
# one's table cache, per-level statistics, version and memtable): 87 of them were
# ~5 MiB of an idle server's RSS (docs/performance.md, issue 21). So only the maps
# that grow with the events, the state or the traffic, or are written on every
# event, have a column family of their own; every other map lives in SHARED_COLUMN,
# its keys behind a prefix of its own name (key_prefix), which Map adds and strips:
# the map API, key order and prefix scans are the same either way. A new map is
# shared unless it is listed here. Schema 5 moved the maps not listed out of their
# own column families (conduwuit/db/regroup.py); moving a map in or out of this set
# later needs a migration that moves its data the same way.

OWN_COLUMN: Final = frozenset(
    {
        MAPS.global_.name,  # the stream counter: written with every event
        MAPS.servername_outgoing.name,
        MAPS.servertxnid_response.name,
        MAPS.eventid_shorteventid.name,
        MAPS.shorteventid_eventid.name,
        MAPS.statekey_shortstatekey.name,
        MAPS.shortstatekey_statekey.name,
        MAPS.pduid_pdu.name,
        MAPS.eventid_pduid.name,
        MAPS.eventid_outlierpdu.name,
        MAPS.shorteventid_authchain.name,
        MAPS.tofrom_relation.name,
        MAPS.userdevicetxnid_response.name,
        MAPS.eventid_devicetxnid.name,
        MAPS.shortstatehash_statediff.name,
        MAPS.statehash_shortstatehash.name,
        MAPS.shorteventid_shortstatehash.name,
        MAPS.userroomid_membership.name,
        MAPS.roomuserid_membership.name,
        MAPS.readreceiptid_readreceipt.name,
        MAPS.roomuserid_receipt.name,
        MAPS.usercount_notification.name,
        MAPS.userroomthreadcount_unread.name,
        MAPS.tokenids.name,
        MAPS.roomuserdataid_accountdata.name,
        MAPS.onetimekeyid_onetimekeys.name,
        MAPS.keychangeid_userid.name,
        MAPS.todeviceid_events.name,
        MAPS.userdeviceconnidroomid_slidingroom.name,
    }
)
"""Maps with a column family of their own: the large and the hot ones."""


def column_family(spec: MapSpec) -> str:
    """The RocksDB column family that holds ``spec``'s keys."""
    return spec.name if spec.name in OWN_COLUMN else SHARED_COLUMN


def key_prefix(spec: MapSpec) -> bytes:
    """What precedes each of ``spec``'s keys in its column family: nothing in its own,
    its name and a 0x00 in the shared one (names are ``[a-z0-9_]``, so no map's
    prefix is a prefix of another's)."""
    return b"" if spec.name in OWN_COLUMN else spec.name.encode() + b"\x00"
