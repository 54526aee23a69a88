"""Running edge passes as tracked jobs (command, beat task, demo all come through here)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from config.jobs import JobStatus, JobTrigger, finish_job, record_progress, run_job, start_job
from photosync.edge.agent import EdgePass, PassSummary
from photosync.edge.client import HOClient, HOConfig
from photosync.models import EdgeSyncRun


def edge_sync_now(
    *,
    full: bool = False,
    trigger: str = JobTrigger.COMMAND,
    config: HOConfig | None = None,
    root: Path | str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[EdgeSyncRun, PassSummary]:
    """Run one pass in this process (``JobAlreadyRunning`` if a pass is active); returns the
    finished run and the pass's summary. HO settings by default."""
    config = config or HOConfig.from_settings()
    root = Path(root or settings.EDGE_PHOTO_ROOT)
    run = start_job(
        EdgeSyncRun,
        kind=EdgeSyncRun.KIND,
        trigger=trigger,
        params={"full": full, "ho_url": config.url, "store_id": config.store_id},
    )
    outcome: dict[str, PassSummary] = {}

    def work(job: EdgeSyncRun) -> None:
        with HOClient(config) as client:
            summary = EdgePass(client, root=root, full=full, progress=progress).run()
        outcome["summary"] = summary
        record_progress(
            job,
            total=summary.listed,
            processed=summary.listed,
            succeeded=summary.listed - summary.failed,
            failed=summary.failed,
            counters={name: getattr(summary, name) for name in ("downloaded", "unchanged", "deleted", "bytes")},
            errors=summary.errors,
        )
        status = JobStatus.SUCCEEDED if summary.ok else (JobStatus.PARTIAL if summary.complete else JobStatus.FAILED)
        finish_job(job, status=status, message=summary.line(), result=summary.as_dict())

    run_job(EdgeSyncRun, run.pk, work)
    run.refresh_from_db()
    summary = outcome.get("summary") or PassSummary(full=full, error=run.message)
    return run, summary
