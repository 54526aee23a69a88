"""The operators' dashboard registry: one column per registered section, and hub-wide panels
for what belongs to no store (the NAS). ``operations.console`` builds the page from it.

Each app declares its sections in its own ``dashboard.py`` (found by autodiscovery, like
``admin.py``) with :func:`register_column` or :func:`register_panel`. A column provider
takes the page's stores and answers ``{store pk: Cell}`` for all of them in a fixed number
of queries, never one per store; stores it leaves out show the column's ``empty`` cell.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.db.models import Count, Model, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import TruncHour
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

from config.jobs import ACTIVE_STATUSES, JobStatus

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
class Segment:
    """One hour of a run strip: its tone (the worst outcome of the hour) and what it holds."""

    tone: str
    title: str


@dataclass(frozen=True)
class Cell:
    text: str
    url: str = ""
    tone: str = ""
    note: str = ""  # a second, smaller line (e.g. when a job finished)
    links: tuple[tuple[str, str], ...] = ()  # (label, url): secondary links, e.g. "all runs"
    strip: tuple[Segment, ...] = ()  # the last 24 hours of runs of this kind, an hour a segment


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
    note = f"{verb} {when:%m-%d %H:%M} UTC"
    if job.status in (JobStatus.RUNNING, JobStatus.QUEUED) and job.items_total:
        note = f"{job.items_processed}/{job.items_total} items, {note}"
    return Cell(
        JobStatus(job.status).label,
        url=change_url(job),
        tone=JOB_TONES.get(job.status, ""),
        note=note,
        links=(("all runs", all_url),),
    )


def last_job_cells(model, stores: Sequence[Model], *, kind: str | None = None) -> dict[int, Cell]:
    """The newest job of ``model`` (of ``kind``, by default the model's KIND) for each store, in
    one query: a LIMIT 1 subquery per store row, read in order from the job tables'
    (store, kind, created_at) index; and its run strip of the last 24 hours, in one more."""
    kind = kind or model.KIND
    newest = model.objects.filter(store=OuterRef("pk"), kind=kind).order_by("-created_at").values("pk")[:1]
    store_model = model._meta.get_field("store").related_model
    ids = store_model.objects.filter(pk__in=[s.pk for s in stores]).annotate(job=Subquery(newest)).values("job")
    jobs = model.objects.filter(pk__in=ids).only(*JOB_FIELDS)
    strips = run_strips(model, [s.pk for s in stores], kind=kind)
    return {
        job.store_id: replace(
            job_cell(job, all_url=changelist_url(model, store__id__exact=job.store_id)),
            strip=strips.get(job.store_id, ()),
        )
        for job in jobs
    }


STRIP_HOURS = 24


def _hour_tone(failed: int, partial: int, active: int, succeeded: int) -> str:
    if failed:
        return BAD
    if partial:
        return WARN
    if active:
        return BUSY
    return OK if succeeded else MUTED


def run_strips(model, store_ids: Sequence[int], *, kind: str, now: datetime | None = None) -> dict[int, tuple]:
    """``{store id: 24 segments}``, oldest hour first: per hour the runs of ``kind`` created then,
    counted by outcome in one grouped query (at most 24 rows a store)."""
    now = now or timezone.now()
    first = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=STRIP_HOURS - 1)
    rows = (
        model.objects.filter(store_id__in=store_ids, kind=kind, created_at__gte=first)
        .annotate(hour=TruncHour("created_at"))
        .values("store_id", "hour")
        .annotate(
            runs=Count("pk"),
            failed=Count("pk", filter=Q(status=JobStatus.FAILED)),
            partial=Count("pk", filter=Q(status=JobStatus.PARTIAL)),
            active=Count("pk", filter=Q(status__in=ACTIVE_STATUSES)),
            succeeded=Count("pk", filter=Q(status=JobStatus.SUCCEEDED)),
        )
        .order_by()
    )
    by_hour = {(row["store_id"], row["hour"]): row for row in rows}
    hours = [first + timedelta(hours=n) for n in range(STRIP_HOURS)]
    strips = {}
    for store_id in {row["store_id"] for row in rows}:
        segments = []
        for hour in hours:
            row = by_hour.get((store_id, hour))
            if row is None:
                segments.append(Segment(MUTED, f"{hour:%H}:00 UTC: no run"))
                continue
            tone = _hour_tone(row["failed"], row["partial"], row["active"], row["succeeded"])
            counts = ", ".join(
                f"{row[key]} {word}"
                for key, word in (("failed", "failed"), ("partial", "partial"), ("active", "running"))
                if row[key]
            )
            title = f"{hour:%H}:00 UTC: {plural(row['runs'], 'run')}" + (f", {counts}" if counts else "")
            segments.append(Segment(tone, title))
        strips[store_id] = tuple(segments)
    return strips


def hourly_counts(queryset: QuerySet, field: str, since: datetime) -> dict[datetime, int]:
    """``{hour: rows}`` of ``queryset`` whose ``field`` is at or after ``since``, one grouped query."""
    rows = (
        queryset.filter(**{f"{field}__gte": since})
        .annotate(hour=TruncHour(field))
        .values("hour")
        .annotate(n=Count("pk"))
        .values_list("hour", "n")
        .order_by()
    )
    return dict(rows)


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


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


# --- what needs a human now, job tables, trends ------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Whose work a console page shows: the stores a user may see (the dashboard and the index),
    or one store (its page). Providers filter their rows with :meth:`of` and link with
    :meth:`url`, so the same registration serves both."""

    stores: QuerySet  # of catalog.Store
    store_id: int | None = None

    @property
    def hub(self) -> bool:
        """A hub-wide page (not one store's): hub-wide sections (the NAS) show only there."""
        return self.store_id is None

    def of(self, queryset: QuerySet, field: str = "store") -> QuerySet:
        if self.store_id is not None:
            return queryset.filter(**{f"{field}_id": self.store_id})
        return queryset.filter(**{f"{field}__in": self.stores})

    def url(self, model: type[Model], **filters) -> str:
        """The model's admin list with ``filters``, narrowed to the store on a store's page."""
        if self.store_id is not None:
            filters = {"store__id__exact": self.store_id, **filters}
        return changelist_url(model, **filters)


@dataclass(frozen=True)
class Attention:
    """Something that waits for a person, counted; shown only when ``count`` is not zero."""

    title: str
    count: int
    url: str
    label: str  # the state in words ("Failing", "Owed"): never colour alone
    tone: str = WARN
    note: str = ""


AttentionItems = Callable[[Scope], Sequence[Attention]]


@dataclass(frozen=True)
class AttentionSource:
    key: str
    items: AttentionItems
    permission: str = ""
    order: int = 100
    hub_only: bool = False  # about no store (the NAS): left out of a store's page


@dataclass(frozen=True)
class JobTable:
    """A job table the console follows: its failures, its live progress, its trends."""

    model: type[Model]
    title: str
    permission: str = ""
    order: int = 100
    hub_wide: bool = False  # its jobs belong to no store (NAS runs, an edge's pulls)


@dataclass(frozen=True)
class Series:
    """Events counted per hour for the trends at the top of the dashboard (conflicts, dead letters)."""

    key: str
    title: str
    hourly: Callable[[Scope, object], Mapping[object, int]]  # (scope, since) -> {hour: count}
    colour: str
    permission: str = ""
    order: int = 100


@dataclass(frozen=True)
class DailyChart:
    """A 7-day line chart: ``days(scope)`` answers (datasets, unit) for the last seven days,
    or None when there is nothing to draw (e.g. no NAS)."""

    key: str
    title: str
    days: Callable[[Scope, list], Sequence[tuple[str, list[float], str]] | None]  # -> [(label, values, colour)]
    permission: str = ""
    order: int = 100
    hub_only: bool = False


@dataclass(frozen=True)
class StoreLink:
    label: str
    url: Callable[[int], str]  # store pk -> URL
    permission: str = ""
    order: int = 100


_attention: dict[str, AttentionSource] = {}
_job_tables: dict[str, JobTable] = {}
_series: dict[str, Series] = {}
_charts: dict[str, DailyChart] = {}
_store_links: dict[str, StoreLink] = {}


def register_attention(
    key: str, items: AttentionItems, *, permission: str = "", order: int = 100, hub_only: bool = False
) -> None:
    """Add (or replace, by key) a source of "needs attention" items."""
    _attention[key] = AttentionSource(key, items, permission, order, hub_only)


def register_job_table(
    model: type[Model], title: str, *, permission: str = "", order: int = 100, hub_wide: bool = False
) -> None:
    """Follow a job table: its failing stores, running jobs and failures per hour."""
    _job_tables[model._meta.label_lower] = JobTable(model, title, permission, order, hub_wide)


def register_series(key: str, title: str, hourly, *, colour: str, permission: str = "", order: int = 100) -> None:
    _series[key] = Series(key, title, hourly, colour, permission, order)


def register_daily_chart(
    key: str, title: str, days, *, permission: str = "", order: int = 100, hub_only: bool = False
) -> None:
    _charts[key] = DailyChart(key, title, days, permission, order, hub_only)


def register_store_link(key: str, label: str, url: Callable[[int], str], *, permission: str = "", order: int = 100):
    """A link on a store's page to something of that store (its photos, its sync configuration)."""
    _store_links[key] = StoreLink(label, url, permission, order)


def _allowed(registry: Mapping, user) -> list:
    _discover()
    allowed = [item for item in registry.values() if not item.permission or user.has_perm(item.permission)]
    return sorted(allowed, key=lambda item: item.order)


def attention_sources_for(user) -> list[AttentionSource]:
    return _allowed(_attention, user)


def job_tables_for(user) -> list[JobTable]:
    return _allowed(_job_tables, user)


def series_for(user) -> list[Series]:
    return _allowed(_series, user)


def charts_for(user) -> list[DailyChart]:
    return _allowed(_charts, user)


def store_links_for(user) -> list[StoreLink]:
    return _allowed(_store_links, user)
