"""Which rows of each map belong to a room, for the room purge (service/rooms/purge.py).

Every map of ``db/maps.py`` has one rule here, and a test checks that none is
missing, so a new map is placed on purpose: its rows are deleted with the room, or it
is kept, with the reason. The kinds:

- ``ROOM``: the key is the room ID, or starts with the room ID and 0xFF;
- ``SHORTROOM``: the key starts with the room's u64 short ID;
- ``EVENT``: rows of each of the room's events (by event ID or short event ID),
  deleted with the event;
- ``SNAPSHOT``: the room's state snapshots;
- ``SCANNED``: a scan of the whole map decides row by row (``matches``);
- ``COMPANION``: deleted with a row of another map (``companion_of``);
- ``KEPT``: not the room's data.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Final
from urllib.parse import quote

from conduwuit.db import MAPS
from conduwuit.db.codec import split

#: ``(key, value, room_id) -> bool``: the row belongs to the room.
RowMatch = Callable[[bytes, bytes, str], bool]


class Kind(Enum):
    ROOM = "room"
    SHORTROOM = "shortroom"
    EVENT = "event"
    SNAPSHOT = "snapshot"
    SCANNED = "scanned"
    COMPANION = "companion"
    KEPT = "kept"


@dataclass(frozen=True, slots=True)
class Rule:
    kind: Kind
    why: str


def _json_room(value: bytes) -> str | None:
    try:
        decoded = json.loads(value)
    except ValueError:
        return None
    room = decoded.get("room_id") if isinstance(decoded, dict) else None
    return room if isinstance(room, str) else None


def json_names_room(value: bytes, room_id: str) -> bool:
    """A JSON object whose ``room_id`` is the room (a cheap byte test first)."""
    return room_id.encode() in value and _json_room(value) == room_id


def part_is_room(index: int) -> RowMatch:
    """Keys whose ``index``-th 0xFF-separated part is the room ID."""

    def match(key: bytes, value: bytes, room_id: str) -> bool:
        parts = split(key)
        return len(parts) > index and parts[index] == room_id.encode()

    return match


def _value_part_is_room(key: bytes, value: bytes, room_id: str) -> bool:
    return split(value)[0] == room_id.encode()


def _json_value(key: bytes, value: bytes, room_id: str) -> bool:
    return json_names_room(value, room_id)


def _txn_path(key: bytes, value: bytes, room_id: str) -> bool:
    """Client transactions keyed by a request path that names the room."""
    parts = split(key)
    if len(parts) < 3:
        return False
    path = parts[2].decode(errors="replace")
    return any(f"/rooms/{r}/" in path for r in (room_id, quote(room_id, safe="")))


_KEPT_ACCOUNT = "an account's own data, not a room's"
_KEPT_E2EE = "a user's or device's keys, not a room's"
_KEPT_MEDIA = "media outlives the events that mention it (delete it with the media API)"

RULES: Final[dict[str, Rule]] = {
    MAPS.global_.name: Rule(Kind.KEPT, "server-wide values"),
    MAPS.server_signingkeys.name: Rule(Kind.KEPT, "servers' keys"),
    MAPS.servername_outgoing.name: Rule(
        Kind.KEPT,
        "the sender's queue (counted in memory): the purge waits for the room's queued "
        "events to go out; one left is skipped, unreadable, and dropped when sent",
    ),
    MAPS.servertxnid_response.name: Rule(
        Kind.KEPT, "answers to transactions by origin: never read by event or room"
    ),
    MAPS.id_appserviceregistrations.name: Rule(Kind.KEPT, "appservice registrations"),
    MAPS.appserviceid_outgoing.name: Rule(
        Kind.KEPT, "the appservice sender's queue: as servername_outgoing"
    ),
    MAPS.roomid_shortroomid.name: Rule(Kind.ROOM, "deleted last: it finds the rest"),
    MAPS.eventid_shorteventid.name: Rule(Kind.EVENT, "the room's events' short IDs"),
    MAPS.shorteventid_eventid.name: Rule(Kind.EVENT, "the reverse"),
    MAPS.statekey_shortstatekey.name: Rule(Kind.KEPT, "(type, state key) pairs of every room"),
    MAPS.shortstatekey_statekey.name: Rule(Kind.KEPT, "the reverse, of every room"),
    MAPS.pduid_pdu.name: Rule(Kind.EVENT, "the timeline, scanned by the room's short ID"),
    MAPS.eventid_pduid.name: Rule(Kind.EVENT, "the timeline's index"),
    MAPS.eventid_outlierpdu.name: Rule(Kind.EVENT, "outliers, scanned for their room_id"),
    MAPS.softfailedeventids.name: Rule(Kind.EVENT, "soft-failed marks"),
    MAPS.eventid_rejection.name: Rule(Kind.EVENT, "rejection marks"),
    MAPS.roomid_pduleaves.name: Rule(Kind.SHORTROOM, "forward extremities"),
    MAPS.pduid_missingprevs.name: Rule(Kind.SHORTROOM, "gaps in the timeline, by pduid"),
    MAPS.shorteventid_authchain.name: Rule(Kind.EVENT, "memoised auth chains"),
    MAPS.tofrom_relation.name: Rule(Kind.EVENT, "relations, by their target"),
    MAPS.userdevicetxnid_response.name: Rule(
        Kind.SCANNED, "transactions of sends into the room (the path names it)"
    ),
    MAPS.eventid_devicetxnid.name: Rule(Kind.EVENT, "the transaction of each local event"),
    MAPS.shortstatehash_statediff.name: Rule(Kind.SNAPSHOT, "the room's state snapshots"),
    MAPS.statehash_shortstatehash.name: Rule(Kind.SNAPSHOT, "their dedup digests"),
    MAPS.shorteventid_shortstatehash.name: Rule(Kind.EVENT, "state before each event"),
    MAPS.roomid_shortstatehash.name: Rule(Kind.ROOM, "the current state"),
    MAPS.userroomid_membership.name: Rule(Kind.SCANNED, "each user's membership"),
    MAPS.roomuserid_membership.name: Rule(Kind.ROOM, "the members"),
    MAPS.roomid_membercount.name: Rule(Kind.ROOM, "member counts"),
    MAPS.userroomid_forgotten.name: Rule(Kind.SCANNED, "forgotten marks"),
    MAPS.alias_roomid.name: Rule(Kind.SCANNED, "aliases still pointing at the room"),
    MAPS.alias_userid.name: Rule(Kind.COMPANION, "the creator of each of those aliases"),
    MAPS.roomid_aliases.name: Rule(Kind.ROOM, "the room's aliases"),
    MAPS.publicroomids.name: Rule(Kind.ROOM, "the directory entry"),
    MAPS.bannedroomids.name: Rule(
        Kind.KEPT, "the admins' block of the room ID: what stops it coming back"
    ),
    MAPS.disabledroomids.name: Rule(Kind.KEPT, "the admins' federation switch for the ID"),
    MAPS.readreceiptid_readreceipt.name: Rule(Kind.ROOM, "receipts"),
    MAPS.roomuserid_receipt.name: Rule(Kind.ROOM, "each user's latest receipts"),
    MAPS.usercount_notification.name: Rule(Kind.SCANNED, "notifications from the room"),
    MAPS.userroomthreadcount_unread.name: Rule(Kind.SCANNED, "unread notifications"),
    MAPS.userroomthread_notificationcounts.name: Rule(Kind.SCANNED, "notification counts"),
    MAPS.userroomthread_threadsubscription.name: Rule(Kind.SCANNED, "thread subscriptions"),
    MAPS.userposition_threadsubscription.name: Rule(
        Kind.SCANNED, "thread subscriptions' positions"
    ),
    MAPS.tokenids.name: Rule(Kind.SHORTROOM, "the search index"),
    MAPS.userid_presence.name: Rule(Kind.KEPT, _KEPT_ACCOUNT),
    MAPS.roomid_threads.name: Rule(Kind.SHORTROOM, "the thread list"),
    MAPS.threadroot_latest.name: Rule(Kind.EVENT, "each thread's latest activity"),
    MAPS.userid_account.name: Rule(Kind.KEPT, _KEPT_ACCOUNT),
    MAPS.userid_password.name: Rule(Kind.KEPT, _KEPT_ACCOUNT),
    MAPS.userid_profile.name: Rule(Kind.KEPT, _KEPT_ACCOUNT),
    MAPS.userid_erased.name: Rule(Kind.KEPT, _KEPT_ACCOUNT),
    MAPS.userid_shadowbanned.name: Rule(Kind.KEPT, _KEPT_ACCOUNT),
    MAPS.reportid_eventreport.name: Rule(
        Kind.SCANNED, "reports of the room's events (the events are gone; Synapse too)"
    ),
    MAPS.registrationtoken_info.name: Rule(Kind.KEPT, "registration tokens"),
    MAPS.userid_autojoin.name: Rule(
        Kind.KEPT, "joins the config asked for; joining an unknown room fails cleanly"
    ),
    MAPS.userdeviceid_metadata.name: Rule(Kind.KEPT, _KEPT_ACCOUNT),
    MAPS.userdeviceid_token.name: Rule(Kind.KEPT, _KEPT_ACCOUNT),
    MAPS.token_userdeviceid.name: Rule(Kind.KEPT, _KEPT_ACCOUNT),
    MAPS.openidtoken_expiresatuserid.name: Rule(Kind.KEPT, _KEPT_ACCOUNT),
    MAPS.userdeviceid_refreshtoken.name: Rule(Kind.KEPT, _KEPT_ACCOUNT),
    MAPS.refreshtoken_userdeviceid.name: Rule(Kind.KEPT, _KEPT_ACCOUNT),
    MAPS.logintoken_userid.name: Rule(Kind.KEPT, _KEPT_ACCOUNT),
    MAPS.roomuserdataid_accountdata.name: Rule(Kind.ROOM, "room account data (tags…)"),
    MAPS.roomusertype_roomuserdataid.name: Rule(Kind.ROOM, "its index"),
    MAPS.userfilterid_filter.name: Rule(Kind.KEPT, _KEPT_ACCOUNT),
    MAPS.userpusherid_pusher.name: Rule(Kind.KEPT, _KEPT_ACCOUNT),
    MAPS.pusherid_userids.name: Rule(Kind.KEPT, _KEPT_ACCOUNT),
    MAPS.userdeviceid_devicekeys.name: Rule(Kind.KEPT, _KEPT_E2EE),
    MAPS.onetimekeyid_onetimekeys.name: Rule(Kind.KEPT, _KEPT_E2EE),
    MAPS.userdeviceid_fallbackkeys.name: Rule(Kind.KEPT, _KEPT_E2EE),
    MAPS.userid_lastonetimekeyupdate.name: Rule(Kind.KEPT, _KEPT_E2EE),
    MAPS.userid_crosssigningkeys.name: Rule(Kind.KEPT, _KEPT_E2EE),
    MAPS.useridsigner_signatures.name: Rule(Kind.KEPT, _KEPT_E2EE),
    MAPS.keychangeid_userid.name: Rule(Kind.KEPT, _KEPT_E2EE),
    MAPS.keychangeuserid_count.name: Rule(Kind.KEPT, _KEPT_E2EE),
    MAPS.userid_devicelistid.name: Rule(Kind.KEPT, _KEPT_E2EE),
    MAPS.userid_remotedevicelist.name: Rule(Kind.KEPT, _KEPT_E2EE),
    MAPS.userid_pendingdevicelist.name: Rule(
        Kind.KEPT, "remote users whose updates came while a room was partial: not a room's"
    ),
    MAPS.todeviceid_events.name: Rule(Kind.KEPT, _KEPT_E2EE),
    MAPS.userdevicetxnid_todevice.name: Rule(Kind.KEPT, _KEPT_E2EE),
    MAPS.backupid_algorithm.name: Rule(Kind.KEPT, _KEPT_E2EE),
    MAPS.backupid_etag.name: Rule(Kind.KEPT, _KEPT_E2EE),
    MAPS.backupkeyid_backup.name: Rule(
        Kind.KEPT, "the user's backed-up keys are theirs (Synapse keeps them too)"
    ),
    MAPS.mediaid_metadata.name: Rule(Kind.KEPT, _KEPT_MEDIA),
    MAPS.mediaid_pending.name: Rule(Kind.KEPT, _KEPT_MEDIA),
    MAPS.userid_pendingmediaid.name: Rule(Kind.KEPT, _KEPT_MEDIA),
    MAPS.userid_mediaid.name: Rule(Kind.KEPT, _KEPT_MEDIA),
    MAPS.sha256_mediaid.name: Rule(Kind.KEPT, _KEPT_MEDIA),
    MAPS.mediaid_quarantinedby.name: Rule(Kind.KEPT, _KEPT_MEDIA),
    MAPS.mediaid_protected.name: Rule(Kind.KEPT, _KEPT_MEDIA),
    MAPS.delayid_delayedevent.name: Rule(Kind.SCANNED, "events scheduled into the room"),
    MAPS.userid_delayid.name: Rule(Kind.COMPANION, "their rows by user"),
    MAPS.duets_delayid.name: Rule(Kind.COMPANION, "their timer rows"),
    MAPS.userdevicetxnid_delayid.name: Rule(
        Kind.SCANNED, "transactions of delayed sends into the room"
    ),
    MAPS.userdeviceconnid_slidingconn.name: Rule(
        Kind.KEPT,
        "a sliding sync connection (held in memory too): its next request finds the "
        "room gone from the user's rooms and tells the client",
    ),
    MAPS.userdeviceconnidroomid_slidingroom.name: Rule(
        Kind.KEPT, "what such a connection sent of the room; dropped with the connection"
    ),
    MAPS.roomid_partialstate.name: Rule(Kind.ROOM, "the partial-state marker of the room"),
    MAPS.roomid_partialdevicelistout.name: Rule(
        Kind.ROOM, "our users' device list updates sent while the room was partial-state"
    ),
    MAPS.roomid_purge.name: Rule(Kind.ROOM, "the purge's own record, deleted last"),
}

#: Maps scanned whole with the row test of each (delayed events, aliases and the
#: queues need more than a row test and are handled by the purge itself).
ROW_MATCHES: Final[dict[str, RowMatch]] = {
    MAPS.userroomid_membership.name: part_is_room(1),
    MAPS.userroomid_forgotten.name: part_is_room(1),
    MAPS.userroomthreadcount_unread.name: part_is_room(1),
    MAPS.userroomthread_notificationcounts.name: part_is_room(1),
    MAPS.userroomthread_threadsubscription.name: part_is_room(1),
    MAPS.userposition_threadsubscription.name: _value_part_is_room,
    MAPS.usercount_notification.name: _json_value,
    MAPS.reportid_eventreport.name: _json_value,
    MAPS.userdevicetxnid_response.name: _txn_path,
    MAPS.userdevicetxnid_delayid.name: _txn_path,
}

__all__ = ["ROW_MATCHES", "RULES", "Kind", "RowMatch", "Rule", "json_names_room"]
