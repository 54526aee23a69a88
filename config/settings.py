"""Settings for every runtime mode, driven by environment variables (see .env.example).

Modes:
- embedded (the default, nothing set): SQLite and media under ``var/``, Celery tasks run
  in-process, in-memory channel layer and cache;
- production: ``DATABASE_URL`` and ``REDIS_URL`` set (broker, channel layer, cache), S3
  storage when ``AWS_STORAGE_BUCKET_NAME`` is set;
- edge: ``HO_URL`` set; the edge agent pulls photos from head office.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.management.utils import get_random_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

REDIS_URL = env.str("REDIS_URL", default="")
EMBEDDED = not REDIS_URL
HO_URL = env.str("HO_URL", default="")
EDGE_MODE = bool(HO_URL)
RUNTIME_MODE = "edge" if EDGE_MODE else ("embedded" if EMBEDDED else "production")

DEBUG = env.bool("DEBUG", default=False)


def _secret_key() -> str:
    """The configured key; the embedded mode keeps a generated one under var/."""
    configured = env.str("SECRET_KEY", default="")
    if configured or not EMBEDDED:
        if not configured:
            from django.core.exceptions import ImproperlyConfigured

            raise ImproperlyConfigured("SECRET_KEY must be set outside the embedded mode.")
        return configured
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(get_random_secret_key())
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    "django_filters",
    "drf_spectacular",
    "django_celery_beat",
    "channels",
    "storages",
    "catalog",
    "photosync",
    "nasync",
    "storesync",
]

MIDDLEWARE = [
    "config.observability.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
# 0 by default: under ASGI every request runs in a thread of its own, and persistent
# connections (kept per thread) pile up until PostgreSQL refuses clients (bench/api_load.py
# answered 500s at 50 clients with 60). Pool with PgBouncer instead.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if EMBEDDED:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # Separates hubs (or test runs) sharing one Redis database.
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default=""),
        }
    }
    # The prefix keeps apart the hubs (or test runs) that share one Redis. redis-py 6+ reads
    # with a 5 s socket timeout, the length of channels-redis' blocking pop: an idle
    # WebSocket consumer would die after 5 s, so the timeout is longer here.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
                "prefix": env.str("CHANNEL_LAYER_PREFIX", default="asgi" + env.str("CACHE_KEY_PREFIX", default="")),
            },
        },
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# Serve static files from the apps directly where no collectstatic ran (embedded mode).
WHITENOISE_USE_FINDERS = EMBEDDED or DEBUG
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))

AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
if AWS_STORAGE_BUCKET_NAME:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
            "file_overwrite": False,
            "default_acl": None,
            "querystring_expire": env.int("AWS_QUERYSTRING_EXPIRE", default=3600),
        },
    }

# Uploads above this size are refused before they reach a view (413 in the error envelope).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2 * 1024 * 1024)

# --- Security (on by default outside DEBUG; behind a TLS proxy that sets X-Forwarded-Proto) ---
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
_SECURE_DEFAULT = not DEBUG and not EMBEDDED
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=_SECURE_DEFAULT)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if _SECURE_DEFAULT else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=_SECURE_DEFAULT)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=_SECURE_DEFAULT)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=_SECURE_DEFAULT)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=_SECURE_DEFAULT)
X_FRAME_OPTIONS = "DENY"

# --- API ---
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "config.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exceptions.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_THROTTLE_CLASSES": ["config.api.throttling.AnonThrottle", "config.api.throttling.UserThrottle"],
}
# Read at request time (config/api/throttling.py); a throttled request gets 429 RATE_LIMIT_EXCEEDED.
API_THROTTLE_RATES = {
    "anon": env.str("THROTTLE_ANON", default="120/min"),
    "user": env.str("THROTTLE_USER", default="2000/min"),
    "login_address": env.str("THROTTLE_LOGIN_ADDRESS", default="30/min"),
    "login_user": env.str("THROTTLE_LOGIN_USER", default="5/min"),
    "webhook": env.str("THROTTLE_WEBHOOK", default="600/min"),
    # Photo downloads of the edges (spec 001): a full sync of a large catalogue is many small requests.
    "photo_download": env.str("THROTTLE_PHOTO_DOWNLOAD", default="30000/min"),
}
# Trust X-Forwarded-For for the client address only behind this many proxies.
REST_FRAMEWORK["NUM_PROXIES"] = env.int("NUM_PROXIES", default=0)
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "UPDATE_LAST_LOGIN": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Retail Sync Hub API",
    "DESCRIPTION": "Product images, head office to edge photo distribution, NAS documents and store sync.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api.schema.add_error_responses",
    ],
}

# --- Celery (see config/celery.py) ---
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=EMBEDDED)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=55 * 60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=60 * 60)
# Longer than the hard time limit and than any countdown we schedule, so Redis never
# hands a task that is still running to a second worker.
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=CELERY_TASK_TIME_LIMIT + 15 * 60)
CELERY_MAX_COUNTDOWN = max(0, CELERY_VISIBILITY_TIMEOUT - 5 * 60)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
# Scale-out by kind of job: each app's tasks go to a queue of their own, named
# "<default queue>.<app>" (celery.photosync, celery.storesync, ...), so workers can be sized
# and placed per kind (`celery worker -Q celery.photosync`). Off: everything on the default queue.
CELERY_QUEUE_PER_KIND = env.bool("CELERY_QUEUE_PER_KIND", default=False)
JOB_KIND_APPS = ("catalog", "photosync", "nasync", "storesync")
CELERY_TASK_ROUTES = (
    {f"{app}.*": {"queue": f"{CELERY_TASK_DEFAULT_QUEUE}.{app}"} for app in JOB_KIND_APPS}
    if CELERY_QUEUE_PER_KIND
    else {}
)
# A task whose worker died this many times is dropped (and its job marked failed).
CELERY_MAX_REDELIVERIES = env.int("CELERY_MAX_REDELIVERIES", default=3)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Project-wide tasks outside the apps' tasks.py modules (a worker registers only these and the
# apps' autodiscovered tasks): the nightly prune and the stale-job reaper, both scheduled by beat.
CELERY_IMPORTS = ("config.retention", "config.reaper")
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# How long an endpoint whose spec returns a finished summary waits for its job.
JOB_WAIT_TIMEOUT = env.float("JOB_WAIT_TIMEOUT", default=300.0)
# A running job without a heartbeat for this long is considered lost and failed by the reaper.
JOB_STALE_AFTER = env.int("JOB_STALE_AFTER", default=CELERY_VISIBILITY_TIMEOUT + 10 * 60)

# --- E-commerce platforms ---
PLATFORM_URL_ALLOWLIST = env.list("PLATFORM_URL_ALLOWLIST", default=[])
PLATFORM_TIMEOUT = env.float("PLATFORM_TIMEOUT", default=10.0)
PLATFORM_RETRY_ATTEMPTS = env.int("PLATFORM_RETRY_ATTEMPTS", default=4)
PLATFORM_RETRY_BACKOFF = env.float("PLATFORM_RETRY_BACKOFF", default=0.5)
PLATFORM_MAX_IMAGE_BYTES = env.int("PLATFORM_MAX_IMAGE_BYTES", default=20 * 1024 * 1024)

# Finished jobs, history, delivered webhook attempts, superseded reports and resolved
# alerts older than this are pruned daily (manage.py prune).
RETENTION_DAYS = env.int("RETENTION_DAYS", default=90)

# Periodic tasks live in django-celery-beat's tables (editable in the admin); each app
# creates its defaults in a data migration.

# --- Image sync (photosync) ---
# Products per Celery chunk (several workers share a big store) and downloads at once per chunk.
IMAGE_SYNC_CHUNK_SIZE = env.int("IMAGE_SYNC_CHUNK_SIZE", default=200)
IMAGE_SYNC_CONCURRENCY = env.int("IMAGE_SYNC_CONCURRENCY", default=8)
# How long POST /sync/sync-images waits for its run before answering 202 with the run's URL (s).
IMAGE_SYNC_WAIT_TIMEOUT = env.float("IMAGE_SYNC_WAIT_TIMEOUT", default=JOB_WAIT_TIMEOUT)
# A chunk whose worker stopped renewing its claim for this long is taken over by another worker (s).
IMAGE_SYNC_CHUNK_LEASE = env.int("IMAGE_SYNC_CHUNK_LEASE", default=120)
# Per-product errors returned in the endpoint's answer (the run keeps the first 500).
IMAGE_SYNC_RESPONSE_ERRORS = env.int("IMAGE_SYNC_RESPONSE_ERRORS", default=50)
# Safe images: byte cap per download, pixel cap (Pillow's decompression-bomb limit).
IMAGE_MAX_BYTES = env.int("IMAGE_MAX_BYTES", default=PLATFORM_MAX_IMAGE_BYTES)
IMAGE_MAX_PIXELS = env.int("IMAGE_MAX_PIXELS", default=40_000_000)
# Cache warm-up: WebP renditions stored beside each original (longest side, pixels; never upscaled).
IMAGE_RENDITIONS = {
    "thumb": env.int("IMAGE_THUMB_SIZE", default=200),
    "medium": env.int("IMAGE_MEDIUM_SIZE", default=800),
}
IMAGE_WEBP_QUALITY = env.int("IMAGE_WEBP_QUALITY", default=80)
# Job statuses (every app's run table) get one stable name in the OpenAPI schema.
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {})["JobStatusEnum"] = "config.jobs.JobStatus"

# --- NAS documents (nasync) ---
# The NAS (spec 002): documents are pushed with rsync over ssh. Sync is configured when
# NAS_HOST, NAS_USER and NAS_PATH are set; the key is a path to a private key file.
NAS_HOST = env.str("NAS_HOST", default="")
NAS_USER = env.str("NAS_USER", default="")
NAS_PATH = env.str("NAS_PATH", default="")
NAS_PORT = env.int("NAS_PORT", default=22)
NAS_SSH_KEY = env.str("NAS_SSH_KEY", default="")
# A known_hosts file holding the NAS's host key: strict host key checking. Unset: the hub
# trusts the key seen first (accept-new) and pins it in VAR_DIR/nas_known_hosts.
NAS_KNOWN_HOSTS = env.str("NAS_KNOWN_HOSTS", default="")
NAS_CONNECT_TIMEOUT = env.int("NAS_CONNECT_TIMEOUT", default=15)
# rsync --bwlimit (KiB/s, or with a K/M/G suffix); empty: no limit.
NAS_BWLIMIT = env.str("NAS_BWLIMIT", default="")
# rsync --timeout: a transfer with no I/O for this long is stopped (s).
NAS_IO_TIMEOUT = env.int("NAS_IO_TIMEOUT", default=300)
# Uploads larger than this answer 413 PAYLOAD_TOO_LARGE (bytes).
NAS_MAX_UPLOAD_BYTES = env.int("NAS_MAX_UPLOAD_BYTES", default=25 * 1024 * 1024)
# Any request body larger than this is refused with 413 before Django reads it (bytes);
# the default leaves room for the largest document upload and its multipart framing.
REQUEST_MAX_BODY_BYTES = env.int("REQUEST_MAX_BODY_BYTES", default=NAS_MAX_UPLOAD_BYTES + 1024 * 1024)
# How long POST /api/v1/sync/run waits for its run before answering 202 with the run's URL (s).
NAS_SYNC_WAIT_TIMEOUT = env.float("NAS_SYNC_WAIT_TIMEOUT", default=JOB_WAIT_TIMEOUT)
# Documents per rsync process (one ssh connection per batch; a run of more uses several).
NAS_RSYNC_BATCH_SIZE = env.int("NAS_RSYNC_BATCH_SIZE", default=5000)
# A document that failed is retried after NAS_RETRY_BACKOFF * 2**(attempts-1) s (with jitter);
# after NAS_MAX_ATTEMPTS failures it is held until an operator requeues it in the admin.
NAS_MAX_ATTEMPTS = env.int("NAS_MAX_ATTEMPTS", default=5)
NAS_RETRY_BACKOFF = env.int("NAS_RETRY_BACKOFF", default=300)

# --- Store sync (storesync) ---
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
# request timeout (s), longest Retry-After honoured (s), lease of one attempt (s).
STORESYNC_WEBHOOK_MAX_ATTEMPTS = env.int("STORESYNC_WEBHOOK_MAX_ATTEMPTS", default=5)
STORESYNC_WEBHOOK_BACKOFF = env.int("STORESYNC_WEBHOOK_BACKOFF", default=300)
STORESYNC_WEBHOOK_TIMEOUT = env.float("STORESYNC_WEBHOOK_TIMEOUT", default=10.0)
STORESYNC_WEBHOOK_MAX_RETRY_AFTER = env.int("STORESYNC_WEBHOOK_MAX_RETRY_AFTER", default=24 * 3600)
STORESYNC_WEBHOOK_LEASE = env.int("STORESYNC_WEBHOOK_LEASE", default=300)
# Alerts: e-mail recipients, and an optional webhook (signed with its secret like the stores' ones).
STORESYNC_ALERT_EMAILS = env.list("STORESYNC_ALERT_EMAILS", default=[])
STORESYNC_ALERT_WEBHOOK_URL = env.str("STORESYNC_ALERT_WEBHOOK_URL", default="")
STORESYNC_ALERT_WEBHOOK_SECRET = env.str("STORESYNC_ALERT_WEBHOOK_SECRET", default="")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="retail-sync-hub@localhost")
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.smtp.EmailBackend"
    if env.str("EMAIL_HOST", default="")
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
# Prometheus /metrics: with a token set, scrapes must send "Authorization: Bearer <token>".
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Names of store sync's enums in the OpenAPI schema (several "status" fields mean different things).
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {}).update(
    {
        "SyncEntityTypeEnum": "storesync.constants.ENTITY_TYPES",
        "SyncConflictStatusEnum": "storesync.constants.CONFLICT_STATUSES",
        "SyncRuleActionEnum": "storesync.constants.RULE_ACTIONS",
        "SyncRuleActionInputEnum": "storesync.constants.RULE_ACTION_INPUTS",
        "SyncJobStatusEnum": "storesync.constants.API_JOB_STATUSES",
        "SyncHistoryStatusEnum": "storesync.constants.API_HISTORY_STATUSES",
        "SyncEntityStatusEnum": "storesync.constants.API_ENTITY_STATUSES",
        "SyncEntityResultStatusEnum": "storesync.constants.API_ENTITY_RESULT_STATUSES",
        "SyncOverallStatusEnum": "storesync.constants.API_OVERALL_STATUSES",
        "SyncPauseStatusEnum": "storesync.constants.API_PAUSE_STATUSES",
    }
)

# --- Edge mode ---
HO_USERNAME = env.str("HO_USERNAME", default="")
HO_PASSWORD = env.str("HO_PASSWORD", default="")
HO_STORE_ID = env.str("HO_STORE_ID", default="")
# Where the edge agent keeps its copies of the photos (a local file system: writes are atomic renames).
EDGE_PHOTO_ROOT = env.str("EDGE_PHOTO_ROOT", default=str(VAR_DIR / "edge-photos"))
EDGE_SYNC_CONCURRENCY = env.int("EDGE_SYNC_CONCURRENCY", default=5)  # downloads at once (spec: at most 5)
EDGE_SYNC_PAGE_SIZE = env.int("EDGE_SYNC_PAGE_SIZE", default=100)
EDGE_REPORT_BATCH = env.int("EDGE_REPORT_BATCH", default=100)
EDGE_HTTP_TIMEOUT = env.float("EDGE_HTTP_TIMEOUT", default=30.0)
EDGE_HTTP_RETRIES = env.int("EDGE_HTTP_RETRIES", default=4)  # retries of a transient HO error, with backoff
EDGE_RETRY_BACKOFF = env.float("EDGE_RETRY_BACKOFF", default=1.0)  # seconds, doubled per retry, with jitter
# Head office: server_time lags the clock by this much, so a change committed late is listed again.
PHOTO_SYNC_WATERMARK_LAG = env.float("PHOTO_SYNC_WATERMARK_LAG", default=5.0)

# --- Logging ---
# JSON lines in production (one object per line, for a log pipeline), readable lines otherwise.
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if EMBEDDED or DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "config.observability.ContextFilter"},
        "redact_tokens": {"()": "config.ws_auth.RedactQueryTokens"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "config.logconfig.JsonFormatter"},  # the fields: config/logconfig.py
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context", "redact_tokens"]}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}
if LOG_FORMAT == "json":  # uvicorn's lines too (config/uvicorn_log.json also covers its supervisor)
    LOGGING["loggers"].update(
        {name: {"handlers": ["console"], "level": "INFO", "propagate": False} for name in ("uvicorn", "uvicorn.access")}
    )
