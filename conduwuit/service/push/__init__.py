"""Push: users' push rules (stored as account data), their evaluation per event, and
the notifications and unread counts it produces."""

from conduwuit.service.push.evaluator import PushEvaluator
from conduwuit.service.push.notifications import Notifications
from conduwuit.service.push.rules import PushRules

__all__ = ["Notifications", "PushEvaluator", "PushRules"]
