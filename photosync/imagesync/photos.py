"""Writing a chunk's outcomes to ProductPhoto rows (inside the chunk's transaction).

Rows are locked and compared again before writing, so two writers of the same product
(a redelivered task, a worker that lost its claim) never bump a version twice or
insert a second primary photo. ``version`` and ``updated_at`` move only with new bytes.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone

from photosync.imagesync.downloads import DOWNLOADED, FALLBACK, UNCHANGED, Outcome
from photosync.models import PhotoSource, ProductPhoto

VALIDATOR_FIELDS = ["shop_sha1", "etag", "last_modified", "origin_date_upd"]
IDENTITY_FIELDS = ["source", "shop_image_id"]
CONTENT_FIELDS = [
    "object_key",
    "filename",
    "size",
    "content_type",
    "checksum",
    "width",
    "height",
    "renditions",
    "version",
    "updated_at",
]


# What planning and the downloads read of the photo held: is it current, what to send as
# Local-Content-Sha1, are the bytes new. Nothing else is loaded for them (no renditions JSON).
HELD_FIELDS = ["product_id", "source", "shop_image_id", "shop_sha1", "checksum", "origin_date_upd"]


def live_primary_photos(product_ids: Iterable[int], *, lock: bool = False) -> dict[int, ProductPhoto]:
    queryset = _live_primary(product_ids)
    if lock:
        queryset = queryset.select_for_update().order_by("product_id")
    return {photo.product_id: photo for photo in queryset}


def held_photos(product_ids: Iterable[int]) -> dict[int, ProductPhoto]:
    """The live primary photos with only :data:`HELD_FIELDS` loaded, by product."""
    return {photo.product_id: photo for photo in _live_primary(product_ids).only(*HELD_FIELDS)}


def _live_primary(product_ids: Iterable[int]):
    return ProductPhoto.objects.filter(product_id__in=list(product_ids), is_primary=True, deleted_at__isnull=True)


def apply_outcomes(store_id: int, outcomes: list[Outcome]) -> list[str]:
    """Create, update or refresh the primary photos; returns the storage keys no longer referenced.

    Must run inside a transaction.
    """
    relevant = [o for o in outcomes if o.kind in (DOWNLOADED, FALLBACK, UNCHANGED)]
    photos = live_primary_photos((o.product_id for o in relevant), lock=True)
    now = timezone.now()
    created: list[ProductPhoto] = []
    changed: list[ProductPhoto] = []
    refreshed: list[ProductPhoto] = []
    replaced: dict[int, set[str]] = {}
    for outcome in relevant:
        photo = photos.get(outcome.product_id)
        if photo is not None and photo.source == PhotoSource.UPLOAD:
            continue  # uploaded while the run was going: a sync never replaces an upload
        stored = outcome.stored
        if stored is None or (photo is not None and photo.checksum == stored.checksum):
            if photo is not None:  # same bytes: only what we know about the shop's copy moves
                _set_identity(photo, outcome)
                refreshed.append(photo)
            continue
        if photo is None:
            photo = ProductPhoto(store_id=store_id, product_id=outcome.product_id, version=0, is_primary=True)
            created.append(photo)
        else:
            replaced[photo.product_id] = set(photo.object_keys)
            changed.append(photo)
        _set_identity(photo, outcome)
        for name in CONTENT_FIELDS[:-2]:
            setattr(photo, name, getattr(stored, name))
        photo.version += 1
        photo.updated_at = now
    ProductPhoto.objects.bulk_create(created)
    ProductPhoto.objects.bulk_update(changed, [*CONTENT_FIELDS, *IDENTITY_FIELDS, *VALIDATOR_FIELDS])
    ProductPhoto.objects.bulk_update(refreshed, [*IDENTITY_FIELDS, *VALIDATOR_FIELDS])
    return _unreferenced(replaced)


def _set_identity(photo: ProductPhoto, outcome: Outcome) -> None:
    photo.source = outcome.source
    photo.shop_image_id = outcome.shop_image_id
    for name, value in outcome.validators.items():
        setattr(photo, name, value)


def _unreferenced(replaced: dict[int, set[str]]) -> list[str]:
    """Keys of replaced versions that no live photo of their product still uses."""
    if not replaced:
        return []
    still_used: set[str] = set()
    for photo in ProductPhoto.objects.filter(product_id__in=list(replaced), deleted_at__isnull=True):
        still_used.update(photo.object_keys)
    return sorted(key for keys in replaced.values() for key in keys - still_used)
