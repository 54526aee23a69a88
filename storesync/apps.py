from django.apps import AppConfig


class StoreSyncConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "storesync"
