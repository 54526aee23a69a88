"""Store sync: configuration (per store and per entity), rules, filters, the per-record sync
state the three-way merge needs, jobs, conflicts and dead letters.

The tables of the wings (``storesync.webhooks.models``, ``storesync.health.models``) are
imported here: Django looks for an app's models in its ``models`` module.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from config.jobs import Job, JobStatus
from storesync.constants import (
    DEFAULT_MAX_CHANGES,
    DEFAULT_MAX_CHANGES_PERCENT,
    ChangeAction,
    ChangeSide,
    ConflictStatus,
    DeletePolicy,
    Direction,
    EntityType,
    FilterOperator,
    Frequency,
    JobMode,
    Priority,
    RuleAction,
    RuleCondition,
    Strategy,
    SyncType,
)
from storesync.health.models import Alert, AlertRule  # noqa: F401  (Django finds models here)
from storesync.validation import (
    check_delete_policy,
    check_direction,
    check_entity_type,
    check_fields,
    check_filter,
    check_rule,
)
from storesync.webhooks.models import InboundWebhook, WebhookAttempt, WebhookDelivery  # noqa: F401  (as above)


def _choices(enum) -> list[tuple[str, str]]:
    return [(member.value, member.value.replace("_", " ")) for member in enum]


class SyncConfig(models.Model):
    """A store's sync configuration (one per store)."""

    store = models.OneToOneField("catalog.Store", on_delete=models.CASCADE, related_name="sync_config")
    sync_frequency = models.CharField(max_length=20, choices=_choices(Frequency), default=Frequency.MANUAL.value)
    paused = models.BooleanField(default=False)
    paused_at = models.DateTimeField(null=True, blank=True)
    webhook_endpoint = models.URLField(max_length=500, blank=True)
    webhook_secret = models.CharField(max_length=255, blank=True, help_text="Write-only.")
    last_scheduled_at = models.DateTimeField(null=True, blank=True, help_text="When the dispatcher last queued a sync.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["store_id"]
        verbose_name = "sync configuration"

    def __str__(self) -> str:
        return f"Sync of {self.store}"


class SyncEntity(models.Model):
    """How one entity type of a store is synced, and how far the last sync got."""

    config = models.ForeignKey(SyncConfig, on_delete=models.CASCADE, related_name="entities")
    entity_type = models.CharField(max_length=20, choices=_choices(EntityType))
    enabled = models.BooleanField(default=True, help_text="Kept when left out of a new configuration, disabled.")
    direction = models.CharField(max_length=20, choices=_choices(Direction), default=Direction.BIDIRECTIONAL.value)
    conflict_resolution = models.CharField(
        max_length=30, choices=_choices(Strategy), default=Strategy.LAST_WRITE_WINS.value
    )
    fields = models.JSONField(default=list, blank=True)
    exclude_fields = models.JSONField(default=list, blank=True)
    store_watermark = models.DateTimeField(null=True, blank=True, help_text="Shop date_upd reached (inclusive).")
    platform_watermark = models.DateTimeField(null=True, blank=True, help_text="Platform updated_at reached.")
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_full_sync_at = models.DateTimeField(null=True, blank=True)
    last_status = models.CharField(max_length=20, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    max_changes = models.PositiveIntegerField(
        default=DEFAULT_MAX_CHANGES, help_text="Overwrites and deletes one job may plan before it is held."
    )
    max_changes_percent = models.PositiveSmallIntegerField(
        default=DEFAULT_MAX_CHANGES_PERCENT,
        validators=[MaxValueValidator(100)],
        help_text="The same limit as a percentage of the entity's records; the lower limit applies.",
    )
    delete_policy = models.CharField(
        max_length=20,
        choices=_choices(DeletePolicy),
        default=DeletePolicy.IGNORE.value,
        help_text="A record deleted on one side: ignore it, deactivate or delete its counterpart.",
    )

    class Meta:
        ordering = ["config_id", "position", "id"]
        verbose_name_plural = "sync entities"
        constraints = [models.UniqueConstraint(fields=["config", "entity_type"], name="storesync_entity_unique")]

    def __str__(self) -> str:
        return f"{self.entity_type} ({self.direction})"

    def clean(self) -> None:
        check_entity_type(self.entity_type)
        check_direction(self.entity_type, self.direction)
        check_delete_policy(self.entity_type, self.delete_policy)
        if not isinstance(self.fields, list) or not all(isinstance(f, str) for f in self.fields):
            raise ValidationError({"fields": "A list of field names."})
        check_fields(self.entity_type, self.fields)
        if not isinstance(self.exclude_fields, list) or not all(isinstance(f, str) for f in self.exclude_fields):
            raise ValidationError({"exclude_fields": "A list of field names."})

    @property
    def effective_fields(self) -> tuple[str, ...]:
        excluded = set(self.exclude_fields or ())
        return tuple(name for name in self.fields if name not in excluded)


class SyncRule(models.Model):
    config = models.ForeignKey(SyncConfig, on_delete=models.CASCADE, related_name="rules")
    name = models.CharField(max_length=100)
    entity_type = models.CharField(max_length=20, choices=_choices(EntityType))
    field = models.CharField(max_length=50)
    condition = models.CharField(
        max_length=30, choices=_choices(RuleCondition), default=RuleCondition.CONFLICT_DETECTED.value
    )
    action = models.CharField(max_length=30, choices=_choices(RuleAction))
    position = models.PositiveIntegerField(default=0)
    created_from = models.ForeignKey(
        "SyncConflict",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The conflict whose resolution created this rule.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["config_id", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["config", "name"], name="storesync_rule_name_unique")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        check_rule(self.entity_type, self.field, self.condition, self.action)


class SyncFilter(models.Model):
    config = models.ForeignKey(SyncConfig, on_delete=models.CASCADE, related_name="filters")
    entity_type = models.CharField(max_length=20, choices=_choices(EntityType))
    field = models.CharField(max_length=50)
    operator = models.CharField(max_length=20, choices=_choices(FilterOperator))
    value = models.JSONField(null=True, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["config_id", "entity_type", "position", "id"]

    def __str__(self) -> str:
        return f"{self.entity_type}.{self.field} {self.operator} {self.value!r}"

    def clean(self) -> None:
        check_filter(self.entity_type, self.field, self.operator, self.value)


class SyncRecordState(models.Model):
    """What both sides agreed on at the last sync of one record: the merge's base."""

    store = models.ForeignKey("catalog.Store", on_delete=models.CASCADE, related_name="+")
    entity_type = models.CharField(max_length=20, choices=_choices(EntityType))
    record_pk = models.BigIntegerField(help_text="The platform record's primary key.")
    shop_id = models.BigIntegerField(help_text="The record's id in the shop.")
    base = models.JSONField(default=dict, blank=True)
    store_modified = models.DateTimeField(null=True, blank=True, help_text="Shop date_upd last seen.")
    platform_modified = models.DateTimeField(null=True, blank=True, help_text="Platform updated_at last seen.")
    synced_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["store", "entity_type", "shop_id"], name="storesync_state_shop_unique"),
            models.UniqueConstraint(fields=["store", "entity_type", "record_pk"], name="storesync_state_record_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.entity_type} {self.record_pk} <-> {self.shop_id}"


class SyncTombstone(models.Model):
    """A linked platform record that was deleted: the next sync of its entity applies the
    entity's ``delete_policy`` to its shop counterpart (``storesync.engine.deletes``)."""

    store = models.ForeignKey("catalog.Store", on_delete=models.CASCADE, related_name="+")
    entity_type = models.CharField(max_length=20, choices=_choices(EntityType))
    record_pk = models.BigIntegerField(help_text="The deleted platform record's primary key.")
    shop_id = models.BigIntegerField(help_text="Its counterpart in the shop.")
    values = models.JSONField(default=dict, blank=True, help_text="Its last synced values and its fields.")
    deleted_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    job = models.ForeignKey(
        "StoreSyncJob",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who processed it.",
    )
    outcome = models.CharField(max_length=20, blank=True, help_text="ignored, deactivated, deleted or gone.")

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["store", "entity_type", "id"],
                condition=Q(processed_at__isnull=True),
                name="storesync_tombstone_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entity_type} {self.record_pk} (shop {self.shop_id}) deleted"


class StoreSyncJob(Job):
    """One sync run of a store. Several may wait; one runs per store at a time."""

    KIND = "store_sync"

    sync_type = models.CharField(max_length=20, choices=_choices(SyncType), default=SyncType.INCREMENTAL.value)
    priority = models.CharField(max_length=10, choices=_choices(Priority), default=Priority.NORMAL.value)
    entities = models.JSONField(default=list, blank=True)
    options = models.JSONField(default=dict, blank=True)
    claim_token = models.CharField(max_length=64, blank=True, help_text="The message that runs this job.")
    retries = models.PositiveSmallIntegerField(default=0, help_text="Job-level retries after shop read failures.")
    current_entity = models.CharField(max_length=20, blank=True)
    entity_results = models.JSONField(default=dict, blank=True)
    checkpoint = models.JSONField(default=dict, blank=True, help_text="Where a redelivered job resumes.")
    cancel_requested = models.BooleanField(default=False)
    mode = models.CharField(max_length=10, choices=_choices(JobMode), default=JobMode.SYNC.value)
    source_job = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The preview an apply applies, or the job an undo takes back.",
    )

    class Meta(Job.Meta):
        # Unlike the other jobs, several syncs of a store may be queued (they run in turn):
        # only one may be *running*.
        constraints = [
            models.UniqueConstraint(
                fields=["lock_key"],
                condition=Q(status=JobStatus.RUNNING.value),
                name="storesync_storesyncjob_one_running",
            ),
        ]
        indexes = [
            models.Index(fields=["store", "kind", "created_at"], name="storesync_storesyncjob_sk"),
            models.Index(fields=["store", "status", "created_at"], name="storesync_job_store_status"),
        ]
        verbose_name = "store sync job"


class SyncConflict(models.Model):
    store = models.ForeignKey("catalog.Store", on_delete=models.CASCADE, related_name="sync_conflicts")
    job = models.ForeignKey(StoreSyncJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="conflicts")
    entity_type = models.CharField(max_length=20, choices=_choices(EntityType))
    record_pk = models.BigIntegerField(help_text="The platform record's primary key.")
    shop_id = models.BigIntegerField(null=True, blank=True)
    field = models.CharField(max_length=50)
    store_value = models.JSONField(null=True, blank=True)
    platform_value = models.JSONField(null=True, blank=True)
    base_value = models.JSONField(null=True, blank=True)
    last_modified_store = models.DateTimeField(null=True, blank=True)
    last_modified_platform = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=_choices(ConflictStatus), default=ConflictStatus.PENDING.value)
    resolution = models.CharField(max_length=150, blank=True, help_text="How it was settled.")
    resolved_value = models.JSONField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["store", "entity_type", "record_pk", "field"],
                condition=Q(status=ConflictStatus.PENDING.value),
                name="storesync_one_pending_conflict",
            ),
        ]
        indexes = [
            models.Index(fields=["store", "status", "entity_type", "created_at"], name="storesync_conflict_list"),
        ]

    def __str__(self) -> str:
        return f"{self.entity_type} {self.record_pk}.{self.field} ({self.status})"


class DeadLetterStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    REQUEUED = "requeued", "Requeued"
    RESOLVED = "resolved", "Resolved"
    DROPPED = "dropped", "Dropped"


# A pending or requeued letter is an owed change: its record is read again by every sync.
OWED_STATUSES = (DeadLetterStatus.PENDING, DeadLetterStatus.REQUEUED)


class DeadLetterQuerySet(models.QuerySet):
    def owed(self) -> DeadLetterQuerySet:
        return self.filter(status__in=OWED_STATUSES)


class DeadLetter(models.Model):
    """A record write or create that failed after its retries: an owed change. Every later sync
    reads its record again until it converges (``resolved``) or an operator drops it."""

    store = models.ForeignKey("catalog.Store", on_delete=models.CASCADE, related_name="sync_dead_letters")
    job = models.ForeignKey(StoreSyncJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="dead_letters")
    entity_type = models.CharField(max_length=20, choices=_choices(EntityType))
    operation = models.CharField(
        max_length=30, help_text="update_store, create_store, update_platform, create_platform"
    )
    record_pk = models.BigIntegerField(null=True, blank=True)
    shop_id = models.BigIntegerField(null=True, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    error = models.TextField()
    code = models.CharField(max_length=50)
    attempts = models.PositiveIntegerField(default=1, help_text="Write attempts so far, over every sync.")
    status = models.CharField(max_length=20, choices=DeadLetterStatus.choices, default=DeadLetterStatus.PENDING)
    requeue_job = models.ForeignKey(StoreSyncJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DeadLetterQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["store", "status", "entity_type"], name="storesync_deadletter_status")]

    def __str__(self) -> str:
        return f"{self.operation} {self.entity_type} {self.record_pk or self.shop_id}: {self.code}"


class SyncChange(models.Model):
    """One field a sync job wrote (for a preview: would write), with the value it replaced.

    Written in bulk with each batch, pruned by the retention policy. An undo writes
    ``old_value`` back where the record still holds ``new_value``.
    """

    store = models.ForeignKey("catalog.Store", on_delete=models.CASCADE, related_name="+")
    job = models.ForeignKey(StoreSyncJob, on_delete=models.CASCADE, related_name="changes")
    entity_type = models.CharField(max_length=20, choices=_choices(EntityType))
    record_pk = models.BigIntegerField(null=True, blank=True, help_text="The platform record's primary key.")
    shop_id = models.BigIntegerField(null=True, blank=True, help_text="The record's id in the shop.")
    field = models.CharField(max_length=50)
    side = models.CharField(max_length=10, choices=_choices(ChangeSide), help_text="The side written.")
    action = models.CharField(max_length=10, choices=_choices(ChangeAction), default=ChangeAction.UPDATE.value)
    old_value = models.JSONField(null=True, blank=True)
    new_value = models.JSONField(null=True, blank=True)
    settled_by = models.CharField(
        max_length=40, blank=True, help_text="A planned conflict: the strategy or rule that settles it, or 'pending'."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["job", "entity_type", "record_pk", "field"], name="storesync_change_job"),
            models.Index(fields=["store", "entity_type", "record_pk", "id"], name="storesync_change_record"),
        ]

    def __str__(self) -> str:
        return f"{self.entity_type} {self.record_pk}.{self.field} -> {self.side}"
