"""Dashboard sections of store sync: each store's last sync job, pending conflicts and dead letters."""

from config import dashboard
from storesync.constants import ConflictStatus
from storesync.models import DeadLetter, DeadLetterStatus, StoreSyncJob, SyncConflict

PENDING = ConflictStatus.PENDING.value


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
