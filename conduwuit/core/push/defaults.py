"""The server-default push rules of spec v1.19, in the spec's order.

Client-server API, "Predefined Rules": v1.17 removed the legacy body-matching
mention rules (MSC4210: ``.m.rule.contains_display_name``, ``.m.rule.roomnotif``,
``.m.rule.contains_user_name``), so v1.19 has no default content rules; the
``contains_display_name`` condition itself is still evaluated for user rules.
The spec lists no poll rules (those are still MSC3930, unstable), so none here.

Conditions that name the rule owner ("[the user's Matrix ID]" in the spec) carry
``pattern_type``/``value_type`` ``"user_id"`` here (Synapse's convention); they
are rendered with the owner's ID and evaluated against the user being checked.
"""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]

SOUND_DEFAULT: Json = {"set_tweak": "sound", "value": "default"}
HIGHLIGHT: Json = {"set_tweak": "highlight"}


def _rule(rule_id: str, conditions: list[Json], actions: list[Any], enabled: bool = True) -> Json:
    return {
        "rule_id": rule_id,
        "default": True,
        "enabled": enabled,
        "conditions": conditions,
        "actions": actions,
    }


def _match(key: str, pattern: str) -> Json:
    return {"kind": "event_match", "key": key, "pattern": pattern}


#: The master rule: always first, before the user's own override rules.
MASTER: Json = _rule(".m.rule.master", [], [], enabled=False)

#: Default override rules after the user's own override rules (master excluded).
OVERRIDE: tuple[Json, ...] = (
    _rule(".m.rule.suppress_notices", [_match("content.msgtype", "m.notice")], []),
    _rule(
        ".m.rule.invite_for_me",
        [
            _match("type", "m.room.member"),
            _match("content.membership", "invite"),
            {"kind": "event_match", "key": "state_key", "pattern_type": "user_id"},
        ],
        ["notify", SOUND_DEFAULT],
    ),
    _rule(".m.rule.member_event", [_match("type", "m.room.member")], []),
    _rule(
        ".m.rule.is_user_mention",
        [
            {
                "kind": "event_property_contains",
                "key": "content.m\\.mentions.user_ids",
                "value_type": "user_id",
            }
        ],
        ["notify", SOUND_DEFAULT, HIGHLIGHT],
    ),
    _rule(
        ".m.rule.is_room_mention",
        [
            {"kind": "event_property_is", "key": "content.m\\.mentions.room", "value": True},
            {"kind": "sender_notification_permission", "key": "room"},
        ],
        ["notify", HIGHLIGHT],
    ),
    _rule(
        ".m.rule.tombstone",
        [_match("type", "m.room.tombstone"), _match("state_key", "")],
        ["notify", HIGHLIGHT],
    ),
    _rule(".m.rule.reaction", [_match("type", "m.reaction")], []),
    _rule(
        ".m.rule.room.server_acl",
        [_match("type", "m.room.server_acl"), _match("state_key", "")],
        [],
    ),
    _rule(
        ".m.rule.suppress_edits",
        [
            {
                "kind": "event_property_is",
                "key": "content.m\\.relates_to.rel_type",
                "value": "m.replace",
            }
        ],
        [],
    ),
)

#: No default content rules since v1.17 (MSC4210).
CONTENT: tuple[Json, ...] = ()

#: Default underride rules after the user's own underride rules.
UNDERRIDE: tuple[Json, ...] = (
    _rule(
        ".m.rule.call",
        [_match("type", "m.call.invite")],
        ["notify", {"set_tweak": "sound", "value": "ring"}],
    ),
    _rule(
        ".m.rule.encrypted_room_one_to_one",
        [{"kind": "room_member_count", "is": "2"}, _match("type", "m.room.encrypted")],
        ["notify", SOUND_DEFAULT],
    ),
    _rule(
        ".m.rule.room_one_to_one",
        [{"kind": "room_member_count", "is": "2"}, _match("type", "m.room.message")],
        ["notify", SOUND_DEFAULT],
    ),
    _rule(".m.rule.message", [_match("type", "m.room.message")], ["notify"]),
    _rule(".m.rule.encrypted", [_match("type", "m.room.encrypted")], ["notify"]),
)

#: MSC4306's ``io.element.msc4306.thread_subscription`` condition: holds when the event
#: is in a thread and the user is (``subscribed`` true) or is not (false) subscribed to it.
THREAD_SUBSCRIPTION = "io.element.msc4306.thread_subscription"

#: MSC4306's default ``postcontent`` rules (unstable IDs), checked after content rules
#: and before room rules, as Synapse orders them (its ``BASE_APPEND_POSTCONTENT_RULES``):
#: a thread message notifies when the user follows the thread and is silent otherwise;
#: mentions and keywords (override and content rules) still notify. Only served when
#: ``thread_subscription_push_rules`` is on (Synapse: ``msc4306_enabled``).
POSTCONTENT: tuple[Json, ...] = (
    _rule(
        ".io.element.msc4306.rule.unsubscribed_thread",
        [{"kind": THREAD_SUBSCRIPTION, "subscribed": False}],
        [],
    ),
    _rule(
        ".io.element.msc4306.rule.subscribed_thread",
        [{"kind": THREAD_SUBSCRIPTION, "subscribed": True}],
        ["notify", SOUND_DEFAULT],
    ),
)
