"""The log formats, shared by Django, Celery and uvicorn: JSON in production, plain lines otherwise.

uvicorn's access lines become fields of their own (client, method, path, status) instead of
one preformatted message; ``config/uvicorn_log.json`` (uvicorn's ``--log-config``, in every
mode: ``make run``, ``make demo``, the Dockerfile, docker-compose.yml) puts uvicorn's own
loggers on the format ``LOGGING`` chooses (:func:`hub_formatter`) and on the token-redacting
filter, also in its supervisor process, which never loads Django's settings.
"""

from __future__ import annotations

import logging

from django.utils.module_loading import import_string
from pythonjsonlogger.json import JsonFormatter as BaseJsonFormatter

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(job_id)s %(store_id)s"
RENAME_FIELDS = {"asctime": "time", "levelname": "level", "name": "logger"}
ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")


class JsonFormatter(BaseJsonFormatter):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("fmt", FORMAT)
        kwargs.setdefault("rename_fields", RENAME_FIELDS)
        super().__init__(*args, **kwargs)

    def add_fields(self, log_record: dict, record: logging.LogRecord, message_dict: dict) -> None:
        super().add_fields(log_record, record, message_dict)
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            log_record.update(zip(ACCESS_FIELDS, record.args, strict=True))


def hub_formatter() -> logging.Formatter:
    """The formatter ``LOGGING`` names for ``LOG_FORMAT`` (JSON or plain), for configurations
    loaded before Django (uvicorn's ``--log-config``): one choice of format for every logger."""
    from config.settings.logging import LOG_FORMAT, LOGGING  # reads the environment and .env only

    spec = dict(LOGGING["formatters"][LOG_FORMAT])
    factory = spec.pop("()", None)
    return import_string(factory)(**spec) if factory else logging.Formatter(spec["format"])
