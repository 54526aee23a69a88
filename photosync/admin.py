from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, Q
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from unfold.admin import ModelAdmin

from catalog.admin import StoreAdmin
from catalog.models import Product, Store
from catalog.platforms import PlatformError
from config.admin import AuditRecordAdmin, JobAdmin, record_admin_link
from config.jobs import BrokerUnavailable, JobAlreadyRunning, JobTrigger
from photosync.distribution import feed, selectors
from photosync.imagesync.runner import start_image_sync
from photosync.imagesync.storage import object_url
from photosync.models import (
    ChunkStatus,
    EdgePhoto,
    EdgeStatusReport,
    EdgeSyncRun,
    EdgeSyncStatus,
    ImageSyncRun,
    ProductPhoto,
)


class EdgeConfirmedFilter(admin.SimpleListFilter):
    """Live photos the store's edge has (not) confirmed as synced at their current version."""

    title = "edge confirmed"
    parameter_name = "edge_confirmed"

    def lookups(self, request, model_admin):
        return [("yes", "Confirmed by the edge"), ("no", "Not confirmed by the edge")]

    def queryset(self, request, queryset):
        confirmed = Q(edge_reports__status=EdgeSyncStatus.SYNCED, edge_reports__version=F("version"))
        if self.value() == "yes":
            return queryset.filter(confirmed, deleted_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True).exclude(
                pk__in=ProductPhoto.objects.filter(confirmed).values("pk")
            )
        return queryset


@admin.register(ProductPhoto)
class ProductPhotoAdmin(ModelAdmin):
    """Photos are written by the image sync: the admin shows them, with their thumbnails."""

    list_display = [
        "thumbnail",
        "product",
        "store",
        "source",
        "version",
        "size",
        "content_type",
        "dimensions",
        "updated_at",
        "deleted_at",
    ]
    list_filter = ["store", "source", "is_primary", ("deleted_at", admin.EmptyFieldListFilter), EdgeConfirmedFilter]
    actions = ["delete_as_tombstones"]
    search_fields = ["product__sku", "product__name", "checksum", "object_key"]
    list_select_related = ["product", "store"]
    date_hierarchy = "updated_at"
    readonly_fields = [
        "preview",
        "id",
        "store",
        "product",
        "source",
        "shop_image_id",
        "object_key",
        "filename",
        "size",
        "content_type",
        "checksum",
        "version",
        "is_primary",
        "sort_order",
        "width",
        "height",
        "renditions",
        "shop_sha1",
        "etag",
        "last_modified",
        "origin_date_upd",
        "created_at",
        "updated_at",
        "deleted_at",
    ]
    fields = readonly_fields

    @admin.display(description="Photo")
    def thumbnail(self, photo: ProductPhoto) -> str:
        url = object_url(photo.rendition_key("thumb") or photo.object_key)
        return format_html('<img src="{}" alt="" style="width:64px;height:64px;object-fit:contain">', url)

    @admin.display(description="Preview")
    def preview(self, photo: ProductPhoto) -> str:
        url = object_url(photo.rendition_key("medium") or photo.object_key)
        original = object_url(photo.object_key)
        return format_html(
            '<a href="{}"><img src="{}" alt="" style="max-width:400px;max-height:400px"></a>', original, url
        )

    @admin.display(description="Size (px)")
    def dimensions(self, photo: ProductPhoto) -> str:
        return f"{photo.width}×{photo.height}"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # a hard delete would leave the edges no tombstone
        return actions

    @admin.action(description="Delete (tombstone: edges remove them on their next pass)", permissions=["delete"])
    def delete_as_tombstones(self, request, queryset) -> None:
        count = feed.tombstone_photos(queryset)
        self.message_user(request, f"{count} photo(s) deleted; edges remove them on their next pass.", messages.SUCCESS)

    def delete_model(self, request, obj) -> None:
        feed.tombstone_photos(ProductPhoto.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset) -> None:
        feed.tombstone_photos(queryset)


@admin.register(ImageSyncRun)
class ImageSyncRunAdmin(JobAdmin):
    list_display = [*JobAdmin.list_display, "chunks_done"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                chunk_count=Count("chunks"), chunks_finished=Count("chunks", filter=Q(chunks__status=ChunkStatus.DONE))
            )
        )

    @admin.display(description="Chunks done")
    def chunks_done(self, run: ImageSyncRun) -> str:
        return f"{run.chunks_finished}/{run.chunk_count}"

    def error_record(self, error: dict):
        label = f"product {error.get('product_id')} (shop id {error.get('id_origin')})"
        return record_admin_link(Product, error.get("product_id"), label)

    def job_links(self, job) -> list[tuple[str, str]]:
        url = reverse("admin:photosync_productphoto_changelist")
        return [("The store's photos", f"{url}?store__id__exact={job.store_id}")] if job.store_id else []


@admin.register(EdgeStatusReport)
class EdgeStatusReportAdmin(AuditRecordAdmin):
    """What each store's edge reported; the coverage page sums it up per store."""

    list_display = ["photo", "store", "status", "version", "synced_at", "error", "reported_at", "reported_by"]
    list_filter = ["status", "store"]
    search_fields = ["photo__id", "photo__product__sku", "error"]
    list_select_related = ["photo", "store", "reported_by"]
    readonly_fields = ["store", "photo", "status", "version", "synced_at", "error", "reported_by", "reported_at"]
    change_list_template = "admin/photosync/edgestatusreport/change_list.html"

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        custom = [path("coverage/", self.admin_site.admin_view(self.coverage_view), name="photosync_edge_coverage")]
        return custom + super().get_urls()

    def coverage_view(self, request):
        """Per store: live photos, synced / failed / pending at the current version, last report."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        stores = Store.objects.order_by("code")
        coverage = selectors.edge_coverage_by_store(stores)
        photos_url = reverse("admin:photosync_productphoto_changelist")
        rows = []
        for store in stores:
            figures = coverage.get(store.pk) or selectors.EdgeCoverage(store.pk, 0, 0, 0, 0, None)
            rows.append(
                {
                    "store": store,
                    "coverage": figures,
                    "unconfirmed_url": f"{photos_url}?store__id__exact={store.pk}&edge_confirmed=no",
                }
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Edge photo coverage per store",
            "rows": rows,
        }
        return TemplateResponse(request, "admin/photosync/edge_coverage.html", context)


@admin.register(EdgePhoto)
class EdgePhotoAdmin(ModelAdmin):
    """Edge mode: the photos this edge holds (written by the edge agent)."""

    list_display = [
        "filename",
        "product_sku",
        "product_name",
        "version",
        "size",
        "checksum",
        "synced_at",
        "reported_version",
    ]
    search_fields = ["product_sku", "product_name", "checksum", "id"]
    readonly_fields = [f.name for f in EdgePhoto._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(EdgeSyncRun)
class EdgeSyncRunAdmin(JobAdmin):
    def error_record(self, error: dict):
        return f"photo {error['photo_id']}" if error.get("photo_id") else "-"


@admin.action(description="Sync images now")
def sync_images(modeladmin, request, queryset) -> None:
    """An action of the store list (added to catalog's StoreAdmin)."""
    for store in queryset:
        try:
            run = start_image_sync(store, trigger=JobTrigger.ADMIN, user=request.user)
        except JobAlreadyRunning as exc:
            modeladmin.message_user(
                request, f"{store}: an image sync is already running ({exc.job.pk}).", messages.WARNING
            )
        except (PlatformError, BrokerUnavailable) as exc:
            modeladmin.message_user(request, f"{store}: {exc}", messages.ERROR)
        else:
            modeladmin.message_user(request, f"{store}: image sync queued ({run.pk}).", messages.SUCCESS)


StoreAdmin.add_action(sync_images)


# --- The store page's "Sync images" action (issue 16 part A) ---


def _sync_images(store, user) -> str:
    run = start_image_sync(store, trigger=JobTrigger.ADMIN, user=user)
    return f"image sync queued ({run.pk})."


StoreAdmin.add_detail_action(
    "sync_images_detail",
    _sync_images,
    description="Sync images",
    confirm="Download the products' photos from the shop now.",
    icon="photo_library",
    permission="photosync.add_imagesyncrun",
)
