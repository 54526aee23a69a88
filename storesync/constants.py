"""The vocabulary of store sync: entities, directions, strategies, frequencies,
rule conditions and actions, filter operators (the error codes are in ``storesync.error_codes``).

No Django imports: the pure merge core uses these too.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum


class EntityType(StrEnum):
    PRODUCTS = "products"
    ORDERS = "orders"
    CUSTOMERS = "customers"


class Direction(StrEnum):
    BIDIRECTIONAL = "bidirectional"
    TO_PLATFORM = "to_platform"  # the store's shop is the source
    TO_STORE = "to_store"  # the platform (the hub's catalogue) is the source


class Strategy(StrEnum):
    LAST_WRITE_WINS = "last_write_wins"
    STORE_PRIORITY = "store_priority"
    PLATFORM_PRIORITY = "platform_priority"
    MANUAL_RESOLUTION = "manual_resolution"


class Frequency(StrEnum):
    REAL_TIME = "real_time"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    MANUAL = "manual"


# How often the beat dispatcher queues a scheduled sync. ``real_time`` stores are synced by
# webhooks (next issue); until then they are scheduled every minute, the dispatcher's tick.
FREQUENCY_INTERVALS: dict[str, timedelta] = {
    Frequency.REAL_TIME: timedelta(minutes=1),
    Frequency.HIGH: timedelta(minutes=5),
    Frequency.MEDIUM: timedelta(hours=1),
    Frequency.LOW: timedelta(days=1),
}


class RuleCondition(StrEnum):
    CONFLICT_DETECTED = "conflict_detected"  # both sides changed the field to different values
    ALWAYS = "always"  # whenever the field differs between the sides after a change


class RuleAction(StrEnum):
    USE_STORE_VALUE = "use_store_value"
    USE_PLATFORM_VALUE = "use_platform_value"
    NEWEST_WINS = "newest_wins"
    USE_HIGHEST_VALUE = "use_highest_value"
    USE_LOWEST_VALUE = "use_lowest_value"
    MANUAL_RESOLUTION = "manual_resolution"
    SYNC_IMMEDIATELY = "sync_immediately"  # no decision; marks the field for webhook-driven syncs


# Accepted as a rule action (and as ``create_rule.strategy``): the entity strategies' names.
ACTION_ALIASES = {
    "last_write_wins": RuleAction.NEWEST_WINS,
    "store_priority": RuleAction.USE_STORE_VALUE,
    "platform_priority": RuleAction.USE_PLATFORM_VALUE,
}


class FilterOperator(StrEnum):
    EQUALS = "equals"
    NOT_EQUALS = "not_equals"
    GREATER_THAN = "greater_than"
    LESS_THAN = "less_than"
    CONTAINS = "contains"
    IN = "in"


class SyncType(StrEnum):
    INCREMENTAL = "incremental"
    FULL = "full"
    RECORDS = "records"  # only named records (dead-letter requeue)


class JobMode(StrEnum):
    """What a store sync job does with its plan."""

    SYNC = "sync"  # merge and write
    PREVIEW = "preview"  # merge and record the plan; nothing written
    APPLY = "apply"  # a preview's records, where the planned change still holds
    UNDO = "undo"  # a job's writes taken back where nothing moved since


class ChangeSide(StrEnum):
    STORE = "store"  # the shop
    PLATFORM = "platform"  # the hub's catalogue


class ChangeAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    CONFLICT = "conflict"  # planned: a conflict, settled as ``settled_by`` says (or pending)


class DeletePolicy(StrEnum):
    """What a record deleted on one side does to its counterpart on the other (docs/sync-deletes.md)."""

    IGNORE = "ignore"  # nothing (the counterpart stays as it is)
    DEACTIVATE = "deactivate"  # the counterpart is set inactive (products only)
    DELETE = "delete"  # the counterpart is deleted


# The delete policies each entity takes: customers have no "active" notion on the platform and
# orders take no writes in the shop nor deletes on the platform from the sync.
ALLOWED_DELETE_POLICIES: dict[str, tuple[str, ...]] = {
    EntityType.PRODUCTS: tuple(DeletePolicy),
    EntityType.CUSTOMERS: (DeletePolicy.IGNORE, DeletePolicy.DELETE),
    EntityType.ORDERS: (DeletePolicy.IGNORE,),
}


# The mass-change brake's defaults, per entity: a job planning more overwrites and deletes
# than the lower of these stops before its first write (status ``held``).
DEFAULT_MAX_CHANGES = 500
DEFAULT_MAX_CHANGES_PERCENT = 25


class Priority(StrEnum):
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


# Celery message priorities. On the Redis broker 0 is consumed first (kombu's priority
# steps 0, 3, 6, 9); messages without a priority count as 0, so ``high`` ranks with them.
CELERY_PRIORITIES = {Priority.HIGH: 0, Priority.NORMAL: 3, Priority.LOW: 6}
# Order of queued jobs of one store: higher priority first, then oldest first.
PRIORITY_RANK = {Priority.HIGH: 0, Priority.NORMAL: 1, Priority.LOW: 2}


class ConflictStatus(StrEnum):
    PENDING = "pending"
    RESOLVED = "resolved"
    IGNORED = "ignored"


class Resolution(StrEnum):
    USE_STORE_VALUE = "use_store_value"
    USE_PLATFORM_VALUE = "use_platform_value"
    USE_CUSTOM_VALUE = "use_custom_value"


# The syncable fields of each entity.
SYNCABLE_FIELDS: dict[str, tuple[str, ...]] = {
    EntityType.PRODUCTS: ("title", "description", "price", "inventory", "sku", "status"),
    EntityType.ORDERS: ("status", "total", "customer_info"),
    EntityType.CUSTOMERS: ("email", "first_name", "last_name"),
}
NUMERIC_FIELDS = frozenset({"price", "inventory", "total"})
# Directions each entity supports: orders flow to the platform only (the shop takes no order writes).
ALLOWED_DIRECTIONS: dict[str, tuple[str, ...]] = {
    EntityType.PRODUCTS: tuple(Direction),
    EntityType.CUSTOMERS: tuple(Direction),
    EntityType.ORDERS: (Direction.TO_PLATFORM,),
}
DEFAULT_DIRECTIONS = {
    EntityType.PRODUCTS: Direction.BIDIRECTIONAL,
    EntityType.CUSTOMERS: Direction.BIDIRECTIONAL,
    EntityType.ORDERS: Direction.TO_PLATFORM,
}

JOB_KIND = "store_sync"

# Status words of the API, by where they appear.
API_JOB_STATUSES = ["queued", "in_progress", "completed", "partial", "failed", "cancelled", "held"]
API_HISTORY_STATUSES = ["success", "failed", "partial", "cancelled"]
API_ENTITY_STATUSES = ["synced", "syncing", "paused", "never_synced", "error"]
API_ENTITY_RESULT_STATUSES = ["pending", "in_progress", "completed", "skipped"]
API_OVERALL_STATUSES = ["healthy", "degraded", "needs_attention", "failing", "paused"]
API_PAUSE_STATUSES = ["paused", "active"]
RULE_ACTION_INPUTS = [*(action.value for action in RuleAction), *ACTION_ALIASES]
ENTITY_TYPES = [entity.value for entity in EntityType]
CONFLICT_STATUSES = [status.value for status in ConflictStatus]
RULE_ACTIONS = [action.value for action in RuleAction]
CHANGE_ACTIONS = [action.value for action in ChangeAction]
CHANGE_SIDES = [side.value for side in ChangeSide]
JOB_MODES = [mode.value for mode in JobMode]
DELETE_POLICIES = [policy.value for policy in DeletePolicy]
