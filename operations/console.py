"""The operators' console pages: the operations dashboard, its live progress feed, the admin
index's attention list, and the retention preview.

The dashboard opens with what needs a person now, then the jobs running, the trends, and one
row per store the user may see with a column per section the apps register in
``config.dashboard`` (from their own ``dashboard.py``). ``config.activity`` does the reading.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib import admin
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from catalog.access import visible_stores
from catalog.models import Store
from config import activity
from config.api.exceptions import envelope
from config.dashboard import Cell, Scope, StoreColumn, change_url, columns_for, panels_for
from config.error_codes import ErrorCode
from operations.retention import prune_preview, retention_cutoff

STORES_PER_PAGE = 50

# How the header labels each runtime mode (unfold's ENVIRONMENT: text, label variant).
RUNTIME_LABELS = {"production": "success", "embedded": "info", "edge": "warning"}


@dataclass(frozen=True)
class Row:
    store: Store
    url: str
    cells: list[tuple[StoreColumn, Cell]]


def environment(request) -> list[str]:
    """The runtime mode in the console's header (unfold's ENVIRONMENT callback)."""
    mode = settings.RUNTIME_MODE
    return [f"{mode} mode", RUNTIME_LABELS.get(mode, "info")]


def hub_scope(user) -> Scope:
    return Scope(visible_stores(user))


def dashboard(user, *, page: int | str = 1) -> dict:
    """Everything the page shows, for the stores ``user`` may see."""
    columns = columns_for(user)
    scope = hub_scope(user)
    stores_qs = scope.stores.order_by("code", "pk").only("id", "code", "name", "platform", "is_active")
    paginator = Paginator(stores_qs, STORES_PER_PAGE)
    page_obj = paginator.get_page(page)
    stores = list(page_obj.object_list)
    per_column = [column.cells(stores) if stores else {} for column in columns]
    rows = [
        Row(
            store,
            change_url(store),
            [(column, cells.get(store.pk, column.empty)) for column, cells in zip(columns, per_column, strict=True)],
        )
        for store in stores
    ]
    panels = []
    for panel in panels_for(user):
        lines = list(panel.rows())
        if lines:  # a panel with nothing to say in this mode (e.g. edge pulls at head office) is left out
            panels.append(
                {"panel": panel, "rows": lines, "links": [(label, reverse(name)) for label, name in panel.links]}
            )
    return {
        "columns": columns,
        "rows": rows,
        "panels": panels,
        "page_obj": page_obj,
        "paginator": paginator,
        "attention": activity.attention(user, scope),
        "running": activity.running_jobs(user, scope),
        "trends": activity.hourly_trends(user, scope),
        "daily_charts": activity.daily_charts(user, scope),
        "progress_url": reverse("admin-dashboard-progress"),
        "chart_options": activity.BAR_OPTIONS,
        "line_options": activity.LINE_OPTIONS,
    }


def dashboard_view(request):
    """The operators' dashboard (staff only: wrapped in ``admin.site.admin_view`` in the URLs)."""
    context = {
        **admin.site.each_context(request),
        "title": "Operations dashboard",
        **dashboard(request.user, page=request.GET.get("page", 1)),
    }
    return TemplateResponse(request, "admin/dashboard.html", context)


def index_context(request, context: dict) -> dict:
    """The admin index opens with what needs attention (unfold's DASHBOARD_CALLBACK)."""
    return {**context, "attention": activity.attention(request.user, hub_scope(request.user))}


def progress_view(request):
    """The running jobs as JSON, polled by the progress bars of the dashboard (``?store=`` for
    a store's page); staff only, and only the stores the user may see."""
    scope = hub_scope(request.user)
    store = request.GET.get("store")
    if store:
        if not store.isdigit():
            detail = {"store": ["A store id (a whole number)."]}
            return JsonResponse(envelope(ErrorCode.VALIDATION_ERROR, "Invalid store.", detail), status=400)
        # A store the user may not see reads as one without running jobs.
        scope = Scope(scope.stores, store_id=int(store) if scope.stores.filter(pk=int(store)).exists() else 0)
    jobs = activity.running_jobs(request.user, scope)
    return JsonResponse({"jobs": [job.as_dict() for job in jobs]})


def retention_view(request):
    """What the next prune (nightly, or ``manage.py prune``) would delete, per retention rule."""
    context = {
        **admin.site.each_context(request),
        "title": "Next prune",
        "cutoff": retention_cutoff(),
        "retention_days": settings.RETENTION_DAYS,
        "preview": sorted(prune_preview().items()),
    }
    return TemplateResponse(request, "admin/retention.html", context)
