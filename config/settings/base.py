"""The environment (read once), runtime mode, paths, apps, middleware, templates, database, cache, i18n and static files."""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# The only place the environment (and .env, see .env.example) is read: the other settings
# modules import ``env`` from here.
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# Runtime modes:
# - embedded (the default, nothing set): SQLite and media under ``var/``, Celery tasks run
#   in-process, in-memory channel layer and cache;
# - production: ``DATABASE_URL`` and ``REDIS_URL`` set (broker, channel layer, cache), S3
#   storage when ``AWS_STORAGE_BUCKET_NAME`` is set;
# - edge: ``HO_URL`` set; the edge agent pulls photos from head office.
REDIS_URL = env.str("REDIS_URL", default="")
EMBEDDED = not REDIS_URL
HO_URL = env.str("HO_URL", default="")
EDGE_MODE = bool(HO_URL)
RUNTIME_MODE = "edge" if EDGE_MODE else ("embedded" if EMBEDDED else "production")

DEBUG = env.bool("DEBUG", default=False)

# The hub's address as its clients reach it (webhook URLs, image links). `make run` passes the
# address it serves as LISTEN_URL, the default when PUBLIC_BASE_URL is not set.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default=env.str("LISTEN_URL", default="http://127.0.0.1:8000")).rstrip("/")

INSTALLED_APPS = [
    # The console's theme: its templates must be found before the stock admin's.
    "unfold",
    "unfold.contrib.filters",
    "unfold.contrib.forms",
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
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc as static files, no CDN
    "django_celery_beat",
    "channels",
    "storages",
    "catalog",
    "photosync",
    "nasync",
    "storesync",
    "operations",
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
# answered 500s at 50 clients with 60). The pool below keeps connections instead.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Production mode on PostgreSQL: psycopg 3's pool, one per process, so a request borrows an
# open connection instead of opening one (about 5 % of an API request's time). Django
# requires CONN_MAX_AGE 0 with it; Celery's prefork children close the pool they inherit.
DB_POOL = (
    DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    and not EMBEDDED
    and env.bool("DB_POOL", default=True)
)
if DB_POOL:
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DB_POOL_MIN_SIZE", default=2),
        "max_size": env.int("DB_POOL_MAX_SIZE", default=20),
        # Seconds a request waits for a free connection before failing.
        "timeout": env.float("DB_POOL_TIMEOUT", default=10.0),
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # IMMEDIATE: a transaction takes the write lock when it begins. A deferred one that read
    # first cannot upgrade its lock while another connection writes, and SQLite answers
    # "database is locked" at once instead of waiting: two racing job triggers gave a 500.
    # The timeout (seconds) is how long a connection waits for the write lock.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": env.int("SQLITE_TIMEOUT", default=20),
        "init_command": "PRAGMA journal_mode=WAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if EMBEDDED:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
else:
    CACHES = {
        "default": {
            "BACKEND": "config.cache.SharedPoolRedisCache",  # one connection pool per process
            "LOCATION": REDIS_URL,
            # Separates hubs (or test runs) sharing one Redis database.
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default=""),
        }
    }
    # Redis pub/sub: a group message is one PUBLISH that each web process fans out to its own
    # consumers (no per-consumer list to pop; config.channel_groups publishes from workers).
    # Pub/sub channels ignore the database number of REDIS_URL: the prefix alone keeps apart
    # the hubs (or test runs) that share one Redis server.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [{"address": REDIS_URL}],
                "prefix": env.str("CHANNEL_LAYER_PREFIX", default="asgi" + env.str("CACHE_KEY_PREFIX", default="")),
            },
        },
    }

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
