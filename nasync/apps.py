from django.apps import AppConfig


class NasSyncConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "nasync"
