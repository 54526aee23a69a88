"""Invoice documents and their sync to the NAS."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from config.jobs import Job

# Storage folder of the documents; below it, date folders (YYYY/MM/DD) that the NAS keeps.
DOCUMENTS_DIR = "documents"


class SyncState(models.TextChoices):
    SYNCED = "synced", "Synced"
    PENDING = "pending", "Pending"
    FAILED = "failed", "Failed (will retry)"
    HELD = "held", "Held for an operator"


class Document(models.Model):
    file = models.FileField(max_length=500, help_text="Storage name: documents/YYYY/MM/DD/<safe name>.")
    original_name = models.CharField(max_length=255, blank=True, help_text="The name the client sent.")
    content_type = models.CharField(max_length=100, help_text="Detected from the file's bytes.")
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, db_index=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    synced_to_nas = models.BooleanField(default=False)
    synced_at = models.DateTimeField(null=True, blank=True)
    sync_error = models.TextField(blank=True, help_text="The last sync attempt's error.")
    sync_attempts = models.PositiveSmallIntegerField(default=0, help_text="Failed attempts since the last success.")
    next_attempt_at = models.DateTimeField(null=True, blank=True, help_text="Scheduled runs retry it from then.")
    held_for_operator = models.BooleanField(
        default=False, help_text="Failed too often: scheduled runs skip it until an operator requeues it."
    )
    nas_path = models.CharField(max_length=1000, blank=True, help_text="Where the file is on the NAS.")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["id"], condition=Q(synced_to_nas=False), name="nasync_document_unsynced"),
            models.Index(fields=["synced_to_nas", "synced_at"], name="nasync_document_synced"),
        ]

    def __str__(self) -> str:
        return f"Document {self.pk}: {self.name}"

    @property
    def name(self) -> str:
        """The safe file name (the last part of the storage name)."""
        return self.file.name.rsplit("/", 1)[-1] if self.file else ""

    @property
    def relative_path(self) -> str:
        """The path below NAS_PATH: the date folders and the safe name."""
        return self.file.name.removeprefix(f"{DOCUMENTS_DIR}/")

    @property
    def state(self) -> str:
        if self.synced_to_nas:
            return SyncState.SYNCED
        if self.held_for_operator:
            return SyncState.HELD
        if self.sync_error:
            return SyncState.FAILED
        return SyncState.PENDING


class NasSyncRun(Job):
    """One push of documents to the NAS (counters, per-document errors, timings)."""

    KIND = "nas_sync"

    class Meta(Job.Meta):
        verbose_name = "NAS run"
        verbose_name_plural = "NAS runs"
