from django.apps import AppConfig


class PhotoSyncConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "photosync"
