"""The job row every app's run table inherits, its statuses and triggers, and the job errors."""

from __future__ import annotations

import uuid

from django.apps import apps
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.dispatch import Signal
from django.utils import timezone

from config.error_codes import ErrorCode
from config.errors import DomainError

MAX_RECORDED_ERRORS = 500

# Sent after every change of a job row (progress, status); the event stream listens.
job_changed = Signal()


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Partially succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    # Stopped before its first write, waiting for an operator (a store sync over its
    # mass-change brake): neither active nor finished.
    HELD = "held", "Held for approval"


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)


class JobTrigger(models.TextChoices):
    API = "api", "API"
    SCHEDULE = "schedule", "Schedule"
    WEBHOOK = "webhook", "Webhook"
    ADMIN = "admin", "Admin"
    COMMAND = "command", "Command"


class JobInterrupted(Exception):
    """The job lost its database connection: it stays active and its task is retried."""


class JobAlreadyRunning(DomainError):
    """A job of the same kind is already active for this store (409 ``SYNC_IN_PROGRESS``)."""

    code = ErrorCode.SYNC_IN_PROGRESS
    http_status = 409

    def __init__(self, job: Job):
        self.job = job
        where = " for this store." if job.store_id else "."
        super().__init__(
            message=f"A sync of this kind is already in progress{where}",
            detail={"job_id": str(job.pk), "status": job.status},
        )


class BrokerUnavailable(DomainError):
    """A job's message could not be sent (503 ``BROKER_UNAVAILABLE``); the job was failed at once."""

    code = ErrorCode.BROKER_UNAVAILABLE
    http_status = 503

    def __init__(self, job: Job):
        self.job = job
        super().__init__(
            message="The job queue is unavailable, so the job was not started. Try again in a moment.",
            detail={"job_id": str(job.pk), "status": job.status},
        )


class Job(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=40)
    store = models.ForeignKey(
        "catalog.Store",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="%(app_label)s_%(class)s_jobs",
    )
    lock_key = models.CharField(max_length=120, editable=False)
    trigger = models.CharField(max_length=20, choices=JobTrigger.choices, default=JobTrigger.API)
    status = models.CharField(max_length=20, choices=JobStatus.choices, default=JobStatus.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    params = models.JSONField(default=dict, blank=True)
    items_total = models.PositiveIntegerField(default=0)
    items_processed = models.PositiveIntegerField(default=0)
    items_succeeded = models.PositiveIntegerField(default=0)
    items_failed = models.PositiveIntegerField(default=0)
    counters = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True, help_text="Per-item errors (the first 500).")
    error_count = models.PositiveIntegerField(default=0)
    error_code = models.CharField(
        max_length=40, blank=True, help_text="The machine code a failed job ended with (e.g. SYNC_TIMEOUT)."
    )
    message = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True)
    celery_task_id = models.CharField(max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Times a worker started this job.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["lock_key"],
                condition=Q(status__in=ACTIVE_STATUSES),
                name="%(app_label)s_%(class)s_one_active",
            ),
        ]
        indexes = [models.Index(fields=["store", "kind", "created_at"], name="%(app_label)s_%(class)s_sk")]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def progress(self) -> float:
        """Percentage of items processed, one decimal."""
        if self.status == JobStatus.SUCCEEDED:
            return 100.0
        if not self.items_total:
            return 0.0
        return round(min(100.0, 100.0 * self.items_processed / self.items_total), 1)

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish (or to now while running)."""
        if not self.started_at:
            return None
        end = self.finished_at or timezone.now()
        return (end - self.started_at).total_seconds()


def job_models() -> list[type[Job]]:
    """Every concrete job table of the installed apps."""
    return [model for model in apps.get_models() if issubclass(model, Job)]
