"""The operators' console (the Django admin, themed by django-unfold): branding, the sidebar
grouped by what an operator does, the runtime mode shown in the header, the project stylesheet
and script (served from operations/static/console/, never from a CDN)."""

from django.templatetags.static import static
from django.urls import reverse_lazy

from config.settings.base import env

# An edge that reported before and has been silent this long is listed under "needs attention".
CONSOLE_EDGE_SILENT_HOURS = env.int("CONSOLE_EDGE_SILENT_HOURS", default=24)


def _list(model: str) -> dict:
    """A sidebar link to a model's admin list, shown to those who may view it."""
    app_label, model_name = model.split(".")
    return {
        "link": reverse_lazy(f"admin:{app_label}_{model_name}_changelist"),
        "permission": lambda request: request.user.has_perm(f"{app_label}.view_{model_name}"),
    }


def _item(title: str, icon: str, model: str, **extra) -> dict:
    return {"title": title, "icon": icon, **_list(model), **extra}


UNFOLD = {
    "SITE_TITLE": "Retail Sync Hub",
    "SITE_HEADER": "Retail Sync Hub",
    "SITE_SUBHEADER": "Operators' console",
    # "View site" and the header's title lead to the operations dashboard (the hub has no public site).
    "SITE_URL": reverse_lazy("admin-dashboard"),
    "SHOW_VIEW_ON_SITE": False,
    "ENVIRONMENT": "operations.console.environment",
    "DASHBOARD_CALLBACK": "operations.console.index_context",
    "STYLES": [lambda request: static("console/console.css")],
    "SCRIPTS": [lambda request: static("console/console.js")],
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": True,
        "navigation": [
            {
                "title": "Attention",
                "items": [
                    {"title": "Operations dashboard", "icon": "monitor_heart", "link": reverse_lazy("admin-dashboard")},
                    {"title": "Home", "icon": "home", "link": reverse_lazy("admin:index")},
                ],
            },
            {
                "title": "Stores",
                "items": [
                    _item("Stores", "storefront", "catalog.store"),
                    _item("Products", "inventory_2", "catalog.product"),
                    _item("Orders", "receipt_long", "catalog.order"),
                    _item("Customers", "group", "catalog.customer"),
                    _item("Product imports", "download", "catalog.importrun"),
                ],
            },
            {
                "title": "Sync",
                "items": [
                    _item("Sync jobs", "sync", "storesync.storesyncjob"),
                    _item("Conflicts", "call_split", "storesync.syncconflict"),
                    _item("Dead letters", "report", "storesync.deadletter"),
                    _item("Change history", "history", "storesync.syncchange"),
                    _item("Alerts", "notifications", "storesync.alert"),
                    _item("Sync configuration", "tune", "storesync.syncconfig"),
                ],
            },
            {
                "title": "Photos",
                "items": [
                    _item("Photos", "photo_library", "photosync.productphoto"),
                    _item("Image syncs", "cloud_download", "photosync.imagesyncrun"),
                    _item("Edge reports", "lan", "photosync.edgestatusreport"),
                ],
            },
            {
                "title": "NAS",
                "items": [
                    _item("Documents", "description", "nasync.document"),
                    _item("NAS runs", "dns", "nasync.nassyncrun"),
                ],
            },
            {
                "title": "Users",
                "items": [
                    _item("Users", "person", "auth.user"),
                    _item("Groups", "groups", "auth.group"),
                    _item("Periodic tasks", "schedule", "django_celery_beat.periodictask"),
                ],
            },
        ],
    },
}
