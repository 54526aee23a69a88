"""Dashboard sections of store sync: each store's last sync job, pending conflicts and dead
letters; what waits for a person (conflicts, owed records, open alerts); conflicts and dead
letters per hour; the store page's links to its sync."""

from django.db.models import Count

from config import dashboard
from config.jobs import JobStatus
from storesync.constants import ConflictStatus
from storesync.health.models import Alert, AlertStatus
from storesync.models import OWED_STATUSES, DeadLetter, DeadLetterStatus, StoreSyncJob, SyncConfig, SyncConflict

PENDING = ConflictStatus.PENDING.value
OWED = ",".join(str(status) for status in OWED_STATUSES)


def pending_conflicts(stores):
    return dashboard.count_cells(
        SyncConflict.objects.filter(status=PENDING),
        stores,
        url=lambda pk: dashboard.changelist_url(SyncConflict, store__id__exact=pk, status__exact=PENDING),
    )


def dead_letters(stores):
    return dashboard.count_cells(
        DeadLetter.objects.filter(status=DeadLetterStatus.PENDING),
        stores,
        tone=dashboard.BAD,
        url=lambda pk: dashboard.changelist_url(
            DeadLetter, store__id__exact=pk, status__exact=DeadLetterStatus.PENDING.value
        ),
    )


def _spread(queryset) -> tuple[int, int]:
    """(rows, stores) in one query."""
    counts = queryset.aggregate(rows=Count("pk"), stores=Count("store_id", distinct=True))
    return counts["rows"], counts["stores"]


def _in_stores(scope, n: int) -> str:
    return "" if not scope.hub else f"in {dashboard.plural(n, 'store')}"


def conflicts_waiting(scope):
    rows, stores = _spread(scope.of(SyncConflict.objects.filter(status=PENDING)))
    url = scope.url(SyncConflict, status__exact=PENDING)
    return [dashboard.Attention("Pending conflicts", rows, url, "Pending", note=_in_stores(scope, stores))]


def records_owed(scope):
    rows, stores = _spread(scope.of(DeadLetter.objects.owed()))
    url = scope.url(DeadLetter, status__in=OWED)
    note = " ".join(filter(None, ["writes that failed, retried by every sync", _in_stores(scope, stores)]))
    return [dashboard.Attention("Dead letters (owed records)", rows, url, "Owed", tone=dashboard.BAD, note=note)]


def open_alerts(scope):
    alerts = scope.of(Alert.objects.filter(status=AlertStatus.OPEN))
    count = alerts.count()
    if not count:
        return []
    alerts = alerts.select_related("rule", "store").only("rule__name", "store__code")
    note = "; ".join(f"{alert.store.code}: {alert.rule.name}" for alert in alerts[:3])
    url = scope.url(Alert, status__exact=AlertStatus.OPEN.value)
    return [dashboard.Attention("Open alerts", count, url, "Open", tone=dashboard.BAD, note=note)]


def held_jobs(scope):
    jobs = scope.of(StoreSyncJob.objects.filter(status=JobStatus.HELD))
    rows, stores = _spread(jobs)
    url = scope.url(StoreSyncJob, status__exact=JobStatus.HELD.value)
    note = " ".join(filter(None, ["held by the mass-change brake: approve or reject", _in_stores(scope, stores)]))
    return [dashboard.Attention("Held sync jobs", rows, url, "Held", tone=dashboard.BAD, note=note)] if rows else []


def hourly(model, **filters):
    return lambda scope, since: dashboard.hourly_counts(scope.of(model.objects.filter(**filters)), "created_at", since)


dashboard.register_column(
    "store_sync",
    "Store sync",
    lambda stores: dashboard.last_job_cells(StoreSyncJob, stores),
    permission="storesync.view_storesyncjob",
    order=40,
)
dashboard.register_column(
    "conflicts", "Pending conflicts", pending_conflicts, permission="storesync.view_syncconflict", order=50
)
dashboard.register_column(
    "dead_letters", "Dead letters", dead_letters, permission="storesync.view_deadletter", order=60
)
dashboard.register_job_table(StoreSyncJob, "Store sync", permission="storesync.view_storesyncjob", order=40)
dashboard.register_attention("conflicts", conflicts_waiting, permission="storesync.view_syncconflict", order=20)
dashboard.register_attention("dead_letters", records_owed, permission="storesync.view_deadletter", order=30)
dashboard.register_attention("alerts", open_alerts, permission="storesync.view_alert", order=10)
dashboard.register_attention("held_jobs", held_jobs, permission="storesync.view_storesyncjob", order=15)
dashboard.register_series(
    "conflicts", "Conflicts", hourly(SyncConflict), colour="#d97706", permission="storesync.view_syncconflict"
)
dashboard.register_series(
    "dead_letters", "Dead letters", hourly(DeadLetter), colour="#7c3aed", permission="storesync.view_deadletter"
)
for key, label, model, filters, order in (
    ("syncconfig", "Sync configuration", SyncConfig, {}, 50),
    ("storesyncjob", "Store syncs", StoreSyncJob, {}, 51),
    ("syncconflict", "Pending conflicts", SyncConflict, {"status__exact": PENDING}, 52),
    ("deadletter", "Owed records (dead letters)", DeadLetter, {"status__in": OWED}, 53),
    ("alert", "Alerts", Alert, {}, 54),
):
    dashboard.register_store_link(
        f"storesync_{key}",
        label,
        lambda pk, model=model, filters=filters: dashboard.changelist_url(model, store__id__exact=pk, **filters),
        permission=f"storesync.view_{key}",
        order=order,
    )
