"""A user's push rules: their own rules, the server defaults, and the edits the API makes.

What is stored is the user's own rules (ids without a leading dot) and, for
server-default rules, only what the user changed (``enabled``, ``actions``).
The defaults themselves come from ``defaults.py`` on every read, so a later
version's new or corrected default rules reach every user, and a default the
user never touched follows the code.

All edits are pure: they return a new ``Ruleset`` or raise the Matrix error the
client gets (client-server API "Push Rules: API", pushrules.yaml).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from conduwuit.core.errors import bad_json, invalid_param, not_found
from conduwuit.core.push import defaults

Json = dict[str, Any]

#: The rule kinds, in the order they are checked. ``postcontent`` is MSC4306's (where
#: Synapse puts it: after content, before room); it exists only for a ruleset with
#: ``thread_subscriptions`` on (``Ruleset.kinds``), holds only server-default rules, and
#: its rules have conditions like override and underride rules.
POSTCONTENT = "postcontent"
KINDS = ("override", "content", POSTCONTENT, "room", "sender", "underride")
BASE_KINDS = tuple(k for k in KINDS if k != POSTCONTENT)
WITH_CONDITIONS = ("override", POSTCONTENT, "underride")

#: Actions older spec versions defined that clients and servers MUST ignore
#: ("Historical Actions"): accepted and kept as the client sent them (Synapse does so,
#: and sytest SYN-390 reads "dont_notify" back), ignored when rules are evaluated.
HISTORICAL_ACTIONS = frozenset({"dont_notify", "coalesce"})

#: Where the changes to server-default rules live in the ``m.push_rules`` content
#: (next to ``global``, which clients read; clients ignore unknown keys).
CHANGED_DEFAULTS = "org.conduwuit.changed_defaults"

MAX_SAFE_INT = 2**53 - 1


def check_kind(kind: str, kinds: tuple[str, ...] = BASE_KINDS) -> str:
    if kind not in kinds:
        raise invalid_param(f"Unknown push rule kind {kind!r}; expected one of {', '.join(kinds)}")
    return kind


def is_server_default(rule_id: str) -> bool:
    return rule_id.startswith(".")


def _defaults_of(kind: str) -> tuple[Json, ...]:
    if kind == "override":
        return (defaults.MASTER, *defaults.OVERRIDE)
    if kind == "content":
        return defaults.CONTENT
    if kind == "underride":
        return defaults.UNDERRIDE
    if kind == POSTCONTENT:
        return defaults.POSTCONTENT
    return ()


# -- validation of client input --------------------------------------------------------


def check_actions(actions: Any) -> list[Any]:
    """The actions of a rule (historical ones kept, as sent), or M_BAD_JSON."""
    if not isinstance(actions, list):
        raise bad_json("'actions' must be an array")
    out: list[Any] = []
    for action in actions:
        if action == "notify" or (isinstance(action, str) and action in HISTORICAL_ACTIONS):
            out.append(action)
        elif isinstance(action, dict) and isinstance(action.get("set_tweak"), str):
            out.append(action)
        else:
            # Synapse refuses unknown actions too (push/clientformat: InvalidRuleException).
            raise bad_json(f"Unknown push rule action {action!r}")
    return out


def _is_scalar(value: Any) -> bool:
    if value is None or isinstance(value, bool | str):
        return True
    return isinstance(value, int) and -MAX_SAFE_INT <= value <= MAX_SAFE_INT


def check_condition(condition: Any) -> Json:
    """A condition with the parameters its kind needs; unknown kinds are kept (they
    never match: "Unrecognised conditions MUST NOT match any events")."""
    if not isinstance(condition, dict) or not isinstance(condition.get("kind"), str):
        raise bad_json("Each condition must be an object with a string 'kind'")
    kind = condition["kind"]

    def string(name: str) -> None:
        if not isinstance(condition.get(name), str):
            raise bad_json(f"A {kind} condition needs a string {name!r}")

    if kind == "event_match":
        string("key")
        string("pattern")
    elif kind in ("event_property_is", "event_property_contains"):
        string("key")
        if "value" not in condition or not _is_scalar(condition["value"]):
            raise bad_json(
                f"A {kind} condition needs a 'value': a string, an integer in the canonical "
                "JSON range, a boolean or null"
            )
    elif kind == "room_member_count":
        string("is")
    elif kind == "sender_notification_permission":
        string("key")
    return dict(condition)


def check_rule_id(rule_id: str) -> None:
    if is_server_default(rule_id):
        raise invalid_param("Push rule IDs starting with '.' are reserved for server-default rules")
    if "/" in rule_id or "\\" in rule_id:
        raise invalid_param("Push rule IDs cannot contain slashes or backslashes")
    if not rule_id:
        raise invalid_param("Push rule IDs cannot be empty")


def new_rule(kind: str, rule_id: str, body: Any) -> Json:
    """A user rule from a PUT body (pushrules.yaml ``setPushRule``)."""
    if kind == POSTCONTENT:
        # MSC4306: clients cannot create postcontent rules (Synapse refuses them so).
        raise invalid_param("User-defined rules using 'postcontent' are not accepted")
    if not isinstance(body, dict):
        raise bad_json("The push rule must be a JSON object")
    if "actions" not in body:
        raise bad_json("The push rule needs 'actions'")
    rule: Json = {"rule_id": rule_id, "actions": check_actions(body["actions"])}
    if kind in ("override", "underride"):
        conditions = body.get("conditions", [])
        if not isinstance(conditions, list):
            raise bad_json("'conditions' must be an array")
        rule["conditions"] = [check_condition(c) for c in conditions]
    elif kind == "content":
        if not isinstance(body.get("pattern"), str):
            raise bad_json("A content rule needs a string 'pattern'")
        rule["pattern"] = body["pattern"]
    # Room and sender rules take everything from their rule_id (the room or user ID);
    # like Synapse we do not check that the ID is well formed: a bad one never matches.
    return rule


# -- the ruleset -----------------------------------------------------------------------


def render_view(view: RuleView, user_id: str) -> Json:
    """One rule as clients get it (pushrules.yaml ``PushRule``)."""
    kind, rule = view.kind, view.rule
    out: Json = {
        "rule_id": view.rule_id,
        "default": view.default,
        "enabled": view.enabled,
        "actions": copy.deepcopy(view.actions),
    }
    if kind in WITH_CONDITIONS:
        out["conditions"] = [render_condition(c, user_id) for c in rule.get("conditions", [])]
    elif kind == "content":
        out["pattern"] = rule["pattern"]
    return out


def render_condition(condition: Json, user_id: str) -> Json:
    """A condition as the client sees it: the owner's ID in place of the placeholders."""
    out = {k: v for k, v in condition.items() if k not in ("pattern_type", "value_type")}
    if condition.get("pattern_type") == "user_id":
        out["pattern"] = user_id
    if condition.get("value_type") == "user_id":
        out["value"] = user_id
    return out


@dataclass(frozen=True)
class RuleView:
    """One rule as the evaluator sees it (defaults merged, placeholders kept)."""

    kind: str
    rule_id: str
    default: bool
    enabled: bool
    actions: list[Any]
    rule: Json


@dataclass(frozen=True)
class Ruleset:
    """A user's own rules per kind (priority order) and their changes to defaults."""

    own: Mapping[str, tuple[Json, ...]] = field(default_factory=dict)
    #: ``"kind/rule_id"`` -> ``{"enabled": bool}`` and/or ``{"actions": [...]}``.
    changed: Mapping[str, Json] = field(default_factory=dict)
    #: MSC4306's ``postcontent`` kind and its default rules are in the ruleset.
    thread_subscriptions: bool = False

    @property
    def kinds(self) -> tuple[str, ...]:
        return KINDS if self.thread_subscriptions else BASE_KINDS

    @property
    def is_default(self) -> bool:
        return not self.changed and not any(self.own.values())

    # -- reading -------------------------------------------------------------------------
    def rules(self, kind: str) -> list[RuleView]:
        """The rules of one kind in evaluation order: for override, the master rule,
        then the user's, then the other defaults; for the others, the user's first."""
        out: list[RuleView] = []
        own = [self._own_view(kind, r) for r in self.own.get(kind, ())]
        default_rules = [self._default_view(kind, r) for r in _defaults_of(kind)]
        if kind == "override":
            out.extend(default_rules[:1])
            out.extend(own)
            out.extend(default_rules[1:])
        else:
            out.extend(own)
            out.extend(default_rules)
        return out

    def all_rules(self) -> list[RuleView]:
        return [view for kind in self.kinds for view in self.rules(kind)]

    def _own_view(self, kind: str, rule: Json) -> RuleView:
        return RuleView(
            kind, rule["rule_id"], False, rule.get("enabled", True), rule["actions"], rule
        )

    def _default_view(self, kind: str, rule: Json) -> RuleView:
        change: Json = self.changed.get(f"{kind}/{rule['rule_id']}") or {}
        enabled = change.get("enabled")
        actions = change.get("actions")
        return RuleView(
            kind,
            rule["rule_id"],
            True,
            enabled if isinstance(enabled, bool) else rule["enabled"],
            actions if isinstance(actions, list) else rule["actions"],
            rule,
        )

    def find(self, kind: str, rule_id: str) -> RuleView:
        """The rule, or 404 M_NOT_FOUND."""
        check_kind(kind, self.kinds)
        for view in self.rules(kind):
            if view.rule_id == rule_id:
                return view
        raise not_found("The push rule was not found.")

    def render(self, user_id: str) -> Json:
        """The ``global`` ruleset as clients get it (pushrules.yaml ``push_ruleset``)."""
        return {kind: [render_view(v, user_id) for v in self.rules(kind)] for kind in self.kinds}

    def to_content(self, user_id: str) -> Json:
        """The ``m.push_rules`` account data content: the rendered ruleset (what /sync
        delivers to clients) plus the changes to defaults (what we read back)."""
        return {
            "global": self.render(user_id),
            CHANGED_DEFAULTS: copy.deepcopy(dict(self.changed)),
        }

    @classmethod
    def from_content(
        cls, content: Mapping[str, Any] | None, thread_subscriptions: bool = False
    ) -> Ruleset:
        """Read back what ``to_content`` stored; anything malformed is skipped."""
        if not content:
            return cls(thread_subscriptions=thread_subscriptions)
        rules = content.get("global")
        own: dict[str, tuple[Json, ...]] = {}
        if isinstance(rules, dict):
            for kind in BASE_KINDS:  # postcontent holds no user rules
                listed = rules.get(kind)
                if isinstance(listed, list):
                    own[kind] = tuple(_stored_rule(kind, r) for r in listed if _is_own(r))
        changed_raw = content.get(CHANGED_DEFAULTS)
        changed: dict[str, Json] = {}
        if isinstance(changed_raw, dict):
            changed = {k: v for k, v in changed_raw.items() if isinstance(v, dict)}
        return cls(own, changed, thread_subscriptions)

    # -- edits ---------------------------------------------------------------------------
    def with_rule(
        self, kind: str, rule_id: str, body: Any, before: str | None, after: str | None
    ) -> Ruleset:
        """PUT a user rule: create (most important of its kind unless placed) or
        replace (keeps its place and its ``enabled`` unless placed)."""
        check_kind(kind, self.kinds)
        check_rule_id(rule_id)
        rule = new_rule(kind, rule_id, body)
        rules = list(self.own.get(kind, ()))
        existing = next((i for i, r in enumerate(rules) if r["rule_id"] == rule_id), None)
        if existing is not None:
            rule["enabled"] = rules[existing].get("enabled", True)
        else:
            rule["enabled"] = True  # "When creating push rules, they MUST be enabled by default."
        anchor = before if before is not None else after
        if anchor is not None:
            # "If both after and before are provided, the new or updated rule must be
            # the next most important rule with respect to the rule identified by before."
            if is_server_default(anchor):
                raise invalid_param("A rule cannot be placed relative to a server-default rule")
            if anchor == rule_id:
                raise invalid_param("A rule cannot be placed relative to itself")
            if existing is not None:
                del rules[existing]
            index = next((i for i, r in enumerate(rules) if r["rule_id"] == anchor), None)
            if index is None:
                raise invalid_param(f"before/after rule not found: {anchor}")
            rules.insert(index if before is not None else index + 1, rule)
        elif existing is not None:
            rules[existing] = rule
        else:
            rules.insert(0, rule)
        return replace(self, own={**self.own, kind: tuple(rules)})

    def without_rule(self, kind: str, rule_id: str) -> Ruleset:
        view = self.find(kind, rule_id)
        if view.default:
            raise invalid_param("Server-default rules cannot be deleted")
        rules = tuple(r for r in self.own.get(kind, ()) if r["rule_id"] != rule_id)
        return replace(self, own={**self.own, kind: rules})

    def with_enabled(self, kind: str, rule_id: str, enabled: Any) -> Ruleset:
        if not isinstance(enabled, bool):
            raise bad_json("'enabled' must be a boolean")
        return self._with_field(kind, rule_id, "enabled", enabled)

    def with_actions(self, kind: str, rule_id: str, actions: Any) -> Ruleset:
        return self._with_field(kind, rule_id, "actions", check_actions(actions))

    def _with_field(self, kind: str, rule_id: str, name: str, value: Any) -> Ruleset:
        view = self.find(kind, rule_id)
        if view.default:
            where = f"{kind}/{rule_id}"
            change = {**self.changed.get(where, {}), name: value}
            return replace(self, changed={**self.changed, where: change})
        rules = tuple(
            {**r, name: value} if r["rule_id"] == rule_id else r for r in self.own.get(kind, ())
        )
        return replace(self, own={**self.own, kind: rules})


def _is_own(rule: Any) -> bool:
    return (
        isinstance(rule, dict)
        and isinstance(rule.get("rule_id"), str)
        and not is_server_default(rule["rule_id"])
        and isinstance(rule.get("actions"), list)
    )


def _stored_rule(kind: str, rendered: Json) -> Json:
    rule: Json = {
        "rule_id": rendered["rule_id"],
        "enabled": rendered.get("enabled", True) is not False,
        "actions": rendered["actions"],
    }
    if kind in WITH_CONDITIONS:
        conditions = rendered.get("conditions", [])
        rule["conditions"] = (
            [c for c in conditions if isinstance(c, dict)] if isinstance(conditions, list) else []
        )
    elif kind == "content":
        rule["pattern"] = (
            rendered.get("pattern") if isinstance(rendered.get("pattern"), str) else ""
        )
    return rule
