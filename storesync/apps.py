from django.apps import AppConfig
from django.db.models import Q
from django.db.models.signals import post_delete, post_save

from config.errors import register_error_codes
from config.metrics import register_collector
from storesync.error_codes import SyncErrorCode
from storesync.signals import sync_resumed


class StoreSyncConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "storesync"
    verbose_name = "Store sync"

    def ready(self) -> None:
        # Imported here: models may only be imported once the app registry is ready.
        from catalog.models import Customer, Order, Product
        from config import retention
        from config.jobs import JobStatus, job_changed
        from storesync import (
            runner,  # noqa: F401  (StoreSyncRunner registers itself as StoreSyncJob's runner)
            tombstones,
        )
        from storesync.health import alerts, prometheus
        from storesync.health.models import Alert
        from storesync.models import (
            OWED_STATUSES,
            DeadLetter,
            StoreSyncJob,
            SyncChange,
            SyncConflict,
            SyncTombstone,
        )
        from storesync.webhooks import receivers
        from storesync.webhooks.models import InboundWebhook, WebhookDelivery

        register_error_codes(self.label, SyncErrorCode)
        register_collector(self.label, prometheus.collect)

        retention.register("store sync jobs", retention.finished_jobs(StoreSyncJob))
        # Pruned in batches before their jobs ("change history" sorts first), not in one cascade
        # per job; never the rows of a job still queued, running or held (a held preview's plan).
        retention.register(
            "store sync change history",
            lambda cutoff: SyncChange.objects.filter(created_at__lt=cutoff).exclude(
                job__status__in=[JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.HELD]
            ),
        )
        retention.register(
            "store sync conflicts (settled)",
            lambda cutoff: SyncConflict.objects.filter(~Q(status="pending"), updated_at__lt=cutoff),
        )
        retention.register(
            "store sync dead letters (resolved or dropped)",
            lambda cutoff: DeadLetter.objects.exclude(status__in=OWED_STATUSES).filter(updated_at__lt=cutoff),
        )

        # Delete propagation: a linked platform record deleted leaves a tombstone for the next sync.
        for model in (Product, Customer):
            post_delete.connect(
                tombstones.platform_record_deleted, sender=model, dispatch_uid=f"storesync.tombstone.{model}"
            )
        retention.register(
            "store sync tombstones (processed)",
            lambda cutoff: SyncTombstone.objects.filter(processed_at__lt=cutoff),
        )

        # The webhooks wing: sync.completed / sync.failed, platform changes, notifications held while paused.
        job_changed.connect(receivers.store_sync_finished, dispatch_uid="storesync.webhooks.job_finished")
        job_changed.connect(alerts.job_held, dispatch_uid="storesync.health.job_held")
        for model in (Product, Customer, Order):
            post_save.connect(receivers.platform_record_saved, sender=model, dispatch_uid=f"storesync.out.{model}")
        sync_resumed.connect(receivers.sync_resumed, dispatch_uid="storesync.webhooks.release_held")
        retention.register(
            "store sync inbound webhooks", lambda cutoff: InboundWebhook.objects.filter(received_at__lt=cutoff)
        )
        retention.register(
            "store sync webhook deliveries (settled)",
            lambda cutoff: WebhookDelivery.objects.exclude(status="pending").filter(updated_at__lt=cutoff),
        )
        retention.register(
            "store sync alerts (resolved)",
            lambda cutoff: Alert.objects.filter(status="resolved", resolved_at__lt=cutoff),
        )
