"""Reads about photo distribution: a store's photo feed for its edge, and edge coverage.

``edge_coverage(store)`` is the figure the admin coverage page and the operator dashboard
show: how many of the store's live photos its edge has confirmed at their current version.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from django.db.models import Count, F, Max, Q, QuerySet

# Django 5.2's row-value lookups (used by composite primary keys).
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan

from photosync.models import EdgeStatusReport, EdgeSyncStatus, ProductPhoto


def photo_feed(store, *, since: datetime | None = None) -> QuerySet[ProductPhoto]:
    """The store's photos in feed order (``updated_at``, ``id``): live ones, plus, with
    ``since``, the tombstones of photos deleted since then."""
    queryset = ProductPhoto.objects.filter(store=store)
    if since is None:
        queryset = queryset.filter(deleted_at__isnull=True)
    else:
        queryset = queryset.filter(updated_at__gte=since)
    return queryset.order_by("updated_at", "id")


def live_photo(stores: QuerySet, photo_id) -> ProductPhoto | None:
    """The live photo ``photo_id`` if it belongs to one of ``stores`` (a queryset, kept as a
    subquery: one query), with the fields a download reads."""
    found = ProductPhoto.objects.filter(pk=photo_id, store__in=stores, deleted_at__isnull=True).only(
        "object_key", "filename", "size", "content_type", "checksum", "version", "renditions"
    )
    return next(iter(found.order_by()[:1]), None)  # by primary key: no ordering to pay for


def after_position(queryset: QuerySet[ProductPhoto], updated_at: datetime, photo_id) -> QuerySet[ProductPhoto]:
    """Keyset: the rows after (updated_at, id), as the row comparison ``(updated_at, id) > (…)``
    that PostgreSQL uses as an index condition on (store, updated_at, id), so many photos
    sharing one ``updated_at`` (a bulk change) cost nothing more; other backends get the
    equivalent OR form from Django."""
    return queryset.filter(TupleGreaterThan(Tuple(F("updated_at"), F("id")), (updated_at, photo_id)))


@dataclass(frozen=True)
class EdgeCoverage:
    """One store's edge coverage: live photos and what its edge reported about them.

    ``synced`` and ``failed`` count reports about the photo's *current* version; every
    other live photo (no report, a ``pending`` one, or one about an older version) is
    ``pending``. ``last_report_at`` is the newest report of the store's edge (None: never).
    """

    store_id: int
    photos: int
    synced: int
    failed: int
    pending: int
    last_report_at: datetime | None

    @property
    def percentage(self) -> float:
        return round(100.0 * self.synced / self.photos, 1) if self.photos else 100.0

    def as_dict(self) -> dict:
        return asdict(self) | {"percentage": self.percentage}


def _current(status: str) -> Q:
    return Q(edge_reports__status=status, edge_reports__version=F("version"))


def edge_coverage_by_store(stores=None) -> dict[int, EdgeCoverage]:
    """``{store_id: EdgeCoverage}`` for the given stores (a queryset or ids; None: all), two queries."""
    photos = ProductPhoto.objects.filter(deleted_at__isnull=True)
    reports = EdgeStatusReport.objects.all()
    if stores is not None:
        photos, reports = photos.filter(store__in=stores), reports.filter(store__in=stores)
    rows = photos.values("store_id").annotate(
        total=Count("id"),
        synced=Count("id", filter=_current(EdgeSyncStatus.SYNCED)),
        failed=Count("id", filter=_current(EdgeSyncStatus.FAILED)),
    )
    last = dict(reports.values("store_id").annotate(last=Max("reported_at")).values_list("store_id", "last"))
    coverage = {}
    for row in rows:
        store_id = row["store_id"]
        coverage[store_id] = EdgeCoverage(
            store_id=store_id,
            photos=row["total"],
            synced=row["synced"],
            failed=row["failed"],
            pending=row["total"] - row["synced"] - row["failed"],
            last_report_at=last.get(store_id),
        )
    for store_id, last_at in last.items():
        coverage.setdefault(store_id, EdgeCoverage(store_id, 0, 0, 0, 0, last_at))
    return coverage


def edge_coverage(store) -> EdgeCoverage:
    """One store's coverage (a store without photos or reports has all zeros)."""
    found = edge_coverage_by_store([store.pk]).get(store.pk)
    return found or EdgeCoverage(store.pk, 0, 0, 0, 0, None)


def unconfirmed_photos(store) -> QuerySet[ProductPhoto]:
    """The store's live photos its edge has not confirmed as synced at their current version."""
    confirmed = EdgeStatusReport.objects.filter(
        store=store, status=EdgeSyncStatus.SYNCED, photo_id=F("photo__id"), version=F("photo__version")
    ).values("photo_id")
    return (
        ProductPhoto.objects.filter(store=store, deleted_at__isnull=True)
        .exclude(pk__in=confirmed)
        .order_by("updated_at", "id")
    )
