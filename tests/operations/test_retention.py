from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from catalog.models import ImportRun
from config.jobs import JobStatus, lock_key_for
from operations.retention import prune, prune_preview

pytestmark = pytest.mark.django_db


def make_job(store, *, status, finished_days_ago=None, kind="k"):
    finished = timezone.now() - timedelta(days=finished_days_ago) if finished_days_ago is not None else None
    return ImportRun.objects.create(
        kind=kind,
        store=store,
        lock_key=lock_key_for(f"{kind}-{status}-{finished_days_ago}", store),
        status=status,
        finished_at=finished,
    )


def test_prune_deletes_only_old_finished_jobs_in_batches(store, settings):
    settings.RETENTION_DAYS = 30
    old = [make_job(store, status=JobStatus.SUCCEEDED, finished_days_ago=40, kind=f"old{i}") for i in range(5)]
    failed_old = make_job(store, status=JobStatus.FAILED, finished_days_ago=31)
    recent = make_job(store, status=JobStatus.SUCCEEDED, finished_days_ago=2)
    running = make_job(store, status=JobStatus.RUNNING)
    assert prune_preview()["catalog import runs"] == 6
    assert prune(batch_size=2)["catalog import runs"] == 6
    remaining = set(ImportRun.objects.values_list("pk", flat=True))
    assert remaining == {recent.pk, running.pk}
    assert not any(ImportRun.objects.filter(pk=job.pk).exists() for job in [*old, failed_old])


def test_prune_command_dry_run_deletes_nothing(store, settings, capsys):
    settings.RETENTION_DAYS = 1
    make_job(store, status=JobStatus.SUCCEEDED, finished_days_ago=3)
    call_command("prune", "--dry-run")
    assert "catalog import runs: would delete 1" in capsys.readouterr().out
    assert ImportRun.objects.count() == 1
    call_command("prune")
    assert ImportRun.objects.count() == 0


def test_prune_is_scheduled_nightly_and_editable():
    task = PeriodicTask.objects.get(task="config.retention.prune")
    assert task.enabled and task.crontab.hour == "3"
