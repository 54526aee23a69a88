"""What the console pages read from the registries of ``config.dashboard``: what needs attention,
the jobs running now (with throughput and ETA), and the trends, for a :class:`Scope` (the stores
a user may see, or one store). Every read is one query per registered source, never one per
store or per row. The dashboard (``operations.console``) and a store's page (``catalog.admin``)
both build on these.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Max, OuterRef, Q, Subquery
from django.urls import reverse
from django.utils import timezone

from config.dashboard import (
    BAD,
    OK,
    WARN,
    Attention,
    Scope,
    attention_sources_for,
    change_url,
    charts_for,
    columns_for,
    hourly_counts,
    job_tables_for,
    plural,
    series_for,
    store_links_for,
)
from config.jobs import ACTIVE_STATUSES, JobStatus

FAILING_WINDOW = timedelta(hours=24)
TREND_DAYS = 7
FAILED_COLOUR = "#b91c1c"  # the console's danger colour (operations/static/console/console.css)


def duration_text(seconds: float) -> str:
    """A short, correctly pluralised duration: "1 second", "about 3 minutes", "2 hours 5 minutes"."""
    seconds = max(0, round(seconds))
    if seconds < 90:
        return plural(seconds, "second")
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"about {plural(minutes, 'minute')}"
    hours, minutes = divmod(minutes, 60)
    return f"about {plural(hours, 'hour')}" + (f" {plural(minutes, 'minute')}" if minutes else "")


# --- attention -------------------------------------------------------------------------------


def failing_stores(scope: Scope, user, *, now: datetime | None = None) -> list[Attention]:
    """Per job table: the stores with failed runs in the last 24 hours, however their newest run
    ended (five failures then one success is still worth a look), with each store's last
    success. One grouped query per table."""
    since = (now or timezone.now()) - FAILING_WINDOW
    items = []
    for table in job_tables_for(user):
        if table.hub_wide:
            continue  # no store to fail (the NAS has its own attention item)
        model = table.model
        last_success = (
            model.objects.filter(store_id=OuterRef("store_id"), status=JobStatus.SUCCEEDED)
            .order_by("-created_at")
            .values("finished_at")[:1]
        )
        rows = list(
            scope.of(model.objects.filter(status=JobStatus.FAILED))
            .filter(created_at__gte=since)
            .values("store_id", "store__code")
            .annotate(failed=Count("pk"), last_failed=Max("created_at"), last_success=Subquery(last_success))
            .order_by("store__code")
        )
        if not rows:
            continue
        notes = []
        for row in rows[:3]:
            success = f"{row['last_success']:%m-%d %H:%M} UTC" if row["last_success"] else "never"
            notes.append(f"{row['store__code']}: {plural(row['failed'], 'failure')}, last success {success}")
        if len(rows) > 3:
            notes.append(f"and {len(rows) - 3} more")
        items.append(
            Attention(
                f"{table.title} failing",
                len(rows),
                scope.url(model, status__exact=JobStatus.FAILED.value),
                "Failed",
                tone=BAD,
                note="; ".join(notes),
            )
        )
    return items


def attention(user, scope: Scope) -> list[Attention]:
    """Everything that needs a person now, most urgent source first; empty when all is well."""
    items = failing_stores(scope, user)
    for source in attention_sources_for(user):
        if source.hub_only and not scope.hub:
            continue
        items.extend(item for item in source.items(scope) if item.count)
    return items


# --- running jobs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """A running (or queued) job as its progress bar shows it."""

    id: str
    title: str
    store: str
    status: str
    url: str
    done: int
    total: int
    percent: float
    text: str  # "120/500 records, 12.5 records/s, about 30 seconds left"

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def progress_of(job, title: str, *, now: datetime) -> Progress:
    done, total = job.items_processed, job.items_total
    parts = [f"{done}/{total} records" if total else f"{plural(done, 'record')} so far"]
    if job.status == JobStatus.QUEUED:
        parts = ["waiting for a worker"]
    elif job.started_at and done:
        elapsed = max((now - job.started_at).total_seconds(), 0.001)
        rate = done / elapsed
        parts.append(f"{rate:.1f} records/s")
        if total > done:
            parts.append(f"{duration_text((total - done) / rate)} left")
    return Progress(
        id=str(job.pk),
        title=title,
        store=job.store.code if job.store_id else "hub",
        status=JobStatus(job.status).label,
        url=change_url(job),
        done=done,
        total=total,
        percent=round(min(100.0, 100.0 * done / total), 1) if total else 0.0,
        text=", ".join(parts),
    )


def running_jobs(user, scope: Scope, *, now: datetime | None = None) -> list[Progress]:
    """The active jobs of the scope (on the dashboard, also those of no store: the NAS runs),
    one query per job table."""
    now = now or timezone.now()
    found = []
    for table in job_tables_for(user):
        if table.hub_wide and not scope.hub:
            continue
        jobs = table.model.objects.filter(status__in=ACTIVE_STATUSES)
        if scope.hub:
            jobs = jobs.filter(Q(store__in=scope.stores) | Q(store__isnull=True))
        else:
            jobs = jobs.filter(store_id=scope.store_id)
        jobs = jobs.select_related("store").only(
            "id", "status", "items_total", "items_processed", "started_at", "created_at", "store__code"
        )
        found.extend((job.created_at, progress_of(job, table.title, now=now)) for job in jobs.order_by("created_at"))
    return [progress for _, progress in sorted(found, key=lambda pair: pair[0])]


# --- trends ----------------------------------------------------------------------------------


_AXES = {"ticks": {"color": "#6b7280", "maxTicksLimit": 12, "precision": 0}, "grid": {"display": False}}
_LEGEND = {"display": True, "position": "top", "align": "end", "labels": {"boxWidth": 10, "color": "#374151"}}
# Chart.js options of the console's charts (unfold's chart components take them as JSON).
BAR_OPTIONS = json.dumps(
    {
        "animation": False,
        "responsive": True,
        "maintainAspectRatio": False,
        "plugins": {"legend": _LEGEND},
        "scales": {"x": {**_AXES, "stacked": True}, "y": {**_AXES, "stacked": True, "beginAtZero": True}},
    }
)
LINE_OPTIONS = json.dumps(
    {
        "animation": False,
        "responsive": True,
        "maintainAspectRatio": False,
        "plugins": {"legend": _LEGEND},
        "scales": {"x": _AXES, "y": {**_AXES, "beginAtZero": True}},
    }
)


def _chart(labels: list[str], datasets: list[tuple[str, list, str]], *, stacked: bool = False) -> str:
    return json.dumps(
        {
            "labels": labels,
            "datasets": [
                {"label": label, "data": values, "backgroundColor": colour, "borderColor": colour}
                for label, values, colour in datasets
            ],
        }
    )


def hourly_trends(user, scope: Scope, *, now: datetime | None = None) -> dict | None:
    """Failed jobs (every followed job table), and each registered series (conflicts, dead
    letters), per hour over the last 7 days; the last 24 hours as their own chart. One query
    per table and per series. None when the user may see none of them."""
    now = now or timezone.now()
    hours = TREND_DAYS * 24
    first = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)
    slots = [first + timedelta(hours=n) for n in range(hours)]
    failed: dict[datetime, int] = defaultdict(int)
    tables = job_tables_for(user)
    for table in tables:
        if table.hub_wide and not scope.hub:
            continue
        jobs = table.model.objects.filter(status=JobStatus.FAILED)
        jobs = jobs.filter(Q(store__in=scope.stores) | Q(store__isnull=True)) if scope.hub else scope.of(jobs)
        for hour, n in hourly_counts(jobs, "created_at", first).items():
            failed[hour] += n
    datasets = [("Failed jobs", [failed.get(slot, 0) for slot in slots], FAILED_COLOUR)] if tables else []
    for series in series_for(user):
        counts = series.hourly(scope, first)
        datasets.append((series.title, [counts.get(slot, 0) for slot in slots], series.colour))
    if not datasets:
        return None
    return {
        "day": _chart([f"{slot:%H}h" for slot in slots[-24:]], [(lb, v[-24:], c) for lb, v, c in datasets]),
        "week": _chart([f"{slot:%a %H}h" for slot in slots], datasets),
        "totals": [(label, sum(values[-24:]), sum(values)) for label, values, _ in datasets],
    }


def day_ends(now: datetime | None = None) -> list[datetime]:
    """The ends of the last seven days (UTC), oldest first; the last one is now."""
    now = now or timezone.now()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return [midnight - timedelta(days=n) for n in range(TREND_DAYS - 1, 0, -1)] + [now]


def daily_charts(user, scope: Scope, *, now: datetime | None = None) -> list[dict]:
    """The registered 7-day charts (NAS backlog, edge coverage) as unfold line charts."""
    ends = day_ends(now)
    labels = [f"{(end - timedelta(seconds=1)):%a %d}" for end in ends[:-1]] + ["now"]
    charts = []
    for chart in charts_for(user):
        if chart.hub_only and not scope.hub:
            continue
        datasets = chart.days(scope, ends)
        if datasets:
            charts.append({"key": chart.key, "title": chart.title, "data": _chart(labels, list(datasets))})
    return charts


# --- a store's page --------------------------------------------------------------------------

HEALTH = {BAD: ("Failing", BAD), WARN: ("Needs attention", WARN)}


def store_overview(user, store) -> dict:
    """What a store's page shows above its form: its health (the worst of what needs attention),
    the registered columns' cells for it (last runs per kind with their 24 h strips, coverage,
    counts), its running jobs, and links to everything of that store."""
    scope = Scope(type(store).objects.filter(pk=store.pk), store_id=store.pk)
    items = attention(user, scope)
    tones = {item.tone for item in items}
    health = HEALTH[BAD] if BAD in tones else HEALTH[WARN] if items else ("Healthy", OK)
    cells = [(column, column.cells([store]).get(store.pk, column.empty)) for column in columns_for(user)]
    return {
        "store_health": health,
        "attention": items,
        "store_cells": cells,
        "running": running_jobs(user, scope),
        "progress_url": f"{reverse('admin-dashboard-progress')}?store={store.pk}",
        "store_links": [(link.label, link.url(store.pk)) for link in store_links_for(user)],
    }
