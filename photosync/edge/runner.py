"""An edge pass as a tracked job (``EdgeSyncRun``): the job runner of the edge agent.

A pass runs in the process that asks for it (the command, the beat task, the demo): it
needs the head office's credentials, which are never written to the job row.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from config.error_codes import ErrorCode
from config.jobs import JobRunner, JobStatus
from photosync.edge.agent import EdgePass
from photosync.edge.client import HOClient, HOConfig
from photosync.models import EdgeSyncRun

COUNTERS = ("downloaded", "unchanged", "deleted", "bytes")


class EdgeSyncRunner(JobRunner):
    model = EdgeSyncRun
    kind = EdgeSyncRun.KIND
    task_name = ""  # never queued: see the module's docstring

    def __init__(
        self,
        job: EdgeSyncRun,
        *,
        config: HOConfig | None = None,
        root: Path | None = None,
        on_tick: Callable[[int, int], None] | None = None,
    ) -> None:
        super().__init__(job)
        self.config = config
        self.root = root
        self.on_tick = on_tick

    def run(self) -> None:
        full = bool(self.job.params.get("full"))
        with HOClient(self.config or HOConfig.from_settings()) as client:
            summary = EdgePass(client, root=self.root, full=full, progress=self.on_tick).run()
        self.progress(
            total=summary.listed,
            processed=summary.listed,
            succeeded=summary.listed - summary.failed,
            failed=summary.failed,
            counters={name: getattr(summary, name) for name in COUNTERS},
            errors=summary.errors,
        )
        status = JobStatus.SUCCEEDED if summary.ok else (JobStatus.PARTIAL if summary.complete else JobStatus.FAILED)
        # An incomplete pass stopped on head office (unreachable, or an answer the agent cannot use).
        error_code = ErrorCode.NETWORK_ERROR if status == JobStatus.FAILED else ""
        self.finish(status=status, message=summary.line(), result=summary.as_dict(), error_code=error_code)
