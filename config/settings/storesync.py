"""Storesync: store sync jobs, retries, webhooks in and out, alerts, /metrics and its schema enum names."""

from config.settings.api import SPECTACULAR_SETTINGS
from config.settings.base import env

# Shop records per page (the connector reads pages and batches of 100), records per database batch.
STORESYNC_PAGE_SIZE = env.int("STORESYNC_PAGE_SIZE", default=100)
STORESYNC_BATCH_SIZE = env.int("STORESYNC_BATCH_SIZE", default=500)
# Connectors writing to one shop at once during a sync.
STORESYNC_WRITE_CONCURRENCY = env.int("STORESYNC_WRITE_CONCURRENCY", default=4)
# Attempts of a record write (and of a job whose shop reads fail), with exponential backoff and jitter (s).
STORESYNC_MAX_ATTEMPTS = env.int("STORESYNC_MAX_ATTEMPTS", default=5)
STORESYNC_RETRY_BACKOFF = env.float("STORESYNC_RETRY_BACKOFF", default=1.0)
STORESYNC_JOB_RETRY_BACKOFF = env.float("STORESYNC_JOB_RETRY_BACKOFF", default=30.0)
# Platform changes are read from updated_at minus this margin (clock skew between app servers, s).
STORESYNC_CLOCK_SKEW = env.int("STORESYNC_CLOCK_SKEW", default=5)
# A scheduled sync is a full one when the last full sync is older than this (hours; 0: never).
STORESYNC_FULL_SYNC_HOURS = env.int("STORESYNC_FULL_SYNC_HOURS", default=24)
# Jobs that may wait per store; the dispatcher re-sends a waiting job's message after this long (s).
STORESYNC_MAX_QUEUED_JOBS = env.int("STORESYNC_MAX_QUEUED_JOBS", default=10)
STORESYNC_KICK_AFTER = env.int("STORESYNC_KICK_AFTER", default=60)
# Event stream: at most one sync_progress per job per this many seconds.
STORESYNC_EVENT_PROGRESS_INTERVAL = env.float("STORESYNC_EVENT_PROGRESS_INTERVAL", default=0.25)
# Inbound webhooks: accepted clock difference of webhook-timestamp (s).
STORESYNC_WEBHOOK_TOLERANCE = env.int("STORESYNC_WEBHOOK_TOLERANCE", default=300)
# Outbound webhooks: attempts per delivery, first retry delay (s; x4 per attempt, with jitter),
# deadline of one attempt (s: connect, headers and body together), longest Retry-After honoured (s),
# lease of one attempt (s).
STORESYNC_WEBHOOK_MAX_ATTEMPTS = env.int("STORESYNC_WEBHOOK_MAX_ATTEMPTS", default=5)
STORESYNC_WEBHOOK_BACKOFF = env.int("STORESYNC_WEBHOOK_BACKOFF", default=300)
STORESYNC_WEBHOOK_TIMEOUT = env.float("STORESYNC_WEBHOOK_TIMEOUT", default=10.0)
STORESYNC_WEBHOOK_MAX_RETRY_AFTER = env.int("STORESYNC_WEBHOOK_MAX_RETRY_AFTER", default=24 * 3600)
STORESYNC_WEBHOOK_LEASE = env.int("STORESYNC_WEBHOOK_LEASE", default=300)
# Alerts: e-mail recipients (sent as configured in config/settings/operations.py), and an
# optional webhook (signed with its secret like the stores' ones).
STORESYNC_ALERT_EMAILS = env.list("STORESYNC_ALERT_EMAILS", default=[])
STORESYNC_ALERT_WEBHOOK_URL = env.str("STORESYNC_ALERT_WEBHOOK_URL", default="")
STORESYNC_ALERT_WEBHOOK_SECRET = env.str("STORESYNC_ALERT_WEBHOOK_SECRET", default="")
# Prometheus /metrics (operations/metrics.py): with a token set, scrapes must send "Authorization: Bearer <token>".
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# Names of store sync's enums in the OpenAPI schema (several "status" fields mean different things).
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(
    {
        "SyncEntityTypeEnum": "storesync.constants.ENTITY_TYPES",
        "SyncConflictStatusEnum": "storesync.constants.CONFLICT_STATUSES",
        "SyncRuleActionEnum": "storesync.constants.RULE_ACTIONS",
        "SyncChangeActionEnum": "storesync.constants.CHANGE_ACTIONS",
        "SyncChangeSideEnum": "storesync.constants.CHANGE_SIDES",
        "SyncJobModeEnum": "storesync.constants.JOB_MODES",
        "SyncRuleActionInputEnum": "storesync.constants.RULE_ACTION_INPUTS",
        "SyncJobStatusEnum": "storesync.constants.API_JOB_STATUSES",
        "SyncHistoryStatusEnum": "storesync.constants.API_HISTORY_STATUSES",
        "SyncEntityStatusEnum": "storesync.constants.API_ENTITY_STATUSES",
        "SyncEntityResultStatusEnum": "storesync.constants.API_ENTITY_RESULT_STATUSES",
        "SyncOverallStatusEnum": "storesync.constants.API_OVERALL_STATUSES",
        "SyncPauseStatusEnum": "storesync.constants.API_PAUSE_STATUSES",
    }
)
