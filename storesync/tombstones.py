"""Tombstones: a linked platform record (one the sync state pairs with a shop record) that is
deleted leaves a :class:`~storesync.models.SyncTombstone`, which the next sync of its entity
consumes (``storesync.engine.deletes``).

Written by a ``post_delete`` receiver, so every deletion through the ORM leaves one: a
record's ``delete()``, the admin's, the API's, and a queryset's ``delete()`` too (Django sends
``post_delete`` for each row a queryset deletes once a receiver listens). Only SQL that
bypasses the ORM (raw ``DELETE``, ``TRUNCATE``) leaves none. A store's deletion leaves none
either: its records and its sync state go with it. The sync's own deletes (a record deleted in
the shop, policy ``delete``) remove the sync state first, so they leave none.
"""

from __future__ import annotations

from django.db import models

from catalog.models import Store
from storesync.engine.entities import ADAPTERS, InvalidValue
from storesync.models import SyncRecordState, SyncTombstone

# Entities whose platform deletes can reach the shop (orders take no shop writes).
ENTITIES = {"catalog.product": "products", "catalog.customer": "customers"}


def platform_record_deleted(sender, instance, origin=None, **kwargs) -> None:
    entity = ENTITIES.get(sender._meta.label_lower)
    if entity is None or getattr(instance, "id_origin", None) is None or _store_deletion(origin):
        return
    state = SyncRecordState.objects.filter(
        store_id=instance.store_id, entity_type=entity, record_pk=instance.pk
    ).first()
    if state is None:
        return  # never synced, or the sync itself deleted it
    try:
        current = ADAPTERS[entity].platform_values(instance)
    except InvalidValue:
        current = {}
    SyncTombstone.objects.create(
        store_id=instance.store_id,
        entity_type=entity,
        record_pk=instance.pk,
        shop_id=state.shop_id,
        values={**state.base, **current},
    )


def _store_deletion(origin) -> bool:
    if isinstance(origin, Store):
        return True
    return isinstance(origin, models.QuerySet) and issubclass(origin.model, Store)
