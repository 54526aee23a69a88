"""Store scoping and access: roles and permission letters, who sees which store, store lookup by id or UUID."""

from __future__ import annotations

import re
import uuid

from django.db.models import QuerySet

from catalog.error_codes import CatalogErrorCode
from catalog.models import Store
from catalog.roles import LETTER_TO_ACTION, Role, user_role
from config.error_codes import ErrorCode
from config.errors import DomainError


def is_admin(user) -> bool:
    """Superusers and the ADMIN role see and manage every store."""
    return bool(user and user.is_authenticated and (user.is_superuser or user_role(user) == Role.ADMIN))


def has_letters(user, model_label: str, letters: str) -> bool:
    """True if the user holds every permission letter (C/R/U/D) on ``app_label.model``."""
    app_label, model = model_label.lower().split(".")
    return all(user.has_perm(f"{app_label}.{LETTER_TO_ACTION[letter]}_{model}") for letter in letters)


def visible_stores(user) -> QuerySet[Store]:
    """Superusers and ADMIN see every store; everyone else only their stores."""
    if is_admin(user):
        return Store.objects.all()
    if not user or not user.is_authenticated:
        return Store.objects.none()
    return Store.objects.filter(memberships__user=user)


# A reference to a store (or another object addressed the same way): its integer id, at most
# 18 digits (a bigint), or its UUID in the canonical form. The API schema states this pattern.
STORE_REF_PATTERN = r"[0-9]{1,18}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


def store_lookup(ref) -> dict:
    """``{"pk": n}`` or ``{"uuid": u}`` for a store reference; ValueError if it is neither."""
    text = str(ref)
    if not re.fullmatch(STORE_REF_PATTERN, text):
        raise ValueError(f"not an id or a UUID: {text[:40]!r}")
    return {"pk": int(text)} if text.isdigit() else {"uuid": uuid.UUID(text)}


def get_visible_store(user, ref, *, param: str = "store_id") -> Store:
    """The store ``ref`` names if the user may see it; 404 ``Store not found`` otherwise."""
    if ref is None or str(ref).strip() == "":
        raise DomainError(ErrorCode.VALIDATION_ERROR, 400, f"{param} is required")
    try:
        lookup = store_lookup(ref)
    except (ValueError, AttributeError):
        raise DomainError(ErrorCode.VALIDATION_ERROR, 400, f"{param} must be a store id or UUID") from None
    store = visible_stores(user).filter(**lookup).first()
    if store is None:
        raise DomainError(CatalogErrorCode.STORE_NOT_FOUND, 404, "Store not found")
    return store
