"""The stale-job reaper frees a store whose queued job has no message (a crash between the
row's commit and the send, or a message the broker lost), for every kind of job."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from config.jobs import JobStatus, job_models, runner_for
from config.jobs.runner import NEVER_STARTED
from operations.reaper import reap_stale_jobs

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", job_models(), ids=lambda model: model._meta.label)
def test_a_queued_job_whose_message_is_gone_is_failed_and_its_store_freed(model, store, other_store, settings):
    runner = runner_for(model)
    settings.JOB_STALE_AFTER = 60
    stranded = runner.create(store=store)  # a row whose message was never sent
    model.objects.filter(pk=stranded.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    young = runner.create(store=other_store)  # its message may still be on its way

    assert reap_stale_jobs() == {model._meta.label: 1}

    stranded.refresh_from_db()
    young.refresh_from_db()
    assert (stranded.status, stranded.message) == (JobStatus.FAILED, NEVER_STARTED)
    assert young.status == JobStatus.QUEUED
    assert runner.create(store=store).status == JobStatus.QUEUED  # the store's slot is free again
