"""What the product photos add to ``/metrics`` (registered in ``PhotosyncConfig.ready``)."""

from django.db import DatabaseError
from django.db.models import Count, F
from prometheus_client.core import GaugeMetricFamily

from photosync.models import EdgeStatusReport, ProductPhoto


def collect():
    coverage = GaugeMetricFamily(
        "rsh_edge_photo_coverage_ratio",
        "Share of a store's current photos its edge reports synced at their version.",
        labels=["store_id"],
    )
    try:
        totals = dict(
            ProductPhoto.objects.filter(deleted_at=None).values_list("store_id").annotate(n=Count("id")).order_by()
        )
        synced = dict(
            EdgeStatusReport.objects.filter(status="synced", version=F("photo__version"), photo__deleted_at=None)
            .values_list("store_id")
            .annotate(n=Count("id"))
            .order_by()
        )
    except DatabaseError:  # edge reports not migrated yet
        return
    for store_id, total in sorted(totals.items()):
        coverage.add_metric([str(store_id)], synced.get(store_id, 0) / total if total else 1.0)
    yield coverage
