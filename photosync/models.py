"""Product photos and the image-sync runs that fill them from the shops."""

import uuid

from django.db import models
from django.db.models import Q

from config.jobs import Job


class PhotoSource(models.TextChoices):
    PLATFORM = "platform", "Shop image"
    FALLBACK = "fallback", "Generated placeholder"
    UPLOAD = "upload", "Uploaded"


class ProductPhoto(models.Model):
    """A product's photo in object storage, content-addressed by its MD5.

    The image sync owns each product's primary photo (source ``platform`` or
    ``fallback``); an ``upload`` is never replaced by a sync. ``version`` moves only when
    the bytes change; ``updated_at`` only when something an edge copies changes. A deleted
    photo keeps its row with ``deleted_at`` set (a tombstone for incremental edge sync).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    store = models.ForeignKey("catalog.Store", on_delete=models.CASCADE, related_name="product_photos")
    product = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="photos")
    source = models.CharField(max_length=20, choices=PhotoSource.choices, default=PhotoSource.PLATFORM)
    shop_image_id = models.PositiveBigIntegerField(null=True, blank=True, help_text="The image's id in the shop.")
    object_key = models.CharField(max_length=500, help_text="products/<product uuid>/<md5>.<ext>")
    filename = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=100)
    checksum = models.CharField(max_length=32, help_text="MD5 of the bytes, hex.")
    version = models.PositiveIntegerField(default=1)
    is_primary = models.BooleanField(default=True)
    sort_order = models.PositiveIntegerField(default=0)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    renditions = models.JSONField(
        default=dict, blank=True, help_text='{"thumb": {"key", "width", "height", "size"}, "medium": {...}}'
    )
    # What the shop said about the bytes we hold, to avoid downloading them again.
    shop_sha1 = models.CharField(max_length=40, blank=True, help_text="The shop's Content-Sha1.")
    etag = models.CharField(max_length=255, blank=True)
    last_modified = models.CharField(max_length=64, blank=True)
    origin_date_upd = models.DateTimeField(
        null=True, blank=True, help_text="The product's date_upd in the shop when its image was last checked."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["updated_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["product"],
                condition=Q(is_primary=True, deleted_at__isnull=True),
                name="photosync_one_live_primary_photo",
            ),
        ]
        indexes = [models.Index(fields=["store", "updated_at", "id"], name="photosync_photo_store_upd")]

    def __str__(self) -> str:
        return f"{self.filename} v{self.version}"

    def rendition_key(self, name: str) -> str | None:
        return (self.renditions.get(name) or {}).get("key")

    @property
    def object_keys(self) -> list[str]:
        """The original's key and its renditions' keys."""
        keys = [self.object_key, *(r["key"] for r in self.renditions.values() if r.get("key"))]
        return list(dict.fromkeys(keys))


class ImageSyncRun(Job):
    """One image sync of a store, shared by the workers that process its chunks."""

    KIND = "image_sync"

    planned = models.BooleanField(default=False, help_text="Every product is settled or in a chunk.")


class ChunkStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"


class ImageSyncChunk(models.Model):
    """A slice of a run's products with what the shop said about them when the run was
    planned. A worker claims it with a lease it keeps renewing; a chunk whose lease ran out
    (its worker died) is taken over by another worker. Each planned page of products also
    has one chunk, done at once, for the products settled without a download."""

    run = models.ForeignKey(ImageSyncRun, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField(help_text="page * 10000 + position; position 0 is the page's settled part.")
    items = models.JSONField(
        default=list, help_text='[{"product": id, "id_origin", "name", "id_default_image", "image_ids", "date_upd"}]'
    )
    status = models.CharField(max_length=10, choices=ChunkStatus.choices, default=ChunkStatus.PENDING)
    token = models.UUIDField(null=True, blank=True, help_text="The current claim.")
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_by = models.CharField(max_length=255, blank=True, help_text="host:pid of the last worker to claim it.")
    counters = models.JSONField(default=dict, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "index"]
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="photosync_chunk_unique")]
        indexes = [models.Index(fields=["run", "status"], name="photosync_chunk_status")]

    def __str__(self) -> str:
        return f"chunk {self.index} of {self.run_id} ({self.status})"
