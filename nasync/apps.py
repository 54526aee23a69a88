from django.apps import AppConfig

from config.errors import register_error_codes
from config.metrics import register_collector
from nasync.error_codes import NasErrorCode


class NasSyncConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "nasync"
    verbose_name = "NAS documents"

    def ready(self) -> None:
        register_error_codes(self.label, NasErrorCode)
        # Models (and what imports them) only once the app registry is ready.
        from config import retention
        from nasync import prometheus as nasync_prometheus
        from nasync.models import NasSyncRun

        register_collector(self.label, nasync_prometheus.collect)
        retention.register("NAS runs", retention.finished_jobs(NasSyncRun))
