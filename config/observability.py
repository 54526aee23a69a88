"""Request ids and log context: one id follows a request into the Celery tasks it starts.

An incoming ``X-Request-ID`` is kept when it is short and safe, else a new one is made;
it is returned in the response header, put on every log line of the request, sent with
the Celery tasks the request enqueues, and restored in the worker. Job code adds the
job id and store to its lines with :func:`log_context`.
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid
from contextlib import contextmanager

from celery import signals

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
job_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("job_id", default="")
store_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("store_id", default="")

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def clean_request_id(value: str | None) -> str:
    """The client's id if it is short and safe to log, else a fresh one."""
    if value and _SAFE_REQUEST_ID.match(value):
        return value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = clean_request_id(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


class ContextFilter(logging.Filter):
    """Puts the request id, job id and store id on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.job_id = job_id_var.get()
        record.store_id = store_id_var.get()
        return True


@contextmanager
def log_context(*, job_id=None, store_id=None):
    tokens = []
    if job_id is not None:
        tokens.append((job_id_var, job_id_var.set(str(job_id))))
    if store_id is not None:
        tokens.append((store_id_var, store_id_var.set(str(store_id))))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


@signals.before_task_publish.connect
def _send_request_id(headers=None, **_kwargs) -> None:
    request_id = request_id_var.get()
    if request_id and headers is not None:
        headers.setdefault("request_id", request_id)


@signals.task_prerun.connect
def _restore_request_id(task=None, **_kwargs) -> None:
    if task.request.is_eager:
        return  # same thread as the request: the id is already set
    request_id = getattr(task.request, "request_id", None) or (task.request.headers or {}).get("request_id")
    request_id_var.set(request_id or "")
