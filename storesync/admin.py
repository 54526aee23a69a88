"""The operator console for store sync: configurations (entities, rules and filters inline),
jobs with their progress, conflicts side by side, dead letters with a requeue action.

The wings' pages (``storesync.webhooks.admin``, ``storesync.health.admin``) are imported here:
the admin's autodiscovery looks for an app's ``admin`` module."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join
from unfold.admin import ModelAdmin, StackedInline, TabularInline

from catalog.platforms import PlatformError, UnsafeURLError, validate_platform_url
from config.admin import JobAdmin
from config.jobs import BrokerUnavailable, JobTrigger
from storesync import resolution, selectors, services
from storesync.constants import ConflictStatus, Resolution
from storesync.exceptions import SyncError
from storesync.health import admin as health_admin  # noqa: F401  (registers the health pages)
from storesync.models import (
    DeadLetter,
    DeadLetterStatus,
    StoreSyncJob,
    SyncConfig,
    SyncConflict,
    SyncEntity,
    SyncFilter,
    SyncRule,
)
from storesync.presenters import job_detail, job_summary, pending_conflicts_note
from storesync.webhooks import admin as webhooks_admin  # noqa: F401  (registers the webhook pages)


class SyncConfigForm(forms.ModelForm):
    webhook_endpoint = forms.URLField(required=False, assume_scheme="https", max_length=500)
    webhook_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
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


class EntityInline(StackedInline):
    model = SyncEntity
    extra = 0
    fields = [
        "entity_type",
        "enabled",
        "direction",
        "conflict_resolution",
        "fields",
        "exclude_fields",
        "store_watermark",
        "platform_watermark",
        "last_sync_at",
        "last_full_sync_at",
        "last_status",
    ]
    readonly_fields = ["store_watermark", "platform_watermark", "last_sync_at", "last_full_sync_at", "last_status"]


class RuleInline(TabularInline):
    model = SyncRule
    extra = 0
    fields = ["position", "name", "entity_type", "field", "condition", "action", "created_from"]
    raw_id_fields = ["created_from"]


class FilterInline(TabularInline):
    model = SyncFilter
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
    actions = ["sync_now", "full_sync_now", "pause", "resume"]
    list_select_related = ["store"]

    @admin.display(description="Entities")
    def entity_list(self, config) -> str:
        return ", ".join(f"{e.entity_type} ({e.direction})" for e in config.entities.all() if e.enabled) or "-"

    def _trigger(self, request, queryset, sync_type: str) -> None:
        for config in queryset.select_related("store"):
            try:
                job = services.trigger_sync(
                    config.store, sync_type=sync_type, trigger=JobTrigger.ADMIN, user=request.user
                )
            except (SyncError, PlatformError, BrokerUnavailable) as exc:
                self.message_user(request, f"{config.store}: {exc}", messages.WARNING)
            else:
                self.message_user(request, f"{config.store}: {sync_type} sync queued ({job.pk}).", messages.SUCCESS)

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
        "id",
        "store",
        "status_label",
        "sync_type",
        "priority",
        "trigger",
        "entity_list",
        "progress_display",
        "items_processed",
        "items_failed",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "sync_type", "priority", "trigger", "store"]
    readonly_fields = [
        *JobAdmin.readonly_fields,
        "sync_type",
        "priority",
        "entities",
        "options",
        "retries",
        "current_entity",
        "entity_results_table",
        "checkpoint",
        "cancel_requested",
        "claim_token",
    ]
    exclude = ["entity_results"]

    @admin.display(description="Entities")
    def entity_list(self, job) -> str:
        return ", ".join(job.entities)

    @admin.display(description="Status", ordering="status")
    def status_label(self, job) -> str:
        """The status, and what the run left for a person: "Succeeded, 3 conflicts wait ..."."""
        note = pending_conflicts_note(job_summary(job)["conflicts_pending"]) if not job.is_active else ""
        return f"{job.get_status_display()}, {note}" if note else job.get_status_display()

    @admin.display(description="Progress")
    def progress_display(self, job) -> str:
        return f"{job_detail(job)['progress']['percentage']:.1f}%"

    @admin.display(description="Results per entity")
    def entity_results_table(self, job):
        results = job_detail(job)["results"]
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
        head = format_html_join("", "<th>{}</th>", ((c.replace("_", " "),) for c in ["entity", *columns]))
        rows = format_html_join(
            "",
            "<tr>{}</tr>",
            (
                (format_html_join("", "<td>{}</td>", ((v,) for v in [name, *(r.get(c) for c in columns)])),)
                for name, r in results.items()
            ),
        )
        return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, rows)


def _value(value) -> str:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)


@admin.register(SyncConflict)
class SyncConflictAdmin(ModelAdmin):
    list_display = [
        "id",
        "store",
        "entity_type",
        "record_pk",
        "field",
        "store_side",
        "platform_side",
        "last_modified_store",
        "last_modified_platform",
        "status",
        "resolution",
        "created_at",
    ]
    list_filter = ["status", "entity_type", "store", "field"]
    search_fields = ["field", "record_pk", "shop_id"]
    list_select_related = ["store"]
    actions = ["use_store_value", "use_platform_value", "ignore"]
    readonly_fields = [f.name for f in SyncConflict._meta.fields]

    @admin.display(description="Store value")
    def store_side(self, conflict) -> str:
        return _value(conflict.store_value)

    @admin.display(description="Platform value")
    def platform_side(self, conflict) -> str:
        return _value(conflict.platform_value)

    def has_add_permission(self, request) -> bool:
        return False

    def _resolve(self, request, queryset, choice: str) -> None:
        done = 0
        for conflict in queryset.filter(status=ConflictStatus.PENDING):
            try:
                resolution.resolve_conflict(conflict, resolution=choice, user=request.user)
            except (SyncError, PlatformError) as exc:
                self.message_user(request, f"Conflict {conflict.pk}: {exc}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(
                request, f"{done} conflict(s) resolved: the value was written to both sides.", messages.SUCCESS
            )

    @admin.action(description="Use the store's value", permissions=["change"])
    def use_store_value(self, request, queryset) -> None:
        self._resolve(request, queryset, Resolution.USE_STORE_VALUE)

    @admin.action(description="Use the platform's value", permissions=["change"])
    def use_platform_value(self, request, queryset) -> None:
        self._resolve(request, queryset, Resolution.USE_PLATFORM_VALUE)

    @admin.action(description="Ignore (change nothing)", permissions=["change"])
    def ignore(self, request, queryset) -> None:
        count = resolution.ignore_conflicts(queryset, user=request.user)
        self.message_user(request, f"{count} conflict(s) ignored.", messages.SUCCESS)


@admin.register(DeadLetter)
class DeadLetterAdmin(ModelAdmin):
    list_display = [
        "id",
        "store",
        "entity_type",
        "operation",
        "record_pk",
        "shop_id",
        "code",
        "attempts",
        "status",
        "created_at",
    ]
    list_filter = ["status", "code", "entity_type", "operation", "store"]
    search_fields = ["error", "code", "record_pk", "shop_id"]
    list_select_related = ["store"]
    readonly_fields = [f.name for f in DeadLetter._meta.fields]
    actions = ["requeue", "drop"]

    def has_add_permission(self, request) -> bool:
        return False

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


# --- The store page's sync actions (issue 16 part A): registered on catalog's StoreAdmin ---
from storesync import store_actions  # noqa: E402, F401
