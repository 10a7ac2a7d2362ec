"""The event types the server itself reads or writes (spec: client-server-api "Events").

A ``StrEnum``: a member is the plain string everywhere it matters — ``==`` and
``hash`` (so it finds ``"m.room.member"`` keys in dicts), ``str()``, f-strings,
``json.dumps`` and ``canonical_json.encode`` — so wire JSON and stored bytes are
unchanged; only ``repr`` differs.
"""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    # State events the server reads (auth rules, room creation, summaries).
    CREATE = "m.room.create"
    MEMBER = "m.room.member"
    POWER_LEVELS = "m.room.power_levels"
    JOIN_RULES = "m.room.join_rules"
    HISTORY_VISIBILITY = "m.room.history_visibility"
    GUEST_ACCESS = "m.room.guest_access"
    NAME = "m.room.name"
    TOPIC = "m.room.topic"
    AVATAR = "m.room.avatar"
    CANONICAL_ALIAS = "m.room.canonical_alias"
    ALIASES = "m.room.aliases"
    ENCRYPTION = "m.room.encryption"
    SERVER_ACL = "m.room.server_acl"
    TOMBSTONE = "m.room.tombstone"
    THIRD_PARTY_INVITE = "m.room.third_party_invite"
    PINNED_EVENTS = "m.room.pinned_events"
    SPACE_CHILD = "m.space.child"
    SPACE_PARENT = "m.space.parent"
    # Timeline events.
    MESSAGE = "m.room.message"
    ENCRYPTED = "m.room.encrypted"
    STICKER = "m.sticker"
    REDACTION = "m.room.redaction"
    REACTION = "m.reaction"
    # Ephemeral events.
    TYPING = "m.typing"
    RECEIPT = "m.receipt"
    PRESENCE = "m.presence"
    # Account data.
    TAG = "m.tag"
    FULLY_READ = "m.fully_read"
    DIRECT = "m.direct"
    PUSH_RULES = "m.push_rules"
    IGNORED_USER_LIST = "m.ignored_user_list"
    # Invite permission (spec v1.18, "default_action") and MSC4155's filters.
    INVITE_PERMISSION_CONFIG = "m.invite_permission_config"
    MSC4155_INVITE_PERMISSION_CONFIG = "org.matrix.msc4155.invite_permission_config"
