"""The job endpoints every app writes the same way.

``job_answer``: a view has started a job; wait for it up to a timeout (``JOB_WAIT_TIMEOUT``
by default) and answer with the finished summary, or answer 202 with the run's URL (in the
body and in ``Location``) when it is still running or the caller asked ``async=true``.
``JobRunListView`` and ``JobRunDetailView``: a run table, newest first, and one run by its
UUID (a malformed or unknown id is a 404).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.db.models import QuerySet
from django.urls import reverse
from rest_framework import generics, status
from rest_framework.response import Response

from config.error_codes import ErrorCode
from config.errors import DomainError
from config.jobs import Job, wait_for_job


def job_url(request, route: str, job: Job) -> str:
    """The absolute URL of the run detail route ``route`` (its keyword ``run_id``)."""
    return request.build_absolute_uri(reverse(route, kwargs={"run_id": job.pk}))


def wait_for_answer(job: Job, *, run_async: bool, timeout: float | None = None) -> Job:
    """The fresh row: at once with ``run_async``, else once finished or after ``timeout`` seconds."""
    if run_async:
        job.refresh_from_db()
        return job
    return wait_for_job(job, timeout=timeout)


def accepted(data, url: str) -> Response:
    """202 with ``Location``: the job goes on; follow it at ``url``."""
    return Response(data, status=status.HTTP_202_ACCEPTED, headers={"Location": url})


def job_answer(
    request,
    job: Job,
    *,
    run_async: bool,
    route: str,
    queued: Callable[[Job, str], dict],
    finished: Callable[[Job], Response],
    timeout: float | None = None,
) -> Response:
    """Wait for ``job`` (see :func:`wait_for_answer`); ``queued(job, url)`` is the 202 body,
    ``finished(job)`` the answer of a finished job (it may raise a DomainError)."""
    job = wait_for_answer(job, run_async=run_async, timeout=timeout)
    if run_async or job.is_active:
        url = job_url(request, route, job)
        return accepted(queued(job, url), url)
    return finished(job)


# The run views carry no docstrings: drf-spectacular would publish them as each endpoint's description.
class JobRunsMixin:
    # ``model``: the run table; override ``runs()`` to scope it (e.g. to the caller's stores).

    model: type[Job]
    ordering = ("-created_at", "-pk")

    def runs(self) -> QuerySet:
        return self.model.objects.all()

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return self.model.objects.none()
        return self.runs().order_by(*self.ordering)


class JobRunListView(JobRunsMixin, generics.ListAPIView):
    # The runs, newest first (paginated as every list).
    pass


class JobRunDetailView(JobRunsMixin, generics.RetrieveAPIView):
    # One run by its UUID; ``not_found_message`` answers 404 NOT_FOUND.
    not_found_message = "Run not found"

    def get_object(self):
        try:
            run_id = uuid.UUID(str(self.kwargs["run_id"]))
        except ValueError:
            raise DomainError(ErrorCode.NOT_FOUND, 404, str(self.not_found_message)) from None
        run = self.get_queryset().filter(pk=run_id).first()
        if run is None:
            raise DomainError(ErrorCode.NOT_FOUND, 404, str(self.not_found_message))
        self.check_object_permissions(self.request, run)
        return run
