"""The photo distribution API's bodies: ``photo_item`` builds a list item (plain dicts: a page holds up to
1000); the serializers document the shapes in the OpenAPI schema."""

from __future__ import annotations

from collections.abc import Callable

from rest_framework import serializers

from catalog.api.store_refs import StoreRefField


def _iso(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def photo_item(row: dict, url_for: Callable[[str], str]) -> dict:
    """A list item from a feed row (``feed.FEED_FIELDS``); ``url_for``: the photo's URL for
    a key (``photosync.imagesync.storage.object_url_maker``)."""
    product_uuid = row["product__uuid"]  # None on the tombstone of a deleted product's photo
    deleted = row["deleted_at"] is not None
    item = {
        "id": str(row["id"]),
        "product_id": str(product_uuid) if product_uuid else None,
        "product_sku": row["product__sku"] or "",
        "product_name": row["product__name"] or "",
        "object_key": row["object_key"],
        "filename": row["filename"],
        "size": row["size"],
        "content_type": row["content_type"],
        "checksum": row["checksum"],
        "version": row["version"],
        "is_primary": row["is_primary"],
        "sort_order": row["sort_order"],
        "updated_at": _iso(row["updated_at"]),
        "image_url": None if deleted else url_for(row["object_key"]),
        "deleted": deleted,
    }
    if deleted:
        item["deleted_at"] = _iso(row["deleted_at"])
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
