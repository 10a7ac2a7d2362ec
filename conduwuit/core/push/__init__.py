"""Push rules: the spec's default rules, a user's ruleset and its edits, evaluation.

Pure: plain data in, plain data out (client-server API "Push Notifications").
"""

from conduwuit.core.push.evaluate import (
    DEFAULT_RULESET,
    DEFAULT_THREAD_RULESET,
    Actions,
    CompiledRuleset,
    PushEvent,
    RoomContext,
    compile_ruleset,
)
from conduwuit.core.push.rules import KINDS, Ruleset

__all__ = [
    "DEFAULT_RULESET",
    "DEFAULT_THREAD_RULESET",
    "KINDS",
    "Actions",
    "CompiledRuleset",
    "PushEvent",
    "RoomContext",
    "Ruleset",
    "compile_ruleset",
]
