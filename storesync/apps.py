from django.apps import AppConfig


class StoreSyncConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "storesync"
    verbose_name = "Store sync"

    def ready(self) -> None:
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
