"""The Prometheus collectors registry: each app registers what it counts; ``operations`` serves ``/metrics``.

A collector is a function that yields ``prometheus_client`` metric families, read from the
database at scrape time (web processes and workers are separate, so in-process counters
would each see a part; the database sees everything). Apps register theirs in
``AppConfig.ready()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily, Metric

Collect = Callable[[], Iterable[Metric]]

_collectors: dict[str, Collect] = {}


def register_collector(key: str, collect: Collect) -> None:
    """Add (or replace, by key) a collector."""
    _collectors[key] = collect


def collectors() -> list[Collect]:
    return [collect for _key, collect in sorted(_collectors.items())]


def counts_by(name: str, documentation: str, queryset, field: str) -> GaugeMetricFamily:
    """A gauge of ``queryset`` grouped by ``field``: one aggregate query."""
    family = GaugeMetricFamily(name, documentation, labels=[field])
    for row in queryset.values(field).annotate(n=Count("pk")).order_by():
        family.add_metric([str(row[field])], row["n"])
    return family
