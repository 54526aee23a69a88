from django.apps import AppConfig
from django.conf import settings
from PIL import Image

from config.errors import register_error_codes
from config.metrics import register_collector
from photosync.error_codes import PhotoErrorCode


class PhotoSyncConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "photosync"
    verbose_name = "Product photos"

    def ready(self) -> None:
        register_error_codes(self.label, PhotoErrorCode)
        # Models (and what imports them) only once the app registry is ready.
        from config import retention
        from photosync import prometheus as photosync_prometheus
        from photosync.models import EdgeStatusReport, EdgeSyncRun, ImageSyncRun

        register_collector(self.label, photosync_prometheus.collect)
        retention.register("image sync runs", retention.finished_jobs(ImageSyncRun))
        retention.register("edge sync runs", retention.finished_jobs(EdgeSyncRun))
        # A report is superseded once its photo is deleted (the tombstone stays for the edges).
        retention.register(
            "edge status reports of deleted photos",
            lambda cutoff: EdgeStatusReport.objects.filter(photo__deleted_at__lt=cutoff),
        )
        # Pillow's decompression-bomb limit, for every image this process opens.
        Image.MAX_IMAGE_PIXELS = settings.IMAGE_MAX_PIXELS
