from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CatalogConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "catalog"

    def ready(self) -> None:
        from catalog.error_codes import CatalogErrorCode
        from config.errors import register_error_codes

        register_error_codes(self.label, CatalogErrorCode)
        from catalog.models import ImportRun
        from catalog.roles import sync_role_permissions
        from config import retention

        retention.register("catalog import runs", retention.finished_jobs(ImportRun))

        post_migrate.connect(sync_role_permissions, sender=self, dispatch_uid="catalog_sync_role_permissions")
