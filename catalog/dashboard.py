"""Dashboard sections of the catalog: each store's last product import, the import runs the
console follows, and the store page's links to its catalogue."""

from catalog.models import Customer, ImportRun, Order, Product
from config import dashboard

dashboard.register_column(
    "catalog_import",
    "Product import",
    lambda stores: dashboard.last_job_cells(ImportRun, stores),
    permission="catalog.view_importrun",
    order=10,
)
dashboard.register_job_table(ImportRun, "Product import", permission="catalog.view_importrun", order=10)
for order, (model, label) in enumerate(((Product, "Products"), (Order, "Orders"), (Customer, "Customers"))):
    dashboard.register_store_link(
        f"catalog_{model._meta.model_name}",
        label,
        lambda pk, model=model: dashboard.changelist_url(model, store__id__exact=pk),
        permission=f"catalog.view_{model._meta.model_name}",
        order=order,
    )
dashboard.register_store_link(
    "catalog_importrun",
    "Product imports",
    lambda pk: dashboard.changelist_url(ImportRun, store__id__exact=pk),
    permission="catalog.view_importrun",
    order=40,
)
