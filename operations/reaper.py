"""Fail jobs that can no longer finish, so a lost message never blocks a store for good.

A running job whose worker stopped reporting (no heartbeat for ``JOB_STALE_AFTER``) and a
queued job whose message never reached a worker within that time (Redis lost it, or no
worker consumes its queue) would otherwise keep the store's one active slot forever.
"""

import logging

from config.jobs import job_models, runner_for

logger = logging.getLogger(__name__)


def reap_stale_jobs() -> dict[str, int]:
    """Fail stale running and lost queued jobs of every job table; returns the count per table.

    Each table's runner decides whether a queued job is lost or waiting in line.
    """
    reaped = {}
    for model in job_models():
        count = runner_for(model).reap()
        if count:
            logger.warning("failed %s stale %s", count, model._meta.verbose_name_plural)
            reaped[model._meta.label] = count
    return reaped
