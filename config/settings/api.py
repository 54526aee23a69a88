"""The API: Django REST framework, simplejwt tokens, throttle rates and the drf-spectacular schema."""

from datetime import timedelta

from config.settings.base import DEBUG, env

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "catalog.tokens.StampedJWTAuthentication",  # simplejwt's, refusing revoked tokens
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "config.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exceptions.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "config.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_THROTTLE_CLASSES": ["config.api.throttling.AnonThrottle", "config.api.throttling.UserThrottle"],
    # Trust X-Forwarded-For for the client address only behind this many proxies.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")

# JSON bodies (API, inbound webhooks, event stream messages) nested deeper than this answer 400.
API_JSON_MAX_DEPTH = env.int("API_JSON_MAX_DEPTH", default=32)

# Read at request time (config/api/throttling.py); a throttled request gets 429 RATE_LIMIT_EXCEEDED.
API_THROTTLE_RATES = {
    "anon": env.str("THROTTLE_ANON", default="120/min"),
    "user": env.str("THROTTLE_USER", default="2000/min"),
    "login_address": env.str("THROTTLE_LOGIN_ADDRESS", default="30/min"),
    "login_user": env.str("THROTTLE_LOGIN_USER", default="5/min"),
    "webhook": env.str("THROTTLE_WEBHOOK", default="600/min"),
    # Photo downloads of the edges: a full sync of a large catalogue is many small requests.
    "photo_download": env.str("THROTTLE_PHOTO_DOWNLOAD", default="30000/min"),
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "UPDATE_LAST_LOGIN": True,
    # Tokens carry a stamp of the account's access; a change of it revokes them (catalog/tokens.py).
    "TOKEN_OBTAIN_SERIALIZER": "catalog.tokens.TokenObtainPairSerializer",
    "TOKEN_REFRESH_SERIALIZER": "catalog.tokens.TokenRefreshSerializer",
    "TOKEN_VERIFY_SERIALIZER": "catalog.tokens.TokenVerifySerializer",
}

# Seconds a user's permissions and role stay cached under their account stamp
# (catalog/tokens.py); a revocation never waits for it.
AUTH_ACCESS_CACHE_SECONDS = env.int("AUTH_ACCESS_CACHE_SECONDS", default=30)

SPECTACULAR_SETTINGS = {
    "TITLE": "Retail Sync Hub API",
    "DESCRIPTION": "Product images, head office to edge photo distribution, NAS documents and store sync.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # /api/docs/ and /api/redoc/ load their scripts from the hub's static files
    # (drf-spectacular-sidecar), never from a CDN: they render offline and under a strict CSP.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api.schema.add_error_responses",
    ],
    # Stable names of enums in the schema; the apps' settings modules add their own (storesync).
    "ENUM_NAME_OVERRIDES": {
        # Job statuses (every app's run table) get one stable name.
        "JobStatusEnum": "config.jobs.JobStatus",
    },
}
