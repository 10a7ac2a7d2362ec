"""Prometheus metrics: request figures counted on the hot path, everything else read
from the live services when scraped (``allow_metrics``)."""

from conduwuit.service.metrics.registry import Metrics, MetricSources
from conduwuit.service.metrics.requests import RequestStats

__all__ = ["MetricSources", "Metrics", "RequestStats"]
