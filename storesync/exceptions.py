"""Domain errors of store sync; each knows its HTTP status and machine code for the API."""

from __future__ import annotations

from storesync.constants import SYNC_NOT_CONFIGURED, SYNC_PAUSED


class SyncError(Exception):
    status = 400
    code = "VALIDATION_ERROR"

    def __init__(self, message: str, detail=None):
        super().__init__(message)
        self.message = message
        self.detail = detail


class SyncNotConfigured(SyncError):
    status = 409
    code = SYNC_NOT_CONFIGURED

    def __init__(self, message: str = "Store sync is not configured for this store; POST sync/configure first."):
        super().__init__(message)


class SyncPaused(SyncError):
    status = 409
    code = SYNC_PAUSED

    def __init__(self, message: str = "Sync is paused for this store; POST sync/resume first."):
        super().__init__(message)


class QueueFull(SyncError):
    status = 409
    code = "SYNC_IN_PROGRESS"


class ConflictNotPending(SyncError):
    status = 409
    code = "DATA_CONFLICT"


class InvalidSyncInput(SyncError):
    """Input that is well formed but not acceptable (an entity not configured...)."""


class ShopWriteFailed(SyncError):
    """The shop refused or did not take a write; ``code`` is the connector's."""

    status = 502

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code
