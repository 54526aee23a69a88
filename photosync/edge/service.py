"""Running edge passes as tracked jobs (command, beat task, demo all come through here)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from config.jobs import JobTrigger
from photosync.edge.agent import PassSummary
from photosync.edge.client import HOConfig
from photosync.edge.runner import EdgeSyncRunner
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
    run = EdgeSyncRunner.create(
        trigger=trigger, params={"full": full, "ho_url": config.url, "store_id": config.store_id}
    )
    EdgeSyncRunner.execute(run.pk, config=config, root=root, on_tick=progress)
    run.refresh_from_db()
    # A finished pass keeps its summary on the row; a pass that broke has only its message.
    summary = PassSummary(**run.result) if run.result else PassSummary(full=full, error=run.message)
    return run, summary
