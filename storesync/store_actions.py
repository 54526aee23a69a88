"""The store page's sync actions (sync now, full sync, pause, resume, requeue the owed records),
added to catalog's StoreAdmin as detail actions; each is one call of ``storesync.services``."""

from catalog.admin import StoreAdmin
from config.jobs import JobTrigger
from storesync import services
from storesync.constants import SyncType
from storesync.models import DeadLetter


def sync_now(store, user) -> str:
    job = services.trigger_sync(store, trigger=JobTrigger.ADMIN, user=user)
    return f"sync queued ({job.pk})."


def full_sync(store, user) -> str:
    job = services.trigger_sync(store, sync_type=SyncType.FULL, trigger=JobTrigger.ADMIN, user=user)
    return f"full sync queued ({job.pk})."


def pause(store, user) -> str:
    _, cancelled = services.pause_sync(store)
    return f"sync paused ({cancelled} waiting job(s) cancelled)."


def resume(store, user) -> str:
    services.resume_sync(store)
    return "sync resumed."


def requeue(store, user) -> str:
    jobs = services.requeue_dead_letters(DeadLetter.objects.owed().filter(store=store), user=user)
    return f"owed records requeued in {len(jobs)} job(s)." if jobs else "no owed record to requeue."


for name, run, description, confirm, icon in (
    ("sync_now", sync_now, "Sync now", "Queue an incremental sync of this store.", "sync"),
    ("full_sync", full_sync, "Full sync", "Queue a full sync: every record compared again.", "sync_alt"),
    ("pause_sync", pause, "Pause sync", "Cancel waiting syncs; a running one stops after its batch.", "pause"),
    ("resume_sync", resume, "Resume sync", "Sync again from where it stopped.", "play_arrow"),
    ("requeue_owed", requeue, "Requeue owed records", "Sync the dead letters' records again.", "replay"),
):
    StoreAdmin.add_detail_action(
        name,
        run,
        description=description,
        confirm=confirm,
        icon=icon,
        permission="storesync.change_syncconfig",
        group="Sync actions",
    )
