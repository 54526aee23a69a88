"""Domain errors of store sync: :class:`config.errors.DomainError` subclasses, so the one DRF
exception handler renders them (their ``code`` and ``http_status`` are class attributes)."""

from __future__ import annotations

from config.error_codes import ErrorCode
from config.errors import DomainError
from storesync.error_codes import SyncErrorCode


class SyncError(DomainError):
    code = ErrorCode.VALIDATION_ERROR
    http_status = 400

    def __init__(self, message: str = "", detail=None, *, code: str | None = None, http_status: int | None = None):
        super().__init__(code, http_status, message, detail)


class SyncNotConfigured(SyncError):
    code = SyncErrorCode.SYNC_NOT_CONFIGURED
    http_status = 409
    default_message = "Store sync is not configured for this store; POST sync/configure first."


class SyncPaused(SyncError):
    code = SyncErrorCode.SYNC_PAUSED
    http_status = 409
    default_message = "Sync is paused for this store; POST sync/resume first."


class QueueFull(SyncError):
    code = ErrorCode.SYNC_IN_PROGRESS
    http_status = 409


class ConflictNotPending(SyncError):
    code = SyncErrorCode.DATA_CONFLICT
    http_status = 409


class JobStateConflict(SyncError):
    """A job action its status does not allow (approve a job that is not held...)."""

    code = SyncErrorCode.DATA_CONFLICT
    http_status = 409


class ConflictStale(SyncError):
    """A side moved since the conflict was recorded: the choice was made on values that are gone."""

    code = SyncErrorCode.CONFLICT_STALE
    http_status = 409


class JobNotFinished(SyncError):
    """An undo of a job still queued, running or held: its writes are not known yet."""

    code = SyncErrorCode.JOB_NOT_FINISHED
    http_status = 409


class JobNotUndoable(SyncError):
    """An undo of a job that wrote nothing by design (a preview)."""

    code = SyncErrorCode.JOB_NOT_UNDOABLE
    http_status = 409


class InvalidSyncInput(SyncError):
    """Input that is well formed but not acceptable (an entity not configured...)."""


class ShopWriteFailed(SyncError):
    """The shop refused or did not take a write; ``code`` is the connector's."""

    http_status = 502

    def __init__(self, message: str, code: str):
        super().__init__(message, code=code)


class WebhookRejected(SyncError):
    code = SyncErrorCode.WEBHOOK_SIGNATURE_INVALID
    http_status = 401


class WebhookReplayed(SyncError):
    code = SyncErrorCode.WEBHOOK_REPLAYED
    http_status = 409
