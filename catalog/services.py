"""Catalog operations: importing a store's records from its shop."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from itertools import islice

from catalog.models import ImportRun, Product, ProductStatus, Store
from catalog.platforms import RemoteProduct, create_ecommerce_service
from config.jobs import JobRunner, JobTrigger

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


class ProductImportRunner(JobRunner):
    """An import job: page through the store's shop and upsert every product."""

    model = ImportRun
    kind = ImportRun.KIND
    task_name = "catalog.tasks.import_products_task"

    def run(self) -> None:
        store = self.job.store
        with create_ecommerce_service(store) as service:
            for batch in _batches(service.iter_products(), IMPORT_BATCH_SIZE):
                created, updated = upsert_products(store, batch)
                self.progress(
                    total=self.job.items_total + len(batch),
                    processed=len(batch),
                    succeeded=len(batch),
                    counters={"created": created, "updated": updated},
                )
        logger.info("imported %s products into store %s", self.job.items_processed, store.pk)


def start_product_import(store: Store, *, trigger: str = JobTrigger.API, user=None) -> ImportRun:
    """Queue an import job for the store (409 ``SYNC_IN_PROGRESS`` if one is active)."""
    return ProductImportRunner.start(store=store, trigger=trigger, requested_by=user)


def import_products_now(store: Store, *, trigger: str = JobTrigger.COMMAND, user=None) -> ImportRun:
    """Run an import job in this process (management command, demo)."""
    job = ProductImportRunner.create(store=store, trigger=trigger, requested_by=user)
    return ProductImportRunner.execute(job.pk) or job
