"""The operator console for store sync: configurations (entities, rules and filters inline),
jobs with their progress, conflicts side by side, dead letters with a requeue action.

The wings' pages (``storesync.webhooks.admin``, ``storesync.health.admin``) are imported here:
the admin's autodiscovery looks for an app's ``admin`` module."""

from __future__ import annotations

import json
import uuid
from functools import partial
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from unfold.admin import ModelAdmin, StackedInline, TabularInline
from unfold.contrib.filters.admin import TextFilter
from unfold.decorators import action
from unfold.enums import ActionVariant
from unfold.widgets import (
    UnfoldAdminCheckboxSelectMultipleWidget,
    UnfoldAdminPasswordWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminURLInputWidget,
)

from catalog.models import Store
from catalog.platforms import PlatformError, UnsafeURLError, validate_platform_url
from config.admin import JOB_STATUS_TONES, AuditRecordAdmin, JobAdmin, badge, short_text, table
from config.errors import DomainError
from config.jobs import BrokerUnavailable, JobStatus, JobTrigger
from storesync import lineage, resolution, selectors, services
from storesync.constants import SYNCABLE_FIELDS, ConflictStatus, JobMode, Resolution
from storesync.engine.entities import ADAPTERS
from storesync.engine.merge import MISSING
from storesync.exceptions import ConflictStale, SyncError
from storesync.health import admin as health_admin  # noqa: F401  (registers the health pages)
from storesync.models import (
    OWED_STATUSES,
    DeadLetter,
    DeadLetterStatus,
    StoreSyncJob,
    SyncChange,
    SyncConfig,
    SyncConflict,
    SyncEntity,
    SyncFilter,
    SyncRule,
    SyncTombstone,
)
from storesync.presenters import (
    dead_letter_fix,
    entity_results,
    job_summary,
    pending_conflicts_note,
    progress_percentage,
)
from storesync.webhooks import admin as webhooks_admin  # noqa: F401  (registers the webhook pages)


class SyncConfigForm(forms.ModelForm):
    webhook_endpoint = forms.URLField(
        required=False, assume_scheme="https", max_length=500, widget=UnfoldAdminURLInputWidget
    )
    webhook_secret = forms.CharField(
        required=False,
        widget=UnfoldAdminPasswordWidget(render_value=False),
        help_text="Write-only: leave blank to keep the current secret.",
    )

    class Meta:
        model = SyncConfig
        fields = "__all__"

    def clean_webhook_secret(self) -> str:
        return self.cleaned_data["webhook_secret"] or (self.instance.webhook_secret if self.instance.pk else "")

    def clean_webhook_endpoint(self) -> str:
        endpoint = self.cleaned_data["webhook_endpoint"]
        if endpoint:
            try:
                validate_platform_url(endpoint)
            except UnsafeURLError as exc:
                raise forms.ValidationError(str(exc)) from None
        return endpoint


def field_choices(entity_type: str | None, current: list[str] = ()) -> list[tuple[str, str]]:
    """The entity's syncable field names (every entity's for a new row), and any name the row
    already holds (an excluded field the API accepted), so that saving keeps it."""
    names = SYNCABLE_FIELDS.get(entity_type) or tuple(dict.fromkeys(n for ns in SYNCABLE_FIELDS.values() for n in ns))
    return [(name, name) for name in dict.fromkeys([*names, *current])]


GROUPED_FIELD_CHOICES = [(entity, [(name, name) for name in names]) for entity, names in SYNCABLE_FIELDS.items()]


class EntityForm(forms.ModelForm):
    """``fields`` and ``exclude_fields`` as checkboxes of the entity's field names; the model's
    ``clean`` (the API's checks) puts its errors on the field."""

    fields = forms.MultipleChoiceField(
        required=False, widget=UnfoldAdminCheckboxSelectMultipleWidget, help_text="The fields this store syncs."
    )
    exclude_fields = forms.MultipleChoiceField(
        required=False, widget=UnfoldAdminCheckboxSelectMultipleWidget, help_text="Fields left out of the sync."
    )

    class Meta:
        model = SyncEntity
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        entity_type = self.instance.entity_type if self.instance.pk else None
        for name in ("fields", "exclude_fields"):
            self.fields[name].choices = field_choices(entity_type, getattr(self.instance, name) or [])


class EntityInline(StackedInline):
    model = SyncEntity
    form = EntityForm
    extra = 0
    fields = [
        "entity_type",
        "enabled",
        "direction",
        "conflict_resolution",
        "delete_policy",
        "fields",
        "exclude_fields",
        "store_watermark",
        "platform_watermark",
        "last_sync_at",
        "last_full_sync_at",
        "last_status",
        "max_changes",
        "max_changes_percent",
    ]
    readonly_fields = ["store_watermark", "platform_watermark", "last_sync_at", "last_full_sync_at", "last_status"]


class FieldSelectForm(forms.ModelForm):
    """A rule's or filter's ``field`` as a select of the syncable fields, grouped by entity."""

    field = forms.ChoiceField(choices=GROUPED_FIELD_CHOICES, widget=UnfoldAdminSelectWidget)


class RuleInline(TabularInline):
    model = SyncRule
    form = FieldSelectForm
    extra = 0
    fields = ["position", "name", "entity_type", "field", "condition", "action", "created_from"]
    raw_id_fields = ["created_from"]


class FilterInline(TabularInline):
    model = SyncFilter
    form = FieldSelectForm
    extra = 0
    fields = ["position", "entity_type", "field", "operator", "value"]


@admin.register(SyncConfig)
class SyncConfigAdmin(ModelAdmin):
    form = SyncConfigForm
    list_display = ["store", "sync_frequency", "paused", "entity_list", "last_scheduled_at", "updated_at"]
    list_filter = ["sync_frequency", "paused"]
    search_fields = ["store__code", "store__name"]
    readonly_fields = ["paused_at", "last_scheduled_at", "created_at", "updated_at"]
    inlines = [EntityInline, RuleInline, FilterInline]
    actions = ["sync_now", "full_sync_now", "preview_now", "pause", "resume"]
    list_select_related = ["store"]

    @admin.display(description="Entities")
    def entity_list(self, config) -> str:
        return ", ".join(f"{e.entity_type} ({e.direction})" for e in config.entities.all() if e.enabled) or "-"

    def _trigger(self, request, queryset, sync_type: str, mode: str = JobMode.SYNC) -> None:
        what = "preview" if mode == JobMode.PREVIEW else "sync"
        for config in queryset.select_related("store"):
            try:
                job = services.trigger_sync(
                    config.store, sync_type=sync_type, trigger=JobTrigger.ADMIN, user=request.user, mode=mode
                )
            except (SyncError, PlatformError, BrokerUnavailable) as exc:
                self.message_user(request, f"{config.store}: {exc}", messages.WARNING)
            else:
                self.message_user(request, f"{config.store}: {sync_type} {what} queued ({job.pk}).", messages.SUCCESS)

    @admin.action(description="Preview a full sync (dry run: nothing written)")
    def preview_now(self, request, queryset) -> None:
        self._trigger(request, queryset, "full", JobMode.PREVIEW)

    @admin.action(description="Sync now (incremental)")
    def sync_now(self, request, queryset) -> None:
        self._trigger(request, queryset, "incremental")

    @admin.action(description="Full sync now")
    def full_sync_now(self, request, queryset) -> None:
        self._trigger(request, queryset, "full")

    @admin.action(description="Pause")
    def pause(self, request, queryset) -> None:
        for config in queryset.select_related("store"):
            services.pause_sync(config.store)
        self.message_user(request, "Paused.", messages.SUCCESS)

    @admin.action(description="Resume")
    def resume(self, request, queryset) -> None:
        for config in queryset.select_related("store"):
            services.resume_sync(config.store)
        self.message_user(request, "Resumed.", messages.SUCCESS)


@admin.register(StoreSyncJob)
class StoreSyncJobAdmin(JobAdmin):
    list_display = [
        "short_id",
        "store",
        "status_badge",
        "outcome",
        "sync_type",
        "trigger",
        "progress_display",
        "items_failed",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "sync_type", "priority", "trigger", "store"]
    detail_fields = [
        "sync_type",
        "mode",
        "source_job",
        "priority",
        "entity_list",
        "current_entity",
        "cancel_requested",
        "entity_results_table",
        "plan_table",
    ]
    internal_fields = ["claim_token", "retries", "options", "checkpoint"]
    # A held job's decision and a preview's apply: buttons on the job's page (run on the dialog's POST).
    actions_detail = ["approve_held", "reject_held", "apply_preview", "undo_job"]
    PLAN_ROWS = 200

    @admin.display(description="Planned changes (preview or held plan)")
    def plan_table(self, job):
        changes = list(SyncChange.objects.filter(job=job).order_by("id")[: self.PLAN_ROWS + 1])
        if not changes:
            return "-" if job.mode != JobMode.PREVIEW and job.status != JobStatus.HELD else "no change planned"
        totals = (job.result or {}).get("preview") or {}
        summary = "; ".join(
            f"{name}: " + ", ".join(f"{n} {key}" for key, n in counts.items() if n) for name, counts in totals.items()
        )
        rows = [
            [
                record_link(c.entity_type, c.record_pk, shop_id=c.shop_id),
                c.field,
                c.side,
                format_html("{} → {}", _value(c.old_value), _value(c.new_value)),
                c.action,
                c.settled_by or "-",
            ]
            for c in changes[: self.PLAN_ROWS]
        ]
        more = ""
        if len(changes) > self.PLAN_ROWS:
            more = format_html(
                '<p class="mt-2">The first {} rows; <a class="text-primary-600" href="{}">the full list</a> '
                "(the API, paged).</p>",
                self.PLAN_ROWS,
                f"/api/v1/sync/jobs/{job.pk}/changes",
            )
        head = format_html('<p class="mb-2">{}</p>', summary) if summary else ""
        return format_html(
            "{}{}{}", head, table(["record", "field", "side", "old → new", "action", "settled by"], rows), more
        )

    def has_job_decision_permission(self, request, obj=None) -> bool:
        """Approve, reject, apply, undo: whoever may trigger a sync (``add_storesyncjob``)."""
        return request.user.has_perm("storesync.add_storesyncjob")

    def _job_is(self, object_id, **state) -> bool:
        """The job's page offers a decision only where it applies (``object_id`` None: the action runs)."""
        if object_id is None:
            return True
        try:
            return StoreSyncJob.objects.filter(pk=unquote(str(object_id)), **state).exists()
        except (ValueError, ValidationError):
            return False

    def has_held_decision_permission(self, request, object_id=None) -> bool:
        return self.has_job_decision_permission(request) and self._job_is(object_id, status=JobStatus.HELD)

    def has_preview_apply_permission(self, request, object_id=None) -> bool:
        finished = [JobStatus.SUCCEEDED, JobStatus.PARTIAL]
        return self.has_job_decision_permission(request) and self._job_is(
            object_id, mode=JobMode.PREVIEW, status__in=finished
        )

    def has_undo_job_permission(self, request, object_id=None) -> bool:
        # The API's rule for an undo: whoever may trigger a sync, on a finished job that wrote.
        undoable = self._job_is(object_id, status__in=services.UNDOABLE_STATUSES) and not self._job_is(
            object_id, mode=JobMode.PREVIEW
        )
        return self.has_job_decision_permission(request) and (object_id is None or undoable)

    def _decide(self, request, object_id, decide) -> HttpResponse:
        job = self.get_object(request, unquote(object_id))
        if job is None:
            raise Http404("No such sync job.")
        try:
            done = decide(job, request.user)
        except (SyncError, PlatformError, BrokerUnavailable) as exc:
            self.message_user(request, f"{exc}", messages.ERROR)
        else:
            self.message_user(request, done, messages.SUCCESS)
        page = reverse(f"{self.admin_site.name}:storesync_storesyncjob_change", args=[job.pk])
        return HttpResponse(headers={"HX-Redirect": page})

    @action(
        description="Approve",
        permissions=["held_decision"],
        icon="check",
        dialog={
            "title": "Approve the held job",
            "description": "It is queued again and runs without the mass-change brake.",
            "form_submit_text": "Approve",
        },
    )
    def approve_held(self, request, form, object_id):
        def decide(job, user):
            services.approve_job(job, user=user)
            return "Approved: the job is queued again."

        return self._decide(request, object_id, decide)

    @action(
        description="Reject",
        permissions=["held_decision"],
        icon="close",
        variant=ActionVariant.DANGER,
        dialog={
            "title": "Reject the held job",
            "description": "It ends cancelled; nothing is written.",
            "form_submit_text": "Reject",
        },
    )
    def reject_held(self, request, form, object_id):
        def decide(job, user):
            services.reject_job(job, user=user)
            return "Rejected: nothing was written."

        return self._decide(request, object_id, decide)

    @action(
        description="Apply",
        permissions=["preview_apply"],
        icon="play_arrow",
        dialog={
            "title": "Apply the preview",
            "description": "Sync the preview's records where the planned change still holds; "
            "the others are reported as changed since the preview.",
            "form_submit_text": "Apply",
        },
    )
    def apply_preview(self, request, form, object_id):
        def decide(job, user):
            applied = services.apply_preview(job, user=user, trigger=JobTrigger.ADMIN)
            return f"Apply queued ({applied.pk})."

        return self._decide(request, object_id, decide)

    @action(
        description="Undo this job",
        icon="undo",
        permissions=["undo_job"],
        dialog={
            "title": "Undo this job",
            "description": "Queue a job that writes back the values this job replaced, where nothing "
            "moved since (the others are reported). Records it created are kept. The next sync "
            "merges these records as before the job: pause the store or change the rule first to keep the undo.",
            "form_submit_text": "Undo this job",
        },
    )
    def undo_job(self, request, form, object_id):
        job = self.get_object(request, unquote(object_id))
        if job is None:
            raise Http404("No such job.")
        try:
            undo = services.undo_job(job, trigger=JobTrigger.ADMIN, user=request.user)
        except (DomainError, PlatformError, BrokerUnavailable) as exc:
            self.message_user(request, f"Not undone: {exc}", messages.ERROR)
            page = reverse("admin:storesync_storesyncjob_change", args=[job.pk])
        else:
            self.message_user(request, f"Undo queued ({undo.pk}).", messages.SUCCESS)
            page = reverse("admin:storesync_storesyncjob_change", args=[undo.pk])
        return HttpResponse(headers={"HX-Redirect": page})

    @admin.display(description="Entities")
    def entity_list(self, job) -> str:
        return ", ".join(job.entities)

    def outcome_text(self, job) -> str:
        """Why it failed, or what the run left for a person: "3 conflicts wait ..."."""
        failure = super().outcome_text(job)
        note = pending_conflicts_note(job_summary(job)["conflicts_pending"]) if not job.is_active else ""
        return "; ".join(part for part in (failure, note) if part)

    @admin.display(description="Progress")
    def progress_display(self, job) -> str:
        return f"{progress_percentage(job):.1f}%"

    @admin.display(description="Results per entity")
    def entity_results_table(self, job):
        results = entity_results(job)
        if not results:
            return "-"
        columns = [
            "status",
            "records_synced",
            "records_updated",
            "records_created",
            "conflicts_resolved",
            "conflicts_pending",
            "errors",
            "duration",
        ]
        return table(
            [c.replace("_", " ") for c in ["entity", *columns]],
            [[name, *("-" if r.get(c) is None else r.get(c) for c in columns)] for name, r in results.items()],
        )

    def error_record(self, error: dict):
        return record_link(error.get("entity"), error.get("record_pk"), shop_id=error.get("shop_id"))

    def job_links(self, job) -> list[tuple[str, str]]:
        return [
            ("Changes it wrote" if job.mode != JobMode.PREVIEW else "Changes it planned", history_url(job=job.pk)),
            ("Conflicts it raised", changelist_url(SyncConflict, job__exact=job.pk, status__exact="all")),
            ("Dead letters it left", changelist_url(DeadLetter, job__exact=job.pk, status__exact="all")),
            ("Dead letters it requeued", changelist_url(DeadLetter, requeue_job__exact=job.pk, status__exact="all")),
        ]


def _value(value) -> str:
    return "∅" if value is None else short_text(value)


def changelist_url(model, **filters) -> str:
    meta = model._meta
    return f"{reverse(f'admin:{meta.app_label}_{meta.model_name}_changelist')}?{urlencode(filters)}"


def history_url(*, job=None, row=None) -> str:
    """The change history of a job, or of the record a row (conflict, letter, change) is about."""
    if job is not None:
        return changelist_url(SyncChange, job__exact=job)
    record = {"record_pk__exact": row.record_pk} if row.record_pk is not None else {"shop_id__exact": row.shop_id}
    return changelist_url(SyncChange, store__id__exact=row.store_id, entity_type__exact=row.entity_type, **record)


def record_url(entity_type: str | None, record_pk) -> str | None:
    adapter = ADAPTERS.get(entity_type)
    if adapter is None or record_pk is None:
        return None
    meta = adapter.model._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[record_pk])


def record_link(entity_type: str | None, record_pk, *, label: str = "", shop_id=None):
    """A platform record by name (or by id) with a link to its page."""
    text = label or f"{entity_type or 'record'} {record_pk if record_pk is not None else '-'}"
    if shop_id is not None and not label:
        text += f" (shop id {shop_id})"
    url = record_url(entity_type, record_pk)
    return format_html('<a class="text-primary-600" href="{}">{}</a>', url, text) if url else text


class RecordNamesMixin:
    """List pages of rows about platform records (``entity_type``, ``record_pk``): the page's
    records are read at once, one query per entity type, and each row gets ``platform_record``."""

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        rows = list(changelist.result_list)  # evaluated once: the page renders these same rows
        records = selectors.platform_records((row.entity_type, row.record_pk) for row in rows)
        for row in rows:
            row.platform_record = records.get((row.entity_type, row.record_pk))
        return changelist

    def platform_record(self, row):
        if not hasattr(row, "platform_record"):  # a detail page: one row, one query
            row.platform_record = selectors.platform_records([(row.entity_type, row.record_pk)]).get(
                (row.entity_type, row.record_pk)
            )
        return row.platform_record

    def record_cell(self, row, detail: str = ""):
        record = self.platform_record(row)
        if record is None:
            name = f"{row.entity_type} {row.record_pk if row.record_pk is not None else f'shop id {row.shop_id}'}"
            link = format_html('{} <span class="text-font-subtle-light">(not on the platform)</span>', name)
        else:
            link = record_link(row.entity_type, row.record_pk, label=str(record))
        if row.record_pk is not None:
            url = lineage_url(row.store_id, row.entity_type, row.record_pk)
            detail = format_html('{} · <a class="text-primary-600 lineage-link" href="{}">lineage</a>', detail, url)
        return format_html(
            '<div class="text-xs text-font-subtle-light">{} · {}{} · <a class="text-primary-600" href="{}">History</a>'
            "</div>{}",
            row.store,
            row.entity_type,
            detail,
            history_url(row=row),
            link,
        )


BIGINT_LIMIT = 2**63  # a larger id in the path names no row (and the database would refuse it)


def lineage_url(store_id, entity_type: str, record_pk) -> str:
    return reverse("admin:storesync_record_lineage", args=[store_id, entity_type, record_pk])


def job_link(job_id) -> str:
    url = reverse("admin:storesync_storesyncjob_change", args=[job_id])
    return format_html('<a class="text-primary-600" href="{}">job {}</a>', url, str(job_id)[:8])


def _value(value):
    return "—" if value is None else short_text(value, 200)


def lineage_view(model_admin, request, store_id: int, entity: str, record_pk: int):
    """A record's lineage, read-only: the API's facts (``storesync.lineage``) in tables, with
    each job, dead letter and conflict linked to its page."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    in_range = max(store_id, record_pk) < BIGINT_LIMIT
    store = Store.objects.filter(pk=store_id).first() if in_range else None
    found = lineage.record_lineage(store, entity, record_pk) if store and entity in ADAPTERS else None
    if found is None:
        raise Http404("No such record.")
    fields = [
        {
            "name": f.name,
            "value": _value(f.value),
            "base": _value(f.base),
            "job": job_link(f.last_change.job_id) if f.last_change else None,
            "change": f.last_change,
            "old": _value(f.last_change.old_value) if f.last_change else "",
            "new": _value(f.last_change.new_value) if f.last_change else "",
        }
        for f in found.fields
    ]
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": f"Sync lineage: {found.label}",
        "lineage": found,
        "record_link": record_link(entity, record_pk, label=found.label) if found.record else found.label,
        "fields": fields,
        "owed": [(letter, _value(letter.error)) for letter in found.owed],
        "conflicts": [
            (c, _value(c.store_value), _value(c.platform_value), _value(c.base_value)) for c in found.pending_conflicts
        ],
    }
    return TemplateResponse(request, "admin/storesync/lineage.html", context)


class StatusFilter(admin.SimpleListFilter):
    """A status filter with a default (what needs a person) and "All" as a choice of its own.
    Its parameter is the field lookup's name, so the dashboard's links filter the same way."""

    title = "status"
    parameter_name = "status__exact"
    default: str
    choices_list: list[tuple[str, str]]
    groups: dict[str, tuple[str, ...]] = {}

    def lookups(self, request, model_admin):
        return [*self.choices_list, ("all", "All")]

    def value(self):
        return super().value() or self.default

    def queryset(self, request, queryset):
        value = self.value()
        if value == "all":
            return queryset
        return queryset.filter(status__in=self.groups.get(value, (value,)))

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


class ConflictStatusFilter(StatusFilter):
    default = ConflictStatus.PENDING
    choices_list = [(s.value, s.value.capitalize()) for s in ConflictStatus]


CONFLICT_TONES = {ConflictStatus.PENDING: "warning", ConflictStatus.RESOLVED: "success", ConflictStatus.IGNORED: ""}
CONFLICT_DECISIONS = {
    "use_store_value": "Keep the store's value",
    "use_platform_value": "Keep the platform's value",
    "keep_newest": "Keep the newest",
}


def _when(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _side(value, moment=None):
    when = format_html('<div class="text-xs text-font-subtle-light">{}</div>', _when(moment)) if moment else ""
    return format_html("{}{}", short_text("—" if value is None else value, 40), when)


@admin.register(SyncConflict)
class SyncConflictAdmin(RecordNamesMixin, AuditRecordAdmin):
    """The conflict inbox: pending first, counted by store, entity and field; each row names its
    record; decisions are bulk actions, and a conflict's page settles it and opens the next one.
    Every decision goes through ``storesync.resolution`` (the API's resolve endpoint's logic)."""

    list_display = [
        "id",
        "status_badge",
        "record",
        "field",
        "store_side",
        "platform_side",
        "base_side",
    ]
    list_display_links = ["id"]
    list_filter = [ConflictStatusFilter, "entity_type", "store", "field"]
    search_fields = ["field", "record_pk", "shop_id"]
    list_select_related = ["store"]
    list_per_page = 50
    ordering = ["id"]  # oldest first, the order "next pending" follows
    actions = ["use_store_value", "use_platform_value", "keep_newest", "use_custom_value", "ignore"]
    list_before_template = "admin/storesync/syncconflict/counts.html"
    change_form_outer_before_template = "admin/storesync/syncconflict/side_by_side.html"
    # The side-by-side panel above shows the record, the field, the values and the status.
    fields = ["store", "job", "resolution", "resolved_value_text", "resolved_by", "resolved_at", "created_at"]
    readonly_fields = fields

    class Media:
        css = {"all": ["storesync/console.css"]}

    def get_urls(self):
        view = self.admin_site.admin_view(partial(lineage_view, self))
        lineage_path = path(
            "lineage/<int:store_id>/<str:entity>/<int:record_pk>/", view, name="storesync_record_lineage"
        )
        return [lineage_path, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        counts = selectors.conflict_counts(SyncConflict.objects.filter(status=ConflictStatus.PENDING))
        return super().changelist_view(request, {**(extra_context or {}), "conflict_counts": counts})

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "decisions": CONFLICT_DECISIONS}
        if object_id and (conflict := self.get_object(request, object_id)) is not None:
            extra_context["record"] = self.record_cell(conflict)
            extra_context["next_pending"] = selectors.next_pending_conflict(conflict)
        return super().changeform_view(request, object_id, form_url, extra_context)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, conflict):
        return badge(conflict.get_status_display(), CONFLICT_TONES.get(conflict.status, ""), state=conflict.status)

    @admin.display(description="Record")
    def record(self, conflict):
        return self.record_cell(conflict)

    @admin.display(description="Store value, modified")
    def store_side(self, conflict):
        return _side(conflict.store_value, conflict.last_modified_store)

    @admin.display(description="Platform value, modified")
    def platform_side(self, conflict):
        return _side(conflict.platform_value, conflict.last_modified_platform)

    @admin.display(description="Resolved value")
    def resolved_value_text(self, conflict):
        return "-" if conflict.resolved_value is None else short_text(conflict.resolved_value, 500)

    @admin.display(description="Last agreed")
    def base_side(self, conflict):
        return _side(conflict.base_value)

    def _resolve(self, request, queryset, choose, custom_value=MISSING):
        """Settle each pending conflict with ``choose(conflict)``; a stale one is refreshed and
        reported, not overwritten. From a conflict's page, go on to the next pending one."""
        done = 0
        conflicts = list(queryset.filter(status=ConflictStatus.PENDING).order_by("id"))
        for conflict in conflicts:
            try:
                resolution.resolve_conflict(
                    conflict, resolution=choose(conflict), custom_value=custom_value, user=request.user
                )
            except ConflictStale as exc:
                self.message_user(request, f"Conflict {conflict.pk} was not changed: {exc}", messages.ERROR)
            except (SyncError, PlatformError) as exc:
                self.message_user(request, f"Conflict {conflict.pk}: {exc}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(
                request, f"{done} conflict(s) resolved: the value was written to both sides.", messages.SUCCESS
            )
        return self._after_decision(request, conflicts, settled=done == len(conflicts))

    def _after_decision(self, request, conflicts, *, settled: bool):
        if "_next_pending" not in request.POST or not conflicts:
            return None
        if not settled:  # stay on the conflict: its page shows the refreshed values
            return redirect("admin:storesync_syncconflict_change", conflicts[0].pk)
        following = selectors.next_pending_conflict(conflicts[0])
        if following is None:
            self.message_user(request, "No pending conflict left.", messages.INFO)
            return redirect("admin:storesync_syncconflict_changelist")
        return redirect("admin:storesync_syncconflict_change", following.pk)

    @admin.action(description="Keep the store's value", permissions=["change"])
    def use_store_value(self, request, queryset):
        return self._resolve(request, queryset, lambda c: Resolution.USE_STORE_VALUE)

    @admin.action(description="Keep the platform's value", permissions=["change"])
    def use_platform_value(self, request, queryset):
        return self._resolve(request, queryset, lambda c: Resolution.USE_PLATFORM_VALUE)

    @admin.action(description="Keep the newest (the side modified last)", permissions=["change"])
    def keep_newest(self, request, queryset):
        return self._resolve(request, queryset, resolution.newest_resolution)

    @admin.action(description="Use a custom value…", permissions=["change"])
    def use_custom_value(self, request, queryset):
        """An intermediate page asks for the value (unless the conflict's page sent it)."""
        if "custom_value" in request.POST:
            return self._resolve(
                request, queryset, lambda c: Resolution.USE_CUSTOM_VALUE, custom_value=request.POST["custom_value"]
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Use a custom value",
            "conflicts": queryset.filter(status=ConflictStatus.PENDING).select_related("store").order_by("id"),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/storesync/syncconflict/custom_value.html", context)

    @admin.action(description="Ignore (change nothing)", permissions=["change"])
    def ignore(self, request, queryset):
        conflicts = list(queryset.filter(status=ConflictStatus.PENDING).order_by("id"))
        count = resolution.ignore_conflicts(conflicts, user=request.user)
        self.message_user(request, f"{count} conflict(s) ignored.", messages.SUCCESS)
        return self._after_decision(request, conflicts, settled=True)


class DeadLetterStatusFilter(StatusFilter):
    default = "owed"
    choices_list = [("owed", "Owed (pending or requeued)"), *DeadLetterStatus.choices]
    groups = {"owed": tuple(OWED_STATUSES)}


LETTER_TONES = {
    DeadLetterStatus.PENDING: "danger",
    DeadLetterStatus.REQUEUED: "info",
    DeadLetterStatus.RESOLVED: "success",
    DeadLetterStatus.DROPPED: "",
}
FIX_LABELS = {
    "shop": ("Fix in the shop", "danger"),
    "settings": ("Fix the connection", "danger"),
    "retry": ("Retry", "info"),
    "unknown": ("Check the error", "warning"),
}


@admin.register(DeadLetter)
class DeadLetterAdmin(RecordNamesMixin, AuditRecordAdmin):
    """Owed changes: the error, where its fix is (the shop, or a retry), the last requeue's job
    and how it ended; a letter whose requeue failed again stays owed with its attempt count."""

    list_display = ["id", "status_badge", "record", "error_text", "fix", "attempts", "last_requeue", "updated_at"]
    list_display_links = ["id"]
    list_filter = [DeadLetterStatusFilter, "code", "entity_type", "operation", "store"]
    search_fields = ["error", "code", "record_pk", "shop_id"]
    list_select_related = ["store", "requeue_job"]
    list_per_page = 50
    fields = [
        "status_badge",
        "record",
        "fix_advice",
        "error",
        "code",
        "attempts",
        "last_requeue",
        "job",
        "payload_text",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields
    actions = ["requeue", "drop"]

    class Media:
        css = {"all": ["storesync/console.css"]}

    @admin.display(description="Status", ordering="status")
    def status_badge(self, letter):
        return badge(letter.get_status_display(), LETTER_TONES.get(letter.status, ""), state=letter.status)

    @admin.display(description="Record")
    def record(self, letter):
        return self.record_cell(letter, f" · {letter.operation}")

    @admin.display(description="Error", ordering="code")
    def error_text(self, letter):
        return format_html('<div class="text-xs font-semibold">{}</div>{}', letter.code, short_text(letter.error, 120))

    @admin.display(description="Where the fix is")
    def fix(self, letter):
        where, advice = dead_letter_fix(letter.code)
        text, tone = FIX_LABELS[where]
        return format_html('<span title="{}">{}</span>', advice, badge(text, tone, state=where))

    @admin.display(description="Where the fix is")
    def fix_advice(self, letter):
        where, advice = dead_letter_fix(letter.code)
        return format_html("{} {}", badge(FIX_LABELS[where][0], FIX_LABELS[where][1], state=where), advice)

    @admin.display(description="Last requeue")
    def last_requeue(self, letter):
        job = letter.requeue_job
        if job is None:
            return "never requeued"
        url = reverse("admin:storesync_storesyncjob_change", args=[job.pk])
        return format_html(
            '<a class="text-primary-600" href="{}">job {}</a> {}',
            url,
            str(job.pk)[:8],
            badge(job.get_status_display(), JOB_STATUS_TONES.get(job.status, ""), state=job.status),
        )

    @admin.display(description="Payload")
    def payload_text(self, letter):
        return format_html('<pre class="whitespace-pre-wrap">{}</pre>', json.dumps(letter.payload, indent=2))

    @admin.action(description="Requeue (sync these records again)", permissions=["change"])
    def requeue(self, request, queryset) -> None:
        pks = list(queryset.values_list("pk", flat=True))
        try:
            jobs = services.requeue_dead_letters(queryset, user=request.user)
        except (SyncError, PlatformError, BrokerUnavailable) as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        message = f"Requeued in {len(jobs)} job(s): {', '.join(str(j.pk) for j in jobs)}."
        # A worker in this process (the embedded mode), or a fast one, may have run them already.
        outcome = selectors.dead_letter_statuses(pks)
        if outcome.get(DeadLetterStatus.PENDING):
            message += f" {outcome[DeadLetterStatus.PENDING]} letter(s) failed again and stay pending."
            self.message_user(request, message, messages.WARNING)
        else:
            if outcome.get(DeadLetterStatus.RESOLVED):
                message += f" {outcome[DeadLetterStatus.RESOLVED]} letter(s) resolved."
            self.message_user(request, message, messages.SUCCESS)

    @admin.action(description="Drop (stop retrying these changes)", permissions=["change"])
    def drop(self, request, queryset) -> None:
        count = services.drop_dead_letters(queryset)
        self.message_user(request, f"{count} letter(s) dropped: no sync will retry them.", messages.SUCCESS)


@admin.register(SyncTombstone)
class SyncTombstoneAdmin(AuditRecordAdmin):
    """Linked platform records that were deleted, and what the next sync did to the shop's
    (docs/sync-deletes.md): open until a sync of the entity processes them."""

    list_display = ["id", "entity_type", "record_pk", "shop_id", "store", "deleted_at", "processed_at", "outcome"]
    list_filter = ["entity_type", "outcome", "store"]
    search_fields = ["record_pk", "shop_id"]
    list_select_related = ["store"]
    list_per_page = 50
    fields = ["store", "entity_type", "record_pk", "shop_id", "values", "deleted_at", "processed_at", "outcome", "job"]
    readonly_fields = fields


class ChangeJobFilter(TextFilter):
    """A job's rows (its id, as the job's "Changes it wrote" link gives it)."""

    title = "job"
    parameter_name = "job__exact"

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        if not value:
            return queryset
        try:
            return queryset.filter(job_id=uuid.UUID(value))
        except ValueError:
            return queryset.none()


@admin.register(SyncChange)
class SyncChangeAdmin(RecordNamesMixin, AuditRecordAdmin):
    """The change history: each field a job wrote (a preview: would write) with the value it
    replaced. Read only; the retention prunes it. A record's "History" link (conflicts, dead
    letters, these rows) filters it to that record, a job's page to that job."""

    list_display = [
        "id",
        "record",
        "field",
        "side",
        "action",
        "old_value_text",
        "new_value_text",
        "job_link",
        "created_at",
    ]
    list_display_links = ["id"]
    list_filter = ["store", "entity_type", "side", "action", ChangeJobFilter]
    list_filter_submit = True
    search_fields = ["=record_pk", "=shop_id"]
    list_select_related = ["store", "job"]
    list_per_page = 50
    ordering = ["-id"]
    fields = [
        "record",
        "field",
        "side",
        "action",
        "old_value_text",
        "new_value_text",
        "settled_by",
        "job_link",
        "created_at",
    ]
    readonly_fields = fields

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Record")
    def record(self, row):
        return self.record_cell(row)

    @admin.display(description="Old value")
    def old_value_text(self, row):
        return _side(row.old_value)

    @admin.display(description="New value")
    def new_value_text(self, row):
        return _side(row.new_value)

    @admin.display(description="Job", ordering="job")
    def job_link(self, row):
        url = reverse("admin:storesync_storesyncjob_change", args=[row.job_id])
        return format_html('<a class="text-primary-600" href="{}">{} {}</a>', url, row.job.mode, str(row.job_id)[:8])


# --- The store page's sync actions (issue 16 part A): registered on catalog's StoreAdmin ---
from storesync import store_actions  # noqa: E402, F401
