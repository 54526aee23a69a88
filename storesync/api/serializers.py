"""Seed 003's bodies: input serializers validate them; output serializers document the
``{"data": ...}`` answers (``storesync.presenters`` builds the data)."""

from __future__ import annotations

from datetime import datetime, time

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.dateparse import parse_date
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from catalog.platforms import UnsafeURLError, validate_platform_url
from config.api.serializers import UniqueListField
from storesync import validation
from storesync.constants import (
    API_ENTITY_RESULT_STATUSES,
    API_ENTITY_STATUSES,
    API_HISTORY_STATUSES,
    API_JOB_STATUSES,
    API_OVERALL_STATUSES,
    API_PAUSE_STATUSES,
    DEFAULT_MAX_CHANGES,
    DEFAULT_MAX_CHANGES_PERCENT,
    RULE_ACTION_INPUTS,
    SYNCABLE_FIELDS,
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
    Resolution,
    RuleAction,
    RuleCondition,
    Strategy,
    SyncType,
)


def _choices(enum) -> list[str]:
    return [member.value for member in enum]


def _check(func, *args) -> None:
    """Run a domain check, turning Django's ValidationError into DRF's."""
    try:
        func(*args)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(serializers.as_serializer_error(exc)) from None


def _unique(values: list[str], what: str) -> list[str]:
    if len(set(values)) != len(values):
        raise serializers.ValidationError(f"{what} is listed twice.")
    return values


# Input


class EntityConfigSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=_choices(EntityType))
    direction = serializers.ChoiceField(choices=_choices(Direction), required=False)
    conflict_resolution = serializers.ChoiceField(choices=_choices(Strategy), required=False)
    fields = serializers.ListField(
        child=serializers.CharField(max_length=50), required=False, allow_empty=False, min_length=1, max_length=20
    )
    delete_policy = serializers.ChoiceField(
        choices=_choices(DeletePolicy),
        required=False,
        help_text="A record deleted on one side: ignore it (default), deactivate (products) or delete its counterpart.",
    )
    max_changes = serializers.IntegerField(
        min_value=0,
        max_value=2_147_483_647,
        required=False,
        help_text=f"Mass-change brake: overwrites and deletes one job may plan (default {DEFAULT_MAX_CHANGES}).",
    )
    max_changes_percent = serializers.IntegerField(
        min_value=0,
        max_value=100,
        required=False,
        help_text=f"The same limit in percent of the entity's records (default {DEFAULT_MAX_CHANGES_PERCENT}); "
        "the lower limit applies.",
    )

    def validate(self, attrs):
        if "fields" in attrs:
            _check(validation.check_fields, attrs["type"], attrs["fields"])
        if "direction" in attrs:
            _check(validation.check_direction, attrs["type"], attrs["direction"])
        if "delete_policy" in attrs:
            _check(validation.check_delete_policy, attrs["type"], attrs["delete_policy"])
        return attrs


class WebhookConfigSerializer(serializers.Serializer):
    endpoint = serializers.CharField(max_length=500)
    secret = serializers.CharField(
        max_length=255,
        required=False,
        write_only=True,
        trim_whitespace=False,
        help_text="Write-only: never returned. Left out, the current secret is kept.",
    )

    def validate_endpoint(self, value: str) -> str:
        try:
            return validate_platform_url(value)
        except UnsafeURLError as exc:
            raise serializers.ValidationError(str(exc)) from None


class ConfigureSerializer(serializers.Serializer):
    sync_frequency = serializers.ChoiceField(choices=_choices(Frequency))
    entities = serializers.ListField(child=EntityConfigSerializer(), allow_empty=False, min_length=1, max_length=3)
    webhook_config = WebhookConfigSerializer(required=False, allow_null=True)

    def validate_entities(self, value):
        _unique([entity["type"] for entity in value], "An entity type")
        return value


class TriggerOptionsSerializer(serializers.Serializer):
    force_full_sync = serializers.BooleanField(required=False, default=False)
    validate_data = serializers.BooleanField(required=False, default=True)
    resolve_conflicts = serializers.BooleanField(required=False, default=True)


class TriggerSerializer(serializers.Serializer):
    entities = UniqueListField(
        child=serializers.ChoiceField(choices=_choices(EntityType)),
        required=False,
        allow_empty=False,
        min_length=1,
        max_length=3,
        error_messages={"not_unique": "An entity is listed twice."},
    )
    sync_type = serializers.ChoiceField(
        choices=[SyncType.INCREMENTAL.value, SyncType.FULL.value], default=SyncType.INCREMENTAL.value
    )
    priority = serializers.ChoiceField(choices=_choices(Priority), default=Priority.NORMAL.value)
    options = TriggerOptionsSerializer(required=False)


class RuleSerializer(serializers.Serializer):
    name = serializers.RegexField(r"^[A-Za-z0-9_.:-]+$", max_length=100)
    entity_type = serializers.ChoiceField(choices=_choices(EntityType))
    field = serializers.CharField(max_length=50)
    condition = serializers.ChoiceField(choices=_choices(RuleCondition), default=RuleCondition.CONFLICT_DETECTED.value)
    action = serializers.ChoiceField(choices=RULE_ACTION_INPUTS)

    def validate(self, attrs):
        _check(validation.check_rule, attrs["entity_type"], attrs["field"], attrs["condition"], attrs["action"])
        return attrs


class RulesSerializer(serializers.Serializer):
    rules = RuleSerializer(many=True, max_length=200)
    replace = serializers.BooleanField(
        required=False, default=False, help_text="True: the store's rules become exactly these."
    )

    def validate_rules(self, value):
        _unique([rule["name"] for rule in value], "A rule name")
        return value


class FilterSerializer(serializers.Serializer):
    field = serializers.CharField(max_length=50)
    operator = serializers.ChoiceField(choices=_choices(FilterOperator))
    value = serializers.JSONField(allow_null=True)


class FiltersSerializer(serializers.Serializer):
    entity_type = serializers.ChoiceField(choices=_choices(EntityType))
    filters = FilterSerializer(many=True, max_length=100)
    exclude_fields = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, default=list, max_length=100
    )

    def validate(self, attrs):
        for index, spec in enumerate(attrs["filters"]):
            try:
                validation.check_filter(attrs["entity_type"], spec["field"], spec["operator"], spec.get("value"))
            except DjangoValidationError as exc:
                raise serializers.ValidationError({"filters": {index: serializers.as_serializer_error(exc)}}) from None
        return attrs


class CreateRuleSerializer(serializers.Serializer):
    field = serializers.CharField(max_length=50, required=False, help_text="Default: the conflict's field.")
    strategy = serializers.ChoiceField(choices=RULE_ACTION_INPUTS)


class ResolveSerializer(serializers.Serializer):
    resolution = serializers.ChoiceField(choices=_choices(Resolution))
    custom_value = serializers.JSONField(
        required=False, allow_null=True, help_text="The value to write, with use_custom_value."
    )
    apply_to_similar = serializers.BooleanField(required=False, default=False)
    create_rule = CreateRuleSerializer(required=False, allow_null=True)


class ConflictQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=_choices(ConflictStatus), required=False)
    entity_type = serializers.ChoiceField(choices=_choices(EntityType), required=False)
    page = serializers.IntegerField(min_value=1, max_value=1_000_000, default=1)
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=20)


class ChangeQuerySerializer(serializers.Serializer):
    entity = serializers.ChoiceField(choices=_choices(EntityType), required=False)
    record = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, required=False, help_text="The platform record's id."
    )
    field = serializers.ChoiceField(
        choices=sorted({name for names in SYNCABLE_FIELDS.values() for name in names}), required=False
    )
    side = serializers.ChoiceField(choices=_choices(ChangeSide), required=False, help_text="The side written.")
    page = serializers.IntegerField(min_value=1, max_value=1_000_000, default=1)
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=50)


class FlexibleDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date (the whole day) or date-time."""

    def __init__(self, *, end_of_day: bool = False, **kwargs):
        self.end_of_day = end_of_day
        super().__init__(**kwargs)

    def to_internal_value(self, value):
        if isinstance(value, str) and len(value.strip()) == 10:
            try:
                day = parse_date(value.strip())
            except ValueError:
                day = None
            if day is not None:
                moment = datetime.combine(day, time.max if self.end_of_day else time.min)
                return timezone.make_aware(moment, timezone.get_current_timezone())
        return super().to_internal_value(value)


class HistoryQuerySerializer(serializers.Serializer):
    start_date = FlexibleDateTimeField(required=False, help_text="ISO 8601 date or date-time.")
    end_date = FlexibleDateTimeField(
        required=False, end_of_day=True, help_text="ISO 8601 date (inclusive) or date-time."
    )
    entity_type = serializers.ChoiceField(choices=_choices(EntityType), required=False)
    status = serializers.ChoiceField(choices=API_HISTORY_STATUSES, required=False)
    page = serializers.IntegerField(min_value=1, max_value=1_000_000, default=1)
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=50)

    def validate(self, attrs):
        if attrs.get("start_date") and attrs.get("end_date") and attrs["start_date"] > attrs["end_date"]:
            raise serializers.ValidationError({"end_date": "end_date is before start_date."})
        return attrs


# Output (documentation of the answers)


def data_envelope(name: str, data: serializers.Field, **extra: serializers.Field) -> serializers.Serializer:
    return inline_serializer(name=name, fields={"data": data, **extra})


def _nullable_str(**kwargs):
    return serializers.CharField(allow_null=True, **kwargs)


EntityOutput = inline_serializer(
    "SyncEntityConfig",
    {
        "type": serializers.ChoiceField(choices=_choices(EntityType)),
        "direction": serializers.ChoiceField(choices=_choices(Direction)),
        "conflict_resolution": serializers.ChoiceField(choices=_choices(Strategy)),
        "fields": serializers.ListField(child=serializers.CharField()),
        "exclude_fields": serializers.ListField(child=serializers.CharField()),
        "delete_policy": serializers.ChoiceField(choices=_choices(DeletePolicy)),
        "max_changes": serializers.IntegerField(),
        "max_changes_percent": serializers.IntegerField(),
    },
)

ConfigureResult = inline_serializer(
    "SyncConfigureResult",
    {
        "sync_config_id": serializers.IntegerField(),
        "status": serializers.CharField(),
        "entities_configured": serializers.IntegerField(),
        "next_sync": _nullable_str(help_text="real_time, manual, or the next scheduled sync's time"),
        "webhook_urls": serializers.ListField(child=serializers.URLField()),
    },
)

ConfigDetail = inline_serializer(
    "SyncConfigDetail",
    {
        "sync_config_id": serializers.IntegerField(),
        "store_id": serializers.IntegerField(),
        "sync_frequency": serializers.ChoiceField(choices=_choices(Frequency)),
        "paused": serializers.BooleanField(),
        "entities": EntityOutput.__class__(many=True),
        "webhook_config": inline_serializer(
            "SyncWebhookConfig",
            {
                "endpoint": _nullable_str(),
                "has_secret": serializers.BooleanField(),
            },
        ),
        "webhook_urls": serializers.ListField(child=serializers.URLField()),
        "next_sync": _nullable_str(),
        "updated_at": serializers.DateTimeField(),
    },
)

EntityStatus = inline_serializer(
    "SyncEntityStatus",
    {
        "type": serializers.CharField(),
        "status": serializers.ChoiceField(choices=API_ENTITY_STATUSES),
        "last_sync": serializers.DateTimeField(allow_null=True),
        "records_count": serializers.IntegerField(),
        "pending_changes": serializers.IntegerField(),
        "conflicts": serializers.IntegerField(),
    },
)

StatusResult = inline_serializer(
    "SyncStatus",
    {
        "store_id": serializers.IntegerField(),
        "overall_status": serializers.ChoiceField(choices=API_OVERALL_STATUSES),
        "last_sync": serializers.DateTimeField(allow_null=True),
        "next_sync": _nullable_str(),
        "entities": EntityStatus.__class__(many=True),
        "awaiting_human": inline_serializer(
            "SyncAwaitingHuman",
            {
                "conflicts": serializers.IntegerField(help_text="Pending conflicts."),
                "dead_letters": serializers.IntegerField(help_text="Pending dead letters."),
                "held_jobs": serializers.IntegerField(help_text="Sync jobs held by the brake, to approve or reject."),
            },
            help_text="What waits for a person's decision; any of it makes the store needs_attention.",
        ),
        "sync_health": inline_serializer(
            "SyncHealth",
            {
                "success_rate": serializers.FloatField(),
                "avg_sync_time": _nullable_str(),
                "error_count_24h": serializers.IntegerField(),
            },
        ),
    },
)


def _trigger_fields() -> dict[str, serializers.Field]:
    return {
        "sync_job_id": serializers.UUIDField(),
        "status": serializers.CharField(),
        "estimated_duration": serializers.CharField(),
        "entities_to_sync": serializers.ListField(child=serializers.CharField()),
        "queue_position": serializers.IntegerField(),
    }


TriggerResult = inline_serializer("SyncTriggerResult", _trigger_fields())

UndoResult = inline_serializer(
    "SyncUndoResult",
    {
        **_trigger_fields(),
        "mode": serializers.ChoiceField(choices=_choices(JobMode)),
        "source_job_id": serializers.UUIDField(help_text="The job this one undoes."),
    },
)

EntityResult = inline_serializer(
    "SyncEntityResult",
    {
        "status": serializers.ChoiceField(choices=API_ENTITY_RESULT_STATUSES),
        "records_synced": serializers.IntegerField(),
        "records_updated": serializers.IntegerField(),
        "records_created": serializers.IntegerField(),
        "conflicts_resolved": serializers.IntegerField(),
        "conflicts_pending": serializers.IntegerField(),
        "errors": serializers.IntegerField(),
        "duration": _nullable_str(),
    },
)

PreviewTotals = inline_serializer(
    "SyncPreviewTotals",
    {
        "create": serializers.IntegerField(),
        "update": serializers.IntegerField(),
        "delete": serializers.IntegerField(),
        "conflict": serializers.IntegerField(),
        "records": serializers.IntegerField(help_text="Records with any planned change."),
        "overwrites": serializers.IntegerField(
            help_text="Records whose existing value is replaced: the brake's count."
        ),
    },
)

JobResult = inline_serializer(
    "SyncJob",
    {
        "job_id": serializers.UUIDField(),
        "store_id": serializers.IntegerField(),
        "status": serializers.ChoiceField(choices=API_JOB_STATUSES),
        "sync_type": serializers.CharField(),
        "priority": serializers.CharField(),
        "trigger": serializers.CharField(),
        "queue_position": serializers.IntegerField(),
        "created_at": serializers.DateTimeField(),
        "started_at": serializers.DateTimeField(allow_null=True),
        "finished_at": serializers.DateTimeField(allow_null=True),
        "progress": inline_serializer(
            "SyncJobProgress",
            {
                "total_entities": serializers.IntegerField(),
                "completed_entities": serializers.IntegerField(),
                "percentage": serializers.FloatField(),
                "current_entity": _nullable_str(),
                "records_processed": serializers.IntegerField(),
                "records_total": serializers.IntegerField(),
            },
        ),
        "results": serializers.DictField(child=EntityResult),
        "estimated_completion": serializers.DateTimeField(allow_null=True),
        "message": serializers.CharField(allow_blank=True),
        "errors": serializers.ListField(child=serializers.DictField()),
        "mode": serializers.ChoiceField(choices=_choices(JobMode)),
        "source_job_id": serializers.UUIDField(allow_null=True, help_text="The preview an apply applies."),
        "preview": serializers.DictField(
            child=PreviewTotals,
            allow_null=True,
            help_text="A preview's (or a held job's) planned changes per entity, in records; "
            "the rows: GET /sync/jobs/{job_id}/changes.",
        ),
    },
)

ConflictOutput = inline_serializer(
    "SyncConflict",
    {
        "conflict_id": serializers.IntegerField(),
        "entity_type": serializers.CharField(),
        "entity_id": serializers.IntegerField(help_text="The platform record's id."),
        "store_entity_id": serializers.IntegerField(allow_null=True, help_text="The record's id in the shop."),
        "field": serializers.CharField(),
        "store_value": serializers.JSONField(allow_null=True),
        "platform_value": serializers.JSONField(allow_null=True),
        "last_modified_store": serializers.DateTimeField(allow_null=True),
        "last_modified_platform": serializers.DateTimeField(allow_null=True),
        "status": serializers.ChoiceField(choices=_choices(ConflictStatus)),
        "resolution": _nullable_str(),
        "resolved_value": serializers.JSONField(allow_null=True),
        "resolved_at": serializers.DateTimeField(allow_null=True),
        "created_at": serializers.DateTimeField(),
    },
)

Pagination = inline_serializer(
    "SyncPagination",
    {
        "page": serializers.IntegerField(),
        "limit": serializers.IntegerField(),
        "total": serializers.IntegerField(),
    },
)

HistoryItem = inline_serializer(
    "SyncHistoryItem",
    {
        "sync_id": serializers.UUIDField(),
        "started_at": serializers.DateTimeField(allow_null=True),
        "completed_at": serializers.DateTimeField(allow_null=True),
        "status": serializers.ChoiceField(choices=API_HISTORY_STATUSES),
        "trigger": serializers.CharField(),
        "sync_type": serializers.CharField(),
        "entities_synced": inline_serializer(
            "SyncHistoryEntity",
            {
                "type": serializers.CharField(),
                "records_processed": serializers.IntegerField(),
                "records_updated": serializers.IntegerField(),
                "records_created": serializers.IntegerField(),
                "duration": _nullable_str(),
            },
        ).__class__(many=True),
        "summary": inline_serializer(
            "SyncHistorySummary",
            {
                "total_records": serializers.IntegerField(),
                "successful": serializers.IntegerField(),
                "failed": serializers.IntegerField(),
                "conflicts": serializers.IntegerField(),
                "conflicts_pending": serializers.IntegerField(help_text="Left for a manual resolution."),
            },
        ),
        "message": serializers.CharField(allow_blank=True),
    },
)

RuleOutput = inline_serializer(
    "SyncRule",
    {
        "name": serializers.CharField(),
        "entity_type": serializers.CharField(),
        "field": serializers.CharField(),
        "condition": serializers.ChoiceField(choices=_choices(RuleCondition)),
        "action": serializers.ChoiceField(choices=_choices(RuleAction)),
        "created_from_conflict": serializers.IntegerField(allow_null=True),
    },
)

FilterSetOutput = inline_serializer(
    "SyncFilterSet",
    {
        "entity_type": serializers.CharField(),
        "filters": inline_serializer(
            "SyncFilterOut",
            {
                "field": serializers.CharField(),
                "operator": serializers.ChoiceField(choices=_choices(FilterOperator)),
                "value": serializers.JSONField(allow_null=True),
            },
        ).__class__(many=True),
        "exclude_fields": serializers.ListField(child=serializers.CharField()),
        "effective_fields": serializers.ListField(child=serializers.CharField()),
    },
)

ResolveResult = inline_serializer(
    "SyncResolveResult",
    {
        "conflict_id": serializers.IntegerField(),
        "status": serializers.CharField(),
        "resolution": serializers.CharField(),
        "resolved_value": serializers.JSONField(allow_null=True),
        "resolved_conflicts": serializers.ListField(child=serializers.IntegerField()),
        "failed_conflicts": inline_serializer(
            "SyncResolveFailure",
            {
                "conflict_id": serializers.IntegerField(),
                "code": serializers.CharField(),
                "message": serializers.CharField(),
            },
        ).__class__(many=True),
        "stale_conflicts": inline_serializer(
            "SyncResolveStale",
            {
                "conflict_id": serializers.IntegerField(),
                "field": serializers.CharField(),
                "store_value": serializers.JSONField(allow_null=True),
                "platform_value": serializers.JSONField(allow_null=True),
            },
        ).__class__(many=True, help_text="Similar conflicts left pending: a side moved since they were recorded."),
        "rule_created": RuleOutput.__class__(allow_null=True),
    },
)

PauseResult = inline_serializer(
    "SyncPauseResult",
    {
        "store_id": serializers.IntegerField(),
        "status": serializers.ChoiceField(choices=API_PAUSE_STATUSES),
        "paused_at": serializers.DateTimeField(allow_null=True),
        "cancelled_jobs": serializers.IntegerField(),
        "next_sync": _nullable_str(),
    },
)


LineageChange = inline_serializer(
    "SyncLineageChange",
    {
        "job_id": serializers.UUIDField(help_text="The job that wrote it (a sync, an apply, an undo)."),
        "side": serializers.ChoiceField(choices=_choices(ChangeSide), help_text="The side written."),
        "action": serializers.ChoiceField(choices=_choices(ChangeAction)),
        "old_value": serializers.JSONField(allow_null=True),
        "new_value": serializers.JSONField(allow_null=True),
        "at": serializers.DateTimeField(),
    },
    allow_null=True,
    help_text="The last written change of the field (preview jobs' planned rows left out); null if none.",
)

LineageResult = inline_serializer(
    "SyncRecordLineage",
    {
        "entity": serializers.ChoiceField(choices=_choices(EntityType)),
        "record_pk": serializers.IntegerField(help_text="The platform record's id."),
        "shop_id": serializers.IntegerField(allow_null=True, help_text="The record's id in the shop."),
        "label": serializers.CharField(help_text="Product: title (sku); customer: e-mail; order: reference."),
        "base": serializers.DictField(
            child=serializers.JSONField(allow_null=True),
            allow_null=True,
            help_text="The values both sides agreed on at the record's last sync; null if never synced.",
        ),
        "synced_at": serializers.DateTimeField(allow_null=True),
        "store_modified": serializers.DateTimeField(allow_null=True, help_text="The shop's date_upd last seen."),
        "platform_modified": serializers.DateTimeField(
            allow_null=True, help_text="The platform's updated_at last seen."
        ),
        "fields": serializers.DictField(
            child=inline_serializer(
                "SyncLineageField",
                {
                    "value": serializers.JSONField(allow_null=True, help_text="The platform's current value."),
                    "base": serializers.JSONField(allow_null=True, help_text="The last agreed value."),
                    "last_change": LineageChange,
                },
            ),
            help_text="Each synced field of the entity.",
        ),
        "owed": inline_serializer(
            "SyncLineageOwed",
            {
                "id": serializers.IntegerField(help_text="The dead letter's id."),
                "operation": serializers.CharField(),
                "code": serializers.CharField(),
                "error": serializers.CharField(),
                "attempts": serializers.IntegerField(),
                "status": serializers.CharField(),
            },
        ).__class__(many=True, help_text="Open dead letters: writes or creates that failed and are owed."),
        "pending_conflicts": inline_serializer(
            "SyncLineageConflict",
            {
                "id": serializers.IntegerField(help_text="The conflict's id."),
                "field": serializers.CharField(),
                "store_value": serializers.JSONField(allow_null=True),
                "platform_value": serializers.JSONField(allow_null=True),
                "base_value": serializers.JSONField(allow_null=True),
                "created_at": serializers.DateTimeField(),
            },
        ).__class__(many=True),
    },
)

ChangeOutput = inline_serializer(
    "SyncChange",
    {
        "id": serializers.IntegerField(),
        "entity": serializers.ChoiceField(choices=_choices(EntityType)),
        "record_pk": serializers.IntegerField(allow_null=True, help_text="The platform record's id."),
        "shop_id": serializers.IntegerField(allow_null=True, help_text="The record's id in the shop."),
        "field": serializers.CharField(),
        "side": serializers.ChoiceField(choices=_choices(ChangeSide), help_text="The side written."),
        "action": serializers.ChoiceField(choices=_choices(ChangeAction)),
        "old_value": serializers.JSONField(allow_null=True),
        "new_value": serializers.JSONField(allow_null=True),
        "settled_by": serializers.CharField(allow_blank=True),
        "created_at": serializers.DateTimeField(),
    },
)
