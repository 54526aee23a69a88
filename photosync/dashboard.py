"""Dashboard sections of product photos: each store's last image sync and its edge coverage
(head office), and the last pull from head office (on an edge)."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from config import dashboard
from photosync.distribution import selectors
from photosync.models import EdgeStatusReport, EdgeSyncRun, EdgeSyncStatus, ImageSyncRun, ProductPhoto

NO_PHOTOS = dashboard.Cell("no photos", tone=dashboard.MUTED)


def coverage_cell(figures: selectors.EdgeCoverage) -> dashboard.Cell:
    if not figures.photos:
        return NO_PHOTOS  # nothing to cover is not "100%"
    if figures.failed:
        tone = dashboard.BAD
    elif figures.pending or figures.last_report_at is None:
        tone = dashboard.WARN
    else:
        tone = dashboard.OK
    reported = (
        f"last report {figures.last_report_at:%Y-%m-%d %H:%M} UTC" if figures.last_report_at else "never reported"
    )
    store_id = figures.store_id
    return dashboard.Cell(
        f"{figures.percentage:.1f}%",
        url=dashboard.changelist_url(ProductPhoto, store__id__exact=store_id, edge_confirmed="no"),
        tone=tone,
        note=f"{figures.synced}/{figures.photos} synced, {figures.failed} failed; {reported}",
        links=(("reports", dashboard.changelist_url(EdgeStatusReport, store__id__exact=store_id)),),
    )


def edge_coverage(stores):
    coverage = selectors.edge_coverage_by_store([s.pk for s in stores])
    return {store_id: coverage_cell(figures) for store_id, figures in coverage.items()}


def edge_pull_rows():
    """On an edge: its last pass pulling photos from head office (its runs belong to no store)."""
    if not settings.EDGE_MODE:
        return []
    run = EdgeSyncRun.objects.only(*dashboard.JOB_FIELDS).first()
    all_url = dashboard.changelist_url(EdgeSyncRun)
    return [("Last pull", dashboard.job_cell(run, all_url=all_url) if run else dashboard.NONE)]


dashboard.register_column(
    "image_sync",
    "Image sync",
    lambda stores: dashboard.last_job_cells(ImageSyncRun, stores),
    permission="photosync.view_imagesyncrun",
    order=20,
)
dashboard.register_column(
    "edge_coverage",
    "Edge coverage",
    edge_coverage,
    permission="photosync.view_edgestatusreport",
    empty=NO_PHOTOS,
    order=30,
)


def silent_edges(scope):
    """Stores whose edge reported before but not for ``CONSOLE_EDGE_SILENT_HOURS``."""
    cutoff = timezone.now() - timedelta(hours=settings.CONSOLE_EDGE_SILENT_HOURS)
    coverage = selectors.edge_coverage_by_store(scope.stores if scope.hub else [scope.store_id])
    silent = sorted(
        (figures for figures in coverage.values() if figures.last_report_at and figures.last_report_at < cutoff),
        key=lambda figures: figures.last_report_at,
    )
    codes = (
        dict(scope.stores.filter(pk__in=[f.store_id for f in silent[:3]]).values_list("pk", "code")) if silent else {}
    )
    note = "; ".join(f"{codes.get(f.store_id)}: last report {f.last_report_at:%m-%d %H:%M} UTC" for f in silent[:3])
    url = scope.url(EdgeStatusReport)
    return [dashboard.Attention("Edges silent", len(silent), url, "Not reporting", note=note)]


def coverage_by_day(scope, ends):
    """The share of live photos whose edge had stored them by each day's end: photos created
    and not deleted by then, against their reports ``synced`` by then. A report keeps only
    its photo's newest state, so a photo synced then failed later counts as never synced."""

    def live_at(end, prefix=""):
        return Q(**{f"{prefix}created_at__lte": end}) & (
            Q(**{f"{prefix}deleted_at__isnull": True}) | Q(**{f"{prefix}deleted_at__gt": end})
        )

    photos = scope.of(ProductPhoto.objects.all()).aggregate(
        **{f"d{n}": Count("pk", filter=live_at(end)) for n, end in enumerate(ends)}
    )
    if not any(photos.values()):
        return None
    synced = scope.of(EdgeStatusReport.objects.filter(status=EdgeSyncStatus.SYNCED)).aggregate(
        **{f"d{n}": Count("pk", filter=Q(synced_at__lte=end) & live_at(end, "photo__")) for n, end in enumerate(ends)}
    )
    values = [round(100.0 * synced[f"d{n}"] / photos[f"d{n}"], 1) if photos[f"d{n}"] else 0.0 for n in range(len(ends))]
    return [("Edge coverage (% of live photos)", values, "#16a34a")]


dashboard.register_job_table(ImageSyncRun, "Image sync", permission="photosync.view_imagesyncrun", order=20)
dashboard.register_job_table(
    EdgeSyncRun, "Pull from head office", permission="photosync.view_edgesyncrun", order=70, hub_wide=True
)
dashboard.register_attention("silent_edges", silent_edges, permission="photosync.view_edgestatusreport", order=50)
dashboard.register_daily_chart(
    "edge_coverage", "Edge coverage, 7 days", coverage_by_day, permission="photosync.view_edgestatusreport", order=20
)
dashboard.register_store_link(
    "photosync_photos",
    "Photos",
    lambda pk: dashboard.changelist_url(ProductPhoto, store__id__exact=pk),
    permission="photosync.view_productphoto",
    order=30,
)
dashboard.register_store_link(
    "photosync_runs",
    "Image syncs",
    lambda pk: dashboard.changelist_url(ImageSyncRun, store__id__exact=pk),
    permission="photosync.view_imagesyncrun",
    order=31,
)
dashboard.register_store_link(
    "photosync_reports",
    "Edge reports",
    lambda pk: dashboard.changelist_url(EdgeStatusReport, store__id__exact=pk),
    permission="photosync.view_edgestatusreport",
    order=32,
)
dashboard.register_panel(
    "edge_pull", "Photos from head office", edge_pull_rows, permission="photosync.view_edgesyncrun", order=20
)
