"""Push: users' push rules (stored as account data) and their evaluation per event."""

from conduwuit.service.push.evaluator import PushEvaluator
from conduwuit.service.push.rules import PushRules

__all__ = ["PushEvaluator", "PushRules"]
