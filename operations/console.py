"""The operators' console pages: the operations dashboard and the retention preview.

The dashboard shows one row per store the user may see and one column per section that the
apps register in ``config.dashboard`` (from their own ``dashboard.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib import admin
from django.core.paginator import Paginator
from django.template.response import TemplateResponse
from django.urls import reverse

from catalog.access import visible_stores
from catalog.models import Store
from config.dashboard import Cell, StoreColumn, change_url, columns_for, panels_for
from operations.retention import prune_preview, retention_cutoff

STORES_PER_PAGE = 50


@dataclass(frozen=True)
class Row:
    store: Store
    url: str
    cells: list[tuple[StoreColumn, Cell]]


def dashboard(user, *, page: int | str = 1) -> dict:
    """Everything the page shows, for the stores ``user`` may see."""
    columns = columns_for(user)
    stores_qs = visible_stores(user).order_by("code", "pk").only("id", "code", "name", "platform", "is_active")
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
    return {"columns": columns, "rows": rows, "panels": panels, "page_obj": page_obj, "paginator": paginator}


def dashboard_view(request):
    """The operators' dashboard (staff only: wrapped in ``admin.site.admin_view`` in the URLs)."""
    context = {
        **admin.site.each_context(request),
        "title": "Operations dashboard",
        **dashboard(request.user, page=request.GET.get("page", 1)),
    }
    return TemplateResponse(request, "admin/dashboard.html", context)


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
