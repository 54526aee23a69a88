"""Dashboard section of the catalog: each store's last product import."""

from catalog.models import ImportRun
from config import dashboard

dashboard.register_column(
    "catalog_import",
    "Product import",
    lambda stores: dashboard.last_job_cells(ImportRun, stores),
    permission="catalog.view_importrun",
    order=10,
)
