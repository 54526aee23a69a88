from django.apps import AppConfig


class OperationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "operations"
    verbose_name = "Operations"

    def ready(self) -> None:
        from config.jobs import job_changed
        from operations import events

        # The event stream: every job table's changes become WebSocket messages.
        job_changed.connect(events.on_job_changed, dispatch_uid="operations.events")
