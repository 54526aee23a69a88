"""Signal receivers of the watched sync (connected in ``StoreSyncConfig.ready``)."""

from __future__ import annotations

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def platform_record_saved(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    """A catalogue record saved on the platform side: tell the store (outbound webhook).
    The sync engine writes in bulk (no signal), so its own writes are not echoed back."""
    if raw:
        return

    def run():
        from storesync.webhooks_out import record_changed

        try:
            record_changed(instance, created)
        except Exception:
            logger.warning("could not queue the webhook of %s %s", sender.__name__, instance.pk, exc_info=True)

    transaction.on_commit(run)
