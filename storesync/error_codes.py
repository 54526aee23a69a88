"""Error codes of the store sync (the store sync API names most of them); registered in ``StoreSyncConfig.ready``.

Codes every app can meet (``VALIDATION_ERROR``, ``SYNC_IN_PROGRESS``, ``INVALID_DATA_FORMAT``...)
are the hub's, in ``config.error_codes.ErrorCode``.
"""

from enum import StrEnum


class SyncErrorCode(StrEnum):
    DATA_CONFLICT = "DATA_CONFLICT"
    CONFLICT_STALE = "CONFLICT_STALE"
    WEBHOOK_FAILED = "WEBHOOK_FAILED"
    SYNC_PAUSED = "SYNC_PAUSED"
    SYNC_NOT_CONFIGURED = "SYNC_NOT_CONFIGURED"
    WEBHOOK_SIGNATURE_INVALID = "WEBHOOK_SIGNATURE_INVALID"
    WEBHOOK_REPLAYED = "WEBHOOK_REPLAYED"
    JOB_NOT_FINISHED = "JOB_NOT_FINISHED"
    JOB_NOT_UNDOABLE = "JOB_NOT_UNDOABLE"
