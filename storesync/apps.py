from django.apps import AppConfig


class StoreSyncConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "storesync"
    verbose_name = "Store sync"

    def ready(self) -> None:
        from config.errors import register_error_codes
        from storesync.error_codes import SyncErrorCode

        register_error_codes(self.label, SyncErrorCode)
        from django.db.models import Q

        from config import retention
        from storesync.models import DeadLetter, DeadLetterStatus, StoreSyncJob, SyncConflict

        retention.register("store sync jobs", retention.finished_jobs(StoreSyncJob))
        retention.register(
            "store sync conflicts (settled)",
            lambda cutoff: SyncConflict.objects.filter(~Q(status="pending"), updated_at__lt=cutoff),
        )
        retention.register(
            "store sync dead letters (resolved)",
            lambda cutoff: DeadLetter.objects.filter(status=DeadLetterStatus.RESOLVED, updated_at__lt=cutoff),
        )
        self.ready_watch()

    def ready_watch(self) -> None:
        """The event stream, outbound webhooks on platform changes, retention of their rows."""
        from django.db.models.signals import post_save

        from catalog.models import Customer, Order, Product
        from config import retention
        from config.jobs import job_changed
        from storesync import events, receivers
        from storesync.watch_models import Alert, InboundWebhook, WebhookDelivery

        job_changed.connect(events.on_job_changed, dispatch_uid="storesync.events")
        for model in (Product, Customer, Order):
            post_save.connect(receivers.platform_record_saved, sender=model, dispatch_uid=f"storesync.out.{model}")
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
