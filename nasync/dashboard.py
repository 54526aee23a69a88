"""Dashboard panel of NAS documents (hub-wide: documents belong to no store): the last NAS
run and the documents waiting for the NAS, by state."""

from django.db.models import Count, Q

from config import dashboard
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
