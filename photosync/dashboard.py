"""Dashboard sections of product photos: each store's last image sync and its edge coverage
(head office), and the last pull from head office (on an edge)."""

from django.conf import settings

from config import dashboard
from photosync.distribution import selectors
from photosync.models import EdgeStatusReport, EdgeSyncRun, ImageSyncRun, ProductPhoto


def coverage_cell(figures: selectors.EdgeCoverage) -> dashboard.Cell:
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
    empty=dashboard.Cell("no photos", tone=dashboard.MUTED),
    order=30,
)
dashboard.register_panel(
    "edge_pull", "Photos from head office", edge_pull_rows, permission="photosync.view_edgesyncrun", order=20
)
