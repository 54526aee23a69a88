"""The NAS sync's failures as :class:`config.errors.DomainError`: a rejected upload, and a
:class:`~nasync.messages.Problem` (what a run or a check met) mapped onto its HTTP answer.

Messages are rendered when the error is built, in the active language (the request's)."""

from __future__ import annotations

from config.error_codes import ErrorCode
from config.errors import DomainError
from nasync.error_codes import NasErrorCode
from nasync.messages import Problem

# Problem code -> (HTTP status, error code) when a run could not use the NAS; others: 502 NETWORK_ERROR.
PROBLEM_ANSWERS: dict[str, tuple[int, str]] = {
    "timeout": (504, ErrorCode.SYNC_TIMEOUT),
    "io_timeout": (504, ErrorCode.SYNC_TIMEOUT),
    "not_configured": (400, NasErrorCode.NAS_NOT_CONFIGURED),
    "invalid_config": (400, NasErrorCode.NAS_NOT_CONFIGURED),
    "key_unreadable": (400, NasErrorCode.NAS_NOT_CONFIGURED),
}
DEFAULT_ANSWER = (502, ErrorCode.NETWORK_ERROR)


def problem_answer(problem: Problem) -> tuple[int, str]:
    """(HTTP status, error code) of a problem that stopped a run."""
    return PROBLEM_ANSWERS.get(problem.code, DEFAULT_ANSWER)


class NasProblem(DomainError):
    """A problem that keeps the NAS from being used: a configuration that does not allow a sync
    (400 NAS_NOT_CONFIGURED), or what stopped a run (``detail``: the run's summary)."""

    def __init__(self, problem: Problem, detail=None):
        self.problem = problem
        http_status, code = problem_answer(problem)
        super().__init__(code, http_status, problem.text(), detail)


class DocumentRejected(DomainError):
    """An upload that is not an accepted document (400 VALIDATION_ERROR; the message names why)."""

    code = ErrorCode.VALIDATION_ERROR
    http_status = 400

    def __init__(self, message):
        message = str(message)
        super().__init__(message=message, detail={"file": [message]})
