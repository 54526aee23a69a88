"""The image sync's answers and its runs."""

from rest_framework import serializers

from config.api.jobs import job_url
from photosync.models import ImageSyncRun


class ProductErrorSerializer(serializers.Serializer):
    product_id = serializers.IntegerField(help_text="The product's id in the hub.")
    id_origin = serializers.IntegerField(help_text="The product's id in the shop.")
    code = serializers.CharField(help_text="e.g. IMAGE_INVALID, IMAGE_TOO_LARGE, SYNC_TIMEOUT, PLATFORM_NOT_FOUND")
    message = serializers.CharField()


class ImageSyncResultSerializer(serializers.Serializer):
    """200: the finished run, in the image sync API's shape plus the counters."""

    id_store = serializers.IntegerField()
    success = serializers.BooleanField(help_text="Always true with 200.")
    products_processed = serializers.IntegerField()
    message = serializers.CharField(help_text='"Image sync completed for N products."')
    downloaded = serializers.IntegerField(help_text="Products whose default image was new or changed and stored.")
    unchanged = serializers.IntegerField(help_text="Products whose photo was already up to date (no bytes moved).")
    fallback = serializers.IntegerField(help_text="Products given another shop image or a placeholder.")
    failed = serializers.IntegerField(help_text="Products whose image could not be synced; their photo is kept.")
    errors = ProductErrorSerializer(many=True, help_text="Per-product errors (capped).")
    run_id = serializers.UUIDField()


class ImageSyncQueuedSerializer(serializers.Serializer):
    """202: the run is queued or still running; follow it at ``url``."""

    id_store = serializers.IntegerField()
    success = serializers.BooleanField()
    run_id = serializers.UUIDField()
    status = serializers.CharField()
    url = serializers.URLField()
    message = serializers.CharField()


def run_url(request, run: ImageSyncRun) -> str:
    return job_url(request, "image-sync-run-detail", run)


class ImageSyncRunSerializer(serializers.ModelSerializer):
    id_store = serializers.IntegerField(source="store_id", read_only=True)
    progress = serializers.FloatField(read_only=True, help_text="Percentage of products processed.")
    products_total = serializers.IntegerField(source="items_total", read_only=True)
    products_processed = serializers.IntegerField(source="items_processed", read_only=True)
    downloaded = serializers.SerializerMethodField()
    unchanged = serializers.SerializerMethodField()
    fallback = serializers.SerializerMethodField()
    failed = serializers.IntegerField(source="items_failed", read_only=True)
    duration = serializers.FloatField(read_only=True, allow_null=True, help_text="Seconds.")
    url = serializers.SerializerMethodField()

    class Meta:
        model = ImageSyncRun
        fields = [
            "id",
            "id_store",
            "status",
            "trigger",
            "progress",
            "products_total",
            "products_processed",
            "downloaded",
            "unchanged",
            "fallback",
            "failed",
            "error_count",
            "message",
            "created_at",
            "started_at",
            "finished_at",
            "duration",
            "url",
        ]
        read_only_fields = fields

    def get_downloaded(self, run) -> int:
        return int(run.counters.get("downloaded", 0))

    def get_unchanged(self, run) -> int:
        return int(run.counters.get("unchanged", 0))

    def get_fallback(self, run) -> int:
        return int(run.counters.get("fallback", 0))

    def get_url(self, run) -> str:
        return run_url(self.context["request"], run)


class ImageSyncRunDetailSerializer(ImageSyncRunSerializer):
    errors = ProductErrorSerializer(many=True, read_only=True, help_text="Per-product errors (the first 500).")

    class Meta(ImageSyncRunSerializer.Meta):
        fields = [*ImageSyncRunSerializer.Meta.fields, "errors"]
        read_only_fields = fields
