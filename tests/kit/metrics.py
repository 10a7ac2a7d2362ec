"""Reading a /metrics scrape with Prometheus's own text parser."""

from __future__ import annotations

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

Families = dict[str, Metric]


def parse(text: str) -> Families:
    """Every family of a scrape by name (counters without their ``_total``)."""
    return {family.name: family for family in text_string_to_metric_families(text)}


def value(families: Families, family: str, sample: str | None = None, **labels: str) -> float:
    """The value of the sample ``sample`` (default: the family's own, ``_total`` for a
    counter) of ``family`` whose labels include ``labels``; 0 if there is none (a
    series not born yet)."""
    name = sample or (f"{family}_total" if families[family].type == "counter" else family)
    found = [
        s.value
        for s in families[family].samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(found) <= 1, (family, name, labels, found)
    return found[0] if found else 0.0
