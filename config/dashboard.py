"""The operators' dashboard registry: one column per registered section, and hub-wide panels
for what belongs to no store (the NAS). ``operations.console`` builds the page from it.

Each app declares its sections in its own ``dashboard.py`` (found by autodiscovery, like
``admin.py``) with :func:`register_column` or :func:`register_panel`. A column provider
takes the page's stores and answers ``{store pk: Cell}`` for all of them in a fixed number
of queries, never one per store; stores it leaves out show the column's ``empty`` cell.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.db.models import Count, Model, OuterRef, QuerySet, Subquery
from django.urls import reverse
from django.utils.module_loading import autodiscover_modules

from config.jobs import JobStatus

# CSS tone of a cell: the template colours it.
OK, BUSY, WARN, BAD, MUTED = "ok", "busy", "warn", "bad", "muted"

JOB_TONES = {
    JobStatus.SUCCEEDED: OK,
    JobStatus.QUEUED: BUSY,
    JobStatus.RUNNING: BUSY,
    JobStatus.PARTIAL: WARN,
    JobStatus.FAILED: BAD,
    JobStatus.CANCELLED: MUTED,
}


@dataclass(frozen=True)
class Cell:
    text: str
    url: str = ""
    tone: str = ""
    note: str = ""  # a second, smaller line (e.g. when a job finished)
    links: tuple[tuple[str, str], ...] = ()  # (label, url): secondary links, e.g. "all runs"


NONE = Cell("none", tone=MUTED)

ColumnCells = Callable[[Sequence[Model]], Mapping[int, Cell]]
PanelRows = Callable[[], Sequence[tuple[str, Cell]]]


@dataclass(frozen=True)
class StoreColumn:
    key: str
    title: str
    cells: ColumnCells
    permission: str = ""  # "app.view_model": shown only to users holding it
    empty: Cell = NONE
    order: int = 100


@dataclass(frozen=True)
class HubPanel:
    key: str
    title: str
    rows: PanelRows
    permission: str = ""
    order: int = 100
    links: tuple[tuple[str, str], ...] = field(default=())  # (label, URL name)


_columns: dict[str, StoreColumn] = {}
_panels: dict[str, HubPanel] = {}
_discovered = False


def register_column(
    key: str, title: str, cells: ColumnCells, *, permission: str = "", empty: Cell = NONE, order: int = 100
) -> None:
    """Add (or replace, by key) a per-store column."""
    _columns[key] = StoreColumn(key, title, cells, permission, empty, order)


def register_panel(
    key: str,
    title: str,
    rows: PanelRows,
    *,
    permission: str = "",
    order: int = 100,
    links: tuple[tuple[str, str], ...] = (),
) -> None:
    """Add (or replace, by key) a hub-wide panel of (label, cell) rows."""
    _panels[key] = HubPanel(key, title, rows, permission, order, links)


def _discover() -> None:
    global _discovered
    if not _discovered:
        autodiscover_modules("dashboard")
        _discovered = True


def columns_for(user) -> list[StoreColumn]:
    _discover()
    allowed = [c for c in _columns.values() if not c.permission or user.has_perm(c.permission)]
    return sorted(allowed, key=lambda c: (c.order, c.key))


def panels_for(user) -> list[HubPanel]:
    _discover()
    allowed = [p for p in _panels.values() if not p.permission or user.has_perm(p.permission)]
    return sorted(allowed, key=lambda p: (p.order, p.key))


# --- helpers for providers -------------------------------------------------------------------


def changelist_url(model: type[Model], **filters) -> str:
    """The model's admin list, filtered with the admin's own query parameters."""
    meta = model._meta
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


def change_url(obj: Model) -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])


# What a job cell reads (never the errors or results, which can be large).
JOB_FIELDS = ("id", "store_id", "status", "created_at", "started_at", "finished_at", "items_total", "items_processed")


def job_cell(job, *, all_url: str) -> Cell:
    when = job.finished_at or job.started_at or job.created_at
    verb = "finished" if job.finished_at else ("started" if job.started_at else "queued")
    note = f"{verb} {when:%Y-%m-%d %H:%M} UTC"
    if job.status in (JobStatus.RUNNING, JobStatus.QUEUED) and job.items_total:
        note = f"{job.items_processed}/{job.items_total} items, {note}"
    return Cell(
        JobStatus(job.status).label,
        url=change_url(job),
        tone=JOB_TONES.get(job.status, ""),
        note=note,
        links=(("all", all_url),),
    )


def last_job_cells(model, stores: Sequence[Model], *, kind: str | None = None) -> dict[int, Cell]:
    """The newest job of ``model`` (of ``kind``, by default the model's KIND) for each store, in
    one query: a LIMIT 1 subquery per store row, read in order from the job tables'
    (store, kind, created_at) index."""
    newest = (
        model.objects.filter(store=OuterRef("pk"), kind=kind or model.KIND).order_by("-created_at").values("pk")[:1]
    )
    store_model = model._meta.get_field("store").related_model
    ids = store_model.objects.filter(pk__in=[s.pk for s in stores]).annotate(job=Subquery(newest)).values("job")
    jobs = model.objects.filter(pk__in=ids).only(*JOB_FIELDS)
    return {job.store_id: job_cell(job, all_url=changelist_url(model, store__id__exact=job.store_id)) for job in jobs}


def count_cells(
    queryset: QuerySet, stores: Sequence[Model], *, url: Callable[[int], str], tone: str = WARN
) -> dict[int, Cell]:
    """One grouped count per store; zero shows "0" (good news, still linked)."""
    counts = dict(
        queryset.filter(store_id__in=[s.pk for s in stores])
        .values_list("store_id")
        .annotate(n=Count("pk"))
        .values_list("store_id", "n")
    )
    return {s.pk: Cell(str(counts.get(s.pk, 0)), url=url(s.pk), tone=tone if counts.get(s.pk) else OK) for s in stores}
