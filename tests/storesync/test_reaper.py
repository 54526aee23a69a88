"""The stale-job reaper and a store's line of waiting syncs: a sync queued behind an active
one is waiting, not lost (``StoreSyncRunner.queued_job_is_lost``)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from config.jobs import JobStatus
from operations.reaper import reap_stale_jobs
from storesync import services
from storesync.models import StoreSyncJob
from tests.storesync.conftest import configure

pytestmark = pytest.mark.django_db


def _age(job: StoreSyncJob, seconds: float, **fields) -> None:
    StoreSyncJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(seconds=seconds), **fields)


def test_a_sync_queued_behind_a_running_one_is_not_reaped(shop_store, settings):
    configure(shop_store, products={})
    running = services.trigger_sync(shop_store, send=False)
    waiting = services.trigger_sync(shop_store, send=False)
    old = settings.JOB_STALE_AFTER + 60
    _age(running, old, status=JobStatus.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now())
    _age(waiting, old)

    reap_stale_jobs()

    running.refresh_from_db()
    waiting.refresh_from_db()
    assert running.status == JobStatus.RUNNING  # it reports: not stale
    assert waiting.status == JobStatus.QUEUED  # it waits its turn: not lost


def test_a_sync_queued_behind_a_lost_one_waits_and_the_lost_one_is_reaped(shop_store, settings):
    configure(shop_store, products={})
    lost = services.trigger_sync(shop_store, send=False)
    behind = services.trigger_sync(shop_store, send=False)
    old = settings.JOB_STALE_AFTER + 60
    _age(lost, old + 1)
    _age(behind, old)

    reap_stale_jobs()

    lost.refresh_from_db()
    behind.refresh_from_db()
    assert lost.status == JobStatus.FAILED  # the head of the line never started: its message was lost
    assert behind.status == JobStatus.QUEUED  # next in line from now on


def test_the_head_of_the_line_is_lost_when_it_does_not_start_after_the_previous_sync_ended(shop_store, settings):
    configure(shop_store, products={})
    done = services.trigger_sync(shop_store, send=False)
    head = services.trigger_sync(shop_store, send=False)
    old = settings.JOB_STALE_AFTER + 60
    ended = timezone.now() - timedelta(seconds=old - 30)
    _age(done, old + 60, status=JobStatus.SUCCEEDED, started_at=ended, finished_at=ended)
    _age(head, old + 30)

    reap_stale_jobs()

    head.refresh_from_db()
    assert head.status == JobStatus.FAILED and head.error_code == "INTERNAL_ERROR"
