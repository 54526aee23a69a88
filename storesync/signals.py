"""Signals store sync sends; the wings connect their receivers in ``StoreSyncConfig.ready``."""

from django.dispatch import Signal

# Sent by ``services.resume_sync`` after a store's sync is resumed (kwargs: ``store``, ``config``).
sync_resumed = Signal()
