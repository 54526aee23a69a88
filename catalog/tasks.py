"""Celery tasks of the catalog: one-line wrappers around its job runners."""

from celery import shared_task

from catalog.services import ProductImportRunner
from config.jobs import JobTask


@shared_task(base=JobTask, job_model="catalog.ImportRun", name="catalog.tasks.import_products_task")
def import_products_task(job_id: str) -> None:
    ProductImportRunner.execute(job_id)
