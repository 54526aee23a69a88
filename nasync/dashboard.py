"""Dashboard panel of NAS documents (hub-wide: documents belong to no store): the last NAS
run and the documents waiting for the NAS, by state."""

from django.db.models import Count, Q
from django.urls import reverse

from config import dashboard
from config.jobs import JobStatus
from nasync.config import load_config
from nasync.models import Document, NasSyncRun, SyncState


def nas_rows():
    counts = Document.objects.filter(synced_to_nas=False).aggregate(
        unsynced=Count("pk"),
        pending=Count("pk", filter=Q(held_for_operator=False, sync_error="")),
        failed=Count("pk", filter=Q(held_for_operator=False) & ~Q(sync_error="")),
        held=Count("pk", filter=Q(held_for_operator=True)),
    )
    run = NasSyncRun.objects.only(*dashboard.JOB_FIELDS).first()
    runs_url = dashboard.changelist_url(NasSyncRun)
    rows = [("Last NAS run", dashboard.job_cell(run, all_url=runs_url) if run else dashboard.NONE)]
    tones = {"pending": dashboard.WARN, "failed": dashboard.WARN, "held": dashboard.BAD}
    rows.append(
        (
            "Not yet on the NAS",
            dashboard.Cell(
                str(counts["unsynced"]),
                url=dashboard.changelist_url(Document, synced_to_nas__exact=0),
                tone=dashboard.WARN if counts["unsynced"] else dashboard.OK,
            ),
        )
    )
    for state in (SyncState.PENDING, SyncState.FAILED, SyncState.HELD):
        n = counts[state.value]
        rows.append(
            (
                f"… {state.label.lower()}",
                dashboard.Cell(
                    str(n),
                    url=dashboard.changelist_url(Document, state=state.value),
                    tone=tones[state.value] if n else dashboard.OK,
                ),
            )
        )
    return rows


dashboard.register_panel(
    "nas",
    "NAS documents",
    nas_rows,
    permission="nasync.view_document",
    order=10,
    links=(("NAS configuration", "admin:nasync_nas_config"),),
)


def nas_attention(scope):
    """The NAS when it cannot work (not configured, a bad setting, an unreadable key), its last
    run failed, or documents failed or are held for an operator."""
    items = []
    problem = load_config().problem()
    if problem is not None:
        url = reverse("admin:nasync_nas_config")
        items.append(dashboard.Attention("NAS not ready", 1, url, "Not configured", note=problem.text()))
    last = NasSyncRun.objects.only("status", "finished_at", "message").first()
    if last is not None and last.status == JobStatus.FAILED:
        when = f"{last.finished_at:%m-%d %H:%M} UTC" if last.finished_at else ""
        items.append(
            dashboard.Attention(
                "Last NAS run failed", 1, dashboard.change_url(last), "Failed", tone=dashboard.BAD, note=when
            )
        )
    counts = Document.objects.filter(synced_to_nas=False).aggregate(
        failed=Count("pk", filter=Q(held_for_operator=False) & ~Q(sync_error="")),
        held=Count("pk", filter=Q(held_for_operator=True)),
    )
    for state, tone in ((SyncState.FAILED, dashboard.WARN), (SyncState.HELD, dashboard.BAD)):
        items.append(
            dashboard.Attention(
                f"NAS documents {state.value}",
                counts[state.value],
                dashboard.changelist_url(Document, state=state.value),
                state.label,
                tone=tone,
            )
        )
    return items


def backlog_by_day(scope, ends):
    """Documents not yet on the NAS at each day's end: created by then, and not synced by then
    (``synced_at`` empty or later). One query."""
    counts = Document.objects.aggregate(
        **{
            f"d{n}": Count("pk", filter=Q(created_at__lte=end) & (Q(synced_at__isnull=True) | Q(synced_at__gt=end)))
            for n, end in enumerate(ends)
        }
    )
    return [("Documents not yet on the NAS", [counts[f"d{n}"] for n in range(len(ends))], "#2563eb")]


dashboard.register_job_table(NasSyncRun, "NAS sync", permission="nasync.view_nassyncrun", order=60, hub_wide=True)
dashboard.register_attention("nas", nas_attention, permission="nasync.view_document", order=40, hub_only=True)
dashboard.register_daily_chart(
    "nas_backlog", "NAS backlog, 7 days", backlog_by_day, permission="nasync.view_document", order=10, hub_only=True
)
