"""Spec 001's bodies: ``photo_item`` builds a list item (plain dicts: a page holds up to
1000); the serializers document the shapes in the OpenAPI schema."""

from __future__ import annotations

from collections.abc import Callable

from rest_framework import serializers

from catalog.api.store_refs import StoreRefField
from photosync.models import ProductPhoto


def _iso(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def photo_item(photo: ProductPhoto, url_for: Callable[[str], str]) -> dict:
    """``url_for``: the photo's URL for a key (``photosync.imagesync.storage.object_url``)."""
    product = photo.product
    deleted = photo.deleted_at is not None
    url = None if deleted else url_for(photo.object_key)
    item = {
        "id": str(photo.pk),
        "product_id": str(product.uuid) if product else None,
        "product_sku": product.sku if product else "",
        "product_name": product.name if product else "",
        "object_key": photo.object_key,
        "filename": photo.filename,
        "size": photo.size,
        "content_type": photo.content_type,
        "checksum": photo.checksum,
        "version": photo.version,
        "is_primary": photo.is_primary,
        "sort_order": photo.sort_order,
        "updated_at": _iso(photo.updated_at),
        "image_url": url,
        "deleted": deleted,
    }
    if deleted:
        item["deleted_at"] = _iso(photo.deleted_at)
    return item


class PhotoItemSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    product_id = serializers.UUIDField(
        allow_null=True, help_text="The product's UUID (null on the tombstone of a deleted product's photo)."
    )
    product_sku = serializers.CharField()
    product_name = serializers.CharField()
    object_key = serializers.CharField()
    filename = serializers.CharField()
    size = serializers.IntegerField()
    content_type = serializers.CharField()
    checksum = serializers.CharField(help_text="MD5 of the bytes, hex.")
    version = serializers.IntegerField()
    is_primary = serializers.BooleanField()
    sort_order = serializers.IntegerField()
    updated_at = serializers.DateTimeField()
    image_url = serializers.CharField(
        allow_null=True,
        help_text="Presigned on S3, an absolute signed media URL otherwise; both expire. Null on a tombstone.",
    )
    deleted = serializers.BooleanField(help_text="True on a tombstone (only with since).")
    deleted_at = serializers.DateTimeField(required=False, help_text="Only on a tombstone.")


class PhotoListDataSerializer(serializers.Serializer):
    photos = PhotoItemSerializer(many=True)
    total = serializers.IntegerField()
    has_more = serializers.BooleanField()
    next_offset = serializers.IntegerField(allow_null=True)
    next_cursor = serializers.CharField(allow_null=True, help_text="Pass as cursor= for the next page.")
    server_time = serializers.DateTimeField(help_text="Pass as since= on the next incremental sync.")


class PhotoListResponseSerializer(serializers.Serializer):
    status = serializers.CharField(help_text='"success"')
    data = PhotoListDataSerializer()


class StatusItemSerializer(serializers.Serializer):
    photo_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["synced", "failed", "pending"])
    synced_at = serializers.DateTimeField(allow_null=True, required=False)
    error = serializers.CharField(allow_null=True, required=False)
    version = serializers.IntegerField(required=False, min_value=1, help_text="The version reported about.")


class StatusRequestSerializer(serializers.Serializer):
    store_id = StoreRefField(help_text="The store's UUID (or integer id).")
    sync_batch = StatusItemSerializer(many=True, help_text="1 to 1000 items.")


class StatusResponseSerializer(serializers.Serializer):
    status = serializers.CharField(help_text='"success"')
    message = serializers.CharField(help_text='"Sync status updated for N photos"')
