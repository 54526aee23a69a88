"""Logging: JSON lines in production (one object per line, for a log pipeline), readable lines otherwise."""

from config.settings.base import DEBUG, EMBEDDED, env

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
