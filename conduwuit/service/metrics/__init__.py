"""Prometheus metrics: request figures counted on the hot path, everything else read
from the live services when scraped (``allow_metrics``).

The package's root exports only :class:`RequestStats`, which imports no
prometheus_client: the registry and collectors (``registry``, ``collectors``) are
imported by the composition root only when the metrics are on, so a server without
them never loads prometheus_client (issue 21).
"""

from conduwuit.service.metrics.requests import RequestStats

__all__ = ["RequestStats"]
