"""The beat dispatcher, driven with a controlled clock: one periodic task queues the stores
whose frequency says a sync is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django_celery_beat.models import PeriodicTask

from config.jobs import JobStatus, finish_job
from storesync import services
from storesync.models import StoreSyncJob, SyncEntity
from tests.storesync.conftest import configure

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)


@pytest.fixture
def stores(make_store, sim):
    def store(code, frequency):
        made = make_store(code, platform="prestashop", platform_url=sim.url, platform_api_key=sim.api_key)
        configure(made, products={}, frequency=frequency)
        return made

    return {name: store(name, name) for name in ("real_time", "high", "medium", "low", "manual")}


def queued(at: datetime) -> set[str]:
    """Run the dispatcher at ``at``; the codes of the stores it queued."""
    before = set(StoreSyncJob.objects.values_list("pk", flat=True))
    services.dispatch_due_syncs(now=at)
    return set(StoreSyncJob.objects.exclude(pk__in=before).values_list("store__code", flat=True))


def finish_all() -> None:
    for job in StoreSyncJob.objects.filter(status=JobStatus.QUEUED):
        finish_job(job, status=JobStatus.SUCCEEDED)


def test_one_periodic_task_runs_the_dispatcher_every_minute(stores, make_store, sim):
    task = PeriodicTask.objects.get(task="storesync.tasks.dispatch_due_syncs")
    assert task.enabled and task.interval.every == 60 and task.interval.period == "seconds"
    # Not one periodic task per store: configuring and scheduling another store adds none.
    periodic = PeriodicTask.objects.count()
    extra = make_store("extra", platform="prestashop", platform_url=sim.url, platform_api_key=sim.api_key)
    configure(extra, products={}, frequency="high")
    assert "extra" in queued(T0)
    assert PeriodicTask.objects.count() == periodic


def test_stores_are_queued_when_their_frequency_says_so(stores):
    assert queued(T0) == {"real_time", "high", "medium", "low"}  # manual: never
    job = StoreSyncJob.objects.get(store__code="high")
    assert (job.trigger, job.sync_type, job.priority) == ("schedule", "incremental", "normal")
    assert queued(T0 + timedelta(minutes=1)) == set()  # each store already has one waiting
    finish_all()
    assert queued(T0 + timedelta(minutes=1)) == {"real_time"}
    finish_all()
    assert queued(T0 + timedelta(minutes=4)) == {"real_time"}
    finish_all()
    assert queued(T0 + timedelta(minutes=4, seconds=55)) == {"high", "real_time"}  # a tick a little early counts
    finish_all()
    assert queued(T0 + timedelta(minutes=59)) == {"real_time", "high"}
    finish_all()
    assert queued(T0 + timedelta(hours=1)) == {"medium", "real_time"}
    finish_all()
    assert queued(T0 + timedelta(hours=23, minutes=59)) >= {"real_time", "high", "medium"}
    finish_all()
    assert "low" in queued(T0 + timedelta(days=1))
    assert not StoreSyncJob.objects.filter(store__code="manual").exists()


def test_paused_and_inactive_stores_are_not_scheduled(stores):
    services.pause_sync(stores["high"])
    stores["medium"].is_active = False
    stores["medium"].save()
    assert queued(T0) == {"real_time", "low"}
    finish_all()
    services.resume_sync(stores["high"])
    assert "high" in queued(T0 + timedelta(seconds=30))  # due at once after a resume


def test_a_scheduled_sync_is_full_once_a_day(stores, settings):
    settings.STORESYNC_FULL_SYNC_HOURS = 24
    entity = SyncEntity.objects.get(config__store=stores["high"])
    entity.last_sync_at = T0
    entity.last_full_sync_at = T0 - timedelta(hours=25)
    entity.save()
    queued(T0)
    assert StoreSyncJob.objects.get(store=stores["high"]).sync_type == "full"
    assert StoreSyncJob.objects.get(store=stores["low"]).sync_type == "incremental"  # never synced yet


def test_a_waiting_job_whose_message_was_lost_is_sent_again(stores, settings):
    settings.STORESYNC_KICK_AFTER = 60
    job = services.trigger_sync(stores["manual"])
    StoreSyncJob.objects.filter(pk=job.pk).update(heartbeat_at=T0 - timedelta(minutes=5))
    result = services.dispatch_due_syncs(now=T0)
    assert result["kicked"] == 1
    job.refresh_from_db()
    assert job.heartbeat_at > T0 - timedelta(minutes=5)
