from celery import shared_task

from catalog.models import ImportRun
from catalog.services import import_store_products
from config.jobs import JobTask, run_job


@shared_task(base=JobTask, job_model="catalog.ImportRun")
def import_products_task(job_id: str) -> None:
    run_job(ImportRun, job_id, import_store_products)
