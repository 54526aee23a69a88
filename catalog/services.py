"""Catalog operations: importing a store's records from its shop."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from itertools import islice

from catalog.models import ImportRun, Product, ProductStatus, Store
from catalog.platforms import RemoteProduct, create_ecommerce_service
from catalog.validation import field_problem
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


# The fields whose rules a shop's value can break (names and SKUs are cut to length above).
CHECKED_IMPORT_FIELDS = ("price", "inventory", "description", "status")


def refused_values(remote: RemoteProduct, values: dict) -> list[dict]:
    """The job errors for the values of ``remote`` the catalogue's field rules refuse."""
    return [
        {"shop_id": remote.id, "field": name, "code": "INVALID_VALUE", "message": problem}
        for name in CHECKED_IMPORT_FIELDS
        if (problem := field_problem(Product, name, values[name]))
    ]


def upsert_products(store: Store, remotes: list[RemoteProduct]) -> tuple[int, int, list[dict]]:
    """Insert or update products by ``id_origin``; returns (created, updated, errors). A product
    with a value the catalogue refuses (a negative price, say) is left out and named in the errors."""
    products, errors = [], []
    for remote in remotes:
        values = product_values(remote)
        if refused := refused_values(remote, values):
            errors.extend(refused)
        else:
            products.append(Product(store=store, id_origin=remote.id, **values))
    ids = [product.id_origin for product in products]
    existing = set(Product.objects.filter(store=store, id_origin__in=ids).values_list("id_origin", flat=True))
    Product.objects.bulk_create(
        products,
        update_conflicts=True,
        unique_fields=["store", "id_origin"],
        update_fields=[*PRODUCT_IMPORT_FIELDS, "updated_at"],
    )
    created = len(set(ids) - existing)
    return created, len(products) - created, errors


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
                created, updated, errors = upsert_products(store, batch)
                failed = len({error["shop_id"] for error in errors})
                self.progress(
                    total=self.job.items_total + len(batch),
                    processed=len(batch),
                    succeeded=len(batch) - failed,
                    failed=failed,
                    counters={"created": created, "updated": updated},
                    errors=errors,
                )
        logger.info("imported %s products into store %s", self.job.items_processed, store.pk)


def start_product_import(store: Store, *, trigger: str = JobTrigger.API, user=None) -> ImportRun:
    """Queue an import job for the store (409 ``SYNC_IN_PROGRESS`` if one is active)."""
    return ProductImportRunner.start(store=store, trigger=trigger, requested_by=user)


def import_products_now(store: Store, *, trigger: str = JobTrigger.COMMAND, user=None) -> ImportRun:
    """Run an import job in this process (management command, demo)."""
    job = ProductImportRunner.create(store=store, trigger=trigger, requested_by=user)
    return ProductImportRunner.execute(job.pk) or job
