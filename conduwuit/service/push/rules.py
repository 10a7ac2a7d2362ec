"""Users' push rules: stored as global account data ``m.push_rules``, defaults merged on read.

The account data content is the user's whole ruleset as clients see it (so
``/sync`` delivers it, and incremental syncs carry each change, as the spec's
"Push Rules: Events" asks) plus the user's changes to server-default rules; only
the user's own rules and those changes are read back (``core.push.rules``), so
new default rules of a later version reach every user. A user who never changed
anything has nothing stored and gets the defaults (registration stores nothing);
initial syncs carry the current rules either way (``content``, wired in server.py).

Only this service writes ``m.push_rules`` (the generic account-data endpoint
refuses it), so its per-user cache of compiled rulesets is invalidated here.
"""

from __future__ import annotations

import logging
from typing import Any

from conduwuit.core.errors import MatrixError
from conduwuit.core.push import (
    DEFAULT_RULESET,
    DEFAULT_THREAD_RULESET,
    CompiledRuleset,
    Ruleset,
    compile_ruleset,
)
from conduwuit.core.push.rules import Json
from conduwuit.service.account_data import AccountData

PUSH_RULES = "m.push_rules"

log = logging.getLogger(__name__)


class PushRules:
    def __init__(self, account_data: AccountData, thread_subscriptions: bool = False) -> None:
        """``thread_subscriptions``: MSC4306's postcontent rules are in every ruleset
        (config ``thread_subscription_push_rules``)."""
        self._account_data = account_data
        self.thread_subscriptions = thread_subscriptions
        self._cache: dict[str, tuple[Ruleset, CompiledRuleset]] = {}

    @property
    def kinds(self) -> tuple[str, ...]:
        return Ruleset(thread_subscriptions=self.thread_subscriptions).kinds

    # -- reads -------------------------------------------------------------------------
    @property
    def cached_entries(self) -> int:
        """Users whose compiled rules are held in memory."""
        return len(self._cache)

    def ruleset(self, user_id: str) -> Ruleset:
        return self._cached(user_id)[0]

    def compiled(self, user_id: str) -> CompiledRuleset:
        """Ready for evaluation; users with only defaults share ``DEFAULT_RULESET``."""
        return self._cached(user_id)[1]

    def render(self, user_id: str) -> Json:
        """The ``global`` ruleset for GET /pushrules/."""
        return self.ruleset(user_id).render(user_id)

    def content(self, user_id: str) -> Json:
        """The ``m.push_rules`` account data content as of now (for initial syncs)."""
        return self.ruleset(user_id).to_content(user_id)

    def _cached(self, user_id: str) -> tuple[Ruleset, CompiledRuleset]:
        found = self._cache.get(user_id)
        if found is None:
            content = self._account_data.get(user_id, PUSH_RULES)
            ruleset = Ruleset.from_content(content, self.thread_subscriptions)
            found = self._cache[user_id] = (ruleset, _compile(ruleset))
        return found

    # -- edits (each one account-data write; a refused edit writes nothing) ------------
    def put_rule(
        self,
        user_id: str,
        kind: str,
        rule_id: str,
        body: Any,
        before: str | None = None,
        after: str | None = None,
    ) -> None:
        self._save(user_id, self.ruleset(user_id).with_rule(kind, rule_id, body, before, after))

    def delete_rule(self, user_id: str, kind: str, rule_id: str) -> None:
        self._save(user_id, self.ruleset(user_id).without_rule(kind, rule_id))

    def set_enabled(self, user_id: str, kind: str, rule_id: str, enabled: Any) -> None:
        self._save(user_id, self.ruleset(user_id).with_enabled(kind, rule_id, enabled))

    def set_actions(self, user_id: str, kind: str, rule_id: str, actions: Any) -> None:
        self._save(user_id, self.ruleset(user_id).with_actions(kind, rule_id, actions))

    def copy_room_rules(self, user_id: str, old_room: str, new_room: str) -> None:
        """On joining an upgraded room: copy the user's rules about its predecessor
        (``room`` rules, and rules with a ``room_id`` condition on it) to the new room,
        as Synapse does (``copy_push_rules_from_room_to_room_for_user``); rules the new
        room already has are left alone."""
        ruleset = self.ruleset(user_id)
        copied = ruleset
        for kind, rules in ruleset.own.items():
            existing = {r["rule_id"] for r in rules}
            for rule in reversed(rules):  # each copy goes first: keep their order
                conditions = rule.get("conditions")
                about_old = kind == "room" and rule["rule_id"] == old_room
                if isinstance(conditions, list) and any(
                    isinstance(c, dict)
                    and c.get("key") == "room_id"
                    and c.get("pattern") == old_room
                    for c in conditions
                ):
                    about_old = True
                if not about_old:
                    continue
                new_id = new_room if kind == "room" else f"{rule['rule_id']}-{new_room}"
                if kind != "room" and rule["rule_id"].startswith("."):
                    continue
                if new_id in existing:
                    continue
                body: dict[str, Any] = {"actions": list(rule.get("actions", []))}
                if kind not in ("room", "sender") and isinstance(conditions, list):
                    body["conditions"] = [
                        {**c, "pattern": new_room}
                        if isinstance(c, dict)
                        and c.get("key") == "room_id"
                        and c.get("pattern") == old_room
                        else c
                        for c in conditions
                    ]
                if kind == "content" and "pattern" in rule:
                    body["pattern"] = rule["pattern"]
                try:
                    copied = copied.with_rule(kind, new_id, body, None, None)
                except MatrixError as exc:
                    log.info("push rule %s of %s not copied: %s", rule["rule_id"], user_id, exc)
        if copied is not ruleset:
            self._save(user_id, copied)

    def _save(self, user_id: str, ruleset: Ruleset) -> None:
        self._account_data.put(user_id, PUSH_RULES, ruleset.to_content(user_id))
        self._cache[user_id] = (ruleset, _compile(ruleset))


def _compile(ruleset: Ruleset) -> CompiledRuleset:
    if not ruleset.is_default:
        return compile_ruleset(ruleset)
    return DEFAULT_THREAD_RULESET if ruleset.thread_subscriptions else DEFAULT_RULESET
