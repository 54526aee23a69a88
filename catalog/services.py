"""Catalog operations: importing a store's records from its shop."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from itertools import islice

from catalog.models import ImportRun, Product, ProductStatus, Store
from catalog.platforms import RemoteProduct, create_ecommerce_service
from config.jobs import JobTrigger, record_progress, run_job, start_and_enqueue, start_job

logger = logging.getLogger(__name__)

IMPORT_BATCH_SIZE = 500
PRODUCT_IMPORT_FIELDS = ["name", "sku", "price", "description", "status", "inventory", "origin_date_upd"]


def product_values(remote: RemoteProduct) -> dict:
    """The catalogue's field values for a shop product."""
    return {
        "name": remote.name[:255],
        "sku": remote.reference[:64],
        "price": remote.price,
        "description": remote.description,
        "status": ProductStatus.ACTIVE if remote.active else ProductStatus.INACTIVE,
        "inventory": remote.quantity or 0,
        "origin_date_upd": remote.date_upd,
    }


def upsert_products(store: Store, remotes: list[RemoteProduct]) -> tuple[int, int]:
    """Insert or update products by ``id_origin``; returns (created, updated)."""
    ids = [remote.id for remote in remotes]
    existing = set(Product.objects.filter(store=store, id_origin__in=ids).values_list("id_origin", flat=True))
    Product.objects.bulk_create(
        [Product(store=store, id_origin=remote.id, **product_values(remote)) for remote in remotes],
        update_conflicts=True,
        unique_fields=["store", "id_origin"],
        update_fields=[*PRODUCT_IMPORT_FIELDS, "updated_at"],
    )
    created = len(set(ids) - existing)
    return created, len(remotes) - created


def _batches(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def import_store_products(job: ImportRun) -> None:
    """Work function of an import job: page through the shop and upsert every product."""
    store = job.store
    with create_ecommerce_service(store) as service:
        for batch in _batches(service.iter_products(), IMPORT_BATCH_SIZE):
            created, updated = upsert_products(store, batch)
            record_progress(
                job,
                total=job.items_total + len(batch),
                processed=len(batch),
                succeeded=len(batch),
                counters={"created": created, "updated": updated},
            )
    logger.info("imported %s products into store %s", job.items_processed, store.pk)


def start_product_import(store: Store, *, trigger: str = JobTrigger.API, user=None) -> ImportRun:
    """Queue an import job for the store (409 ``SYNC_IN_PROGRESS`` if one is active)."""
    from catalog.tasks import import_products_task

    return start_and_enqueue(
        ImportRun, import_products_task, kind=ImportRun.KIND, store=store, trigger=trigger, requested_by=user
    )


def import_products_now(store: Store, *, trigger: str = JobTrigger.COMMAND, user=None) -> ImportRun:
    """Run an import job in this process (management command, demo)."""
    job = start_job(ImportRun, kind=ImportRun.KIND, store=store, trigger=trigger, requested_by=user)
    return run_job(ImportRun, job.pk, import_store_products) or job
