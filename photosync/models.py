"""Product photos and the image-sync runs that fill them from the shops."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from config.jobs import Job


class PhotoSource(models.TextChoices):
    PLATFORM = "platform", "Shop image"
    FALLBACK = "fallback", "Generated placeholder"
    UPLOAD = "upload", "Uploaded"


def tombstone_on_product_delete(collector, field, sub_objs, using):
    """``on_delete`` of ProductPhoto.product: the photos of a deleted product stay as
    tombstones (``deleted_at`` and ``updated_at`` set, product emptied), so edges that sync
    incrementally still learn of the deletion, whichever way the product was deleted."""
    now = timezone.now()
    model = field.model
    live_pks = list(sub_objs.filter(deleted_at__isnull=True).values_list("pk", flat=True))
    if live_pks:  # before the product is emptied: the updates run in the order they were added
        live = model.objects.filter(pk__in=live_pks)
        collector.add_field_update(model._meta.get_field("deleted_at"), now, live)
        collector.add_field_update(model._meta.get_field("updated_at"), now, live)
    collector.add_field_update(field, None, sub_objs)


class ProductPhoto(models.Model):
    """A product's photo in object storage, content-addressed by its MD5.

    The image sync owns each product's primary photo (source ``platform`` or
    ``fallback``); an ``upload`` is never replaced by a sync. ``version`` moves only when
    the bytes change; ``updated_at`` only when something an edge copies changes. A deleted
    photo keeps its row with ``deleted_at`` set (a tombstone for incremental edge sync).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    store = models.ForeignKey("catalog.Store", on_delete=models.CASCADE, related_name="product_photos")
    product = models.ForeignKey(
        "catalog.Product",
        null=True,
        blank=True,
        on_delete=tombstone_on_product_delete,
        related_name="photos",
        help_text="Empty on the tombstone of a deleted product's photo.",
    )
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


# Head office: what each store's edge reports about the photos it holds


class EdgeSyncStatus(models.TextChoices):
    SYNCED = "synced", "Synced"
    FAILED = "failed", "Failed"
    PENDING = "pending", "Pending"


class EdgeStatusReport(models.Model):
    """The latest status an edge reported for one photo of its store (one row per store and
    photo, upserted by ``POST /sync/product-photos/status``). ``version`` is the photo version
    the report is about, so a report on an older version does not confirm a newer one."""

    store = models.ForeignKey("catalog.Store", on_delete=models.CASCADE, related_name="edge_reports")
    photo = models.ForeignKey(ProductPhoto, on_delete=models.CASCADE, related_name="edge_reports")
    status = models.CharField(max_length=10, choices=EdgeSyncStatus.choices)
    version = models.PositiveIntegerField(help_text="The photo version this report is about.")
    synced_at = models.DateTimeField(null=True, blank=True, help_text="When the edge stored the photo.")
    error = models.TextField(blank=True)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reported_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["store", "-reported_at"]
        constraints = [models.UniqueConstraint(fields=["store", "photo"], name="photosync_report_unique")]
        indexes = [models.Index(fields=["store", "status"], name="photosync_report_status")]

    def __str__(self) -> str:
        return f"{self.photo_id} {self.status} v{self.version}"


# Edge: the local copies the edge agent keeps, its watermark and its passes


class EdgePhoto(models.Model):
    """The edge's copy of one head-office photo (a row exists once its file is written)."""

    id = models.UUIDField(primary_key=True, help_text="The photo's id at head office.")
    product_id = models.UUIDField(null=True, blank=True, help_text="The product's UUID at head office.")
    product_sku = models.CharField(max_length=64, blank=True)
    product_name = models.CharField(max_length=255, blank=True)
    object_key = models.CharField(max_length=500, help_text="The key at head office.")
    local_key = models.CharField(max_length=500, help_text="The file under EDGE_PHOTO_ROOT.")
    filename = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=100)
    checksum = models.CharField(max_length=32)
    version = models.PositiveIntegerField()
    is_primary = models.BooleanField(default=True)
    sort_order = models.PositiveIntegerField(default=0)
    ho_updated_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField()
    reported_version = models.PositiveIntegerField(
        default=0, help_text="The version head office has acknowledged as synced (0: not yet)."
    )

    class Meta:
        ordering = ["product_sku", "sort_order", "id"]

    def __str__(self) -> str:
        return f"{self.filename} v{self.version}"


class EdgeSyncState(models.Model):
    """The agent's watermark per head office and store: the ``server_time`` of the last
    complete pass, passed as ``since`` by the next one."""

    ho_url = models.CharField(max_length=500)
    store_ref = models.CharField(max_length=64)
    watermark = models.DateTimeField(null=True, blank=True)
    last_pass_at = models.DateTimeField(null=True, blank=True)
    last_complete_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ho_url", "store_ref"], name="photosync_edge_state_unique")]

    def __str__(self) -> str:
        return f"{self.ho_url} store {self.store_ref}: {self.watermark or 'never synced'}"


class EdgeSyncRun(Job):
    """One pass of the edge agent (command, beat task or demo)."""

    KIND = "edge_sync"
