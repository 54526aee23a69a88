"""Store scoping: who sees which store, and store lookup by integer id or UUID."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from catalog.models import Store
from config.api.exceptions import ApiError, ErrorCode
from config.api.permissions import is_admin


def visible_stores(user) -> QuerySet[Store]:
    """Superusers and ADMIN see every store; everyone else only their stores."""
    if is_admin(user):
        return Store.objects.all()
    if not user or not user.is_authenticated:
        return Store.objects.none()
    return Store.objects.filter(memberships__user=user)


def store_lookup(ref) -> dict:
    """``{"pk": n}`` or ``{"uuid": u}`` for a store reference; ValueError if it is neither."""
    text = str(ref).strip()
    if text.isdigit() and len(text) < 19:
        return {"pk": int(text)}
    return {"uuid": uuid.UUID(text)}


def get_visible_store(user, ref, *, param: str = "store_id") -> Store:
    """The store ``ref`` names if the user may see it; 404 ``Store not found`` otherwise."""
    if ref is None or str(ref).strip() == "":
        raise ApiError(400, ErrorCode.VALIDATION_ERROR, f"{param} is required")
    try:
        lookup = store_lookup(ref)
    except (ValueError, AttributeError):
        raise ApiError(400, ErrorCode.VALIDATION_ERROR, f"{param} must be a store id or UUID") from None
    store = visible_stores(user).filter(**lookup).first()
    if store is None:
        raise ApiError(404, ErrorCode.STORE_NOT_FOUND, "Store not found")
    return store
