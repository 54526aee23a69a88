from django.apps import AppConfig


class NasSyncConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "nasync"
    verbose_name = "NAS documents"

    def ready(self) -> None:
        from config.errors import register_error_codes
        from config.metrics import register_collector
        from nasync import prometheus as nasync_prometheus
        from nasync.error_codes import NasErrorCode

        register_error_codes(self.label, NasErrorCode)
        register_collector(self.label, nasync_prometheus.collect)
        from config import retention
        from nasync.models import NasSyncRun

        retention.register("NAS runs", retention.finished_jobs(NasSyncRun))
