from django.contrib import admin
from django.db.models import Count, Q
from django.utils.html import format_html

from config.admin import JobAdmin
from photosync.models import ChunkStatus, ImageSyncRun, ProductPhoto
from photosync.storage import object_url


@admin.register(ProductPhoto)
class ProductPhotoAdmin(admin.ModelAdmin):
    """Photos are written by the image sync: the admin shows them, with their thumbnails."""

    list_display = ["thumbnail", "product", "store", "source", "version", "size", "content_type", "dimensions",
                    "updated_at", "deleted_at"]
    list_filter = ["store", "source", "is_primary", ("deleted_at", admin.EmptyFieldListFilter)]
    search_fields = ["product__sku", "product__name", "checksum", "object_key"]
    list_select_related = ["product", "store"]
    date_hierarchy = "updated_at"
    readonly_fields = [
        "preview", "id", "store", "product", "source", "shop_image_id", "object_key", "filename", "size",
        "content_type", "checksum", "version", "is_primary", "sort_order", "width", "height", "renditions",
        "shop_sha1", "etag", "last_modified", "origin_date_upd", "created_at", "updated_at", "deleted_at",
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
        return format_html('<a href="{}"><img src="{}" alt="" style="max-width:400px;max-height:400px"></a>',
                           original, url)

    @admin.display(description="Size (px)")
    def dimensions(self, photo: ProductPhoto) -> str:
        return f"{photo.width}×{photo.height}"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ImageSyncRun)
class ImageSyncRunAdmin(JobAdmin):
    list_display = [*JobAdmin.list_display, "chunks_done"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            chunk_count=Count("chunks"), chunks_finished=Count("chunks", filter=Q(chunks__status=ChunkStatus.DONE))
        )

    @admin.display(description="Chunks done")
    def chunks_done(self, run: ImageSyncRun) -> str:
        return f"{run.chunks_finished}/{run.chunk_count}"
