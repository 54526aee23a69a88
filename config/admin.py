"""Admin pieces shared by every app: audit records' read-only pages, the job tables' admin
(every app's runs), status badges, the throttled admin login."""

import json
import math
from collections.abc import Iterable

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from unfold.admin import ModelAdmin

from config.api.throttling import login_wait
from config.jobs.models import JobStatus

# unfold's label tones (unfold/helpers/label.html); a badge always carries its text as well.
JOB_STATUS_TONES = {
    JobStatus.QUEUED: "info",
    JobStatus.RUNNING: "primary",
    JobStatus.SUCCEEDED: "success",
    JobStatus.PARTIAL: "warning",
    JobStatus.FAILED: "danger",
    JobStatus.CANCELLED: "",
}
LIST_TEXT_LIMIT = 90


def throttled_admin_login(request, **kwargs):
    """The admin's login view behind the API login's throttles: password guessing on /admin/login/
    meets the same limits as on /api/v1/auth/token/."""
    if request.method == "POST" and (wait := login_wait(request)) is not None:
        seconds = math.ceil(wait)
        response = HttpResponse(
            f"Too many login attempts. Try again in {seconds} seconds.", status=429, content_type="text/plain"
        )
        response["Retry-After"] = str(seconds)
        return response
    return admin.site.login(request, **kwargs)


def badge(text: str, tone: str, *, state: str = "") -> SafeString:
    """A state in colour with its label (the theme's label); ``data-state`` names it for tests."""
    html = render_to_string("unfold/helpers/label.html", {"text": text, "type": tone})
    return format_html('<span class="state-badge" data-state="{}">{}</span>', state, html)


def short_text(value, limit: int = LIST_TEXT_LIMIT) -> SafeString:
    """A value as escaped text, cut for a list cell; the full text in the cell's title."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return format_html('<span title="{}">{}</span>', text, Truncator(text).chars(limit))


def table(headers: Iterable[str], rows: Iterable[Iterable]) -> SafeString:
    """A small read-only table in the theme's table component (cells escaped unless pre-built HTML)."""
    return render_to_string(
        "unfold/components/table.html", {"table": {"headers": list(headers), "rows": [list(r) for r in rows]}}
    )


def record_admin_link(model, pk, label: str) -> SafeString | str:
    """A link to a record's admin page by its primary key (no query); the label alone without a pk."""
    if pk in (None, ""):
        return "-"
    meta = model._meta
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[pk])
    return format_html('<a class="text-primary-600" href="{}">{}</a>', url, label)


class AuditRecordAdmin(ModelAdmin):
    """A record of what happened: shown, never added, edited or deleted here (deletion is the
    retention's: ``manage.py prune``). Actions of the subclass (resolve, requeue...) remain."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST":
            raise PermissionDenied  # nothing on an audit record's page is saved
        extra_context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "show_delete": False,
        }
        return super().changeform_view(request, object_id, form_url, extra_context)


class JobAdmin(AuditRecordAdmin):
    """Every job table's pages (import runs, image, edge and NAS runs, store sync jobs): the list
    says how each ended and why; a job's page shows its counters and errors as tables, links to
    what it left behind, and keeps the machinery (lock, claim, Celery id...) folded away."""

    list_display = [
        "short_id",
        "store",
        "status_badge",
        "outcome",
        "trigger",
        "progress_display",
        "items_failed",
        "created_at",
        "finished_at",
    ]
    list_display_links = ["short_id"]
    list_filter = ["status", "trigger", "store"]
    list_select_related = ["store"]
    search_fields = ["id", "message", "error_code"]
    date_hierarchy = "created_at"
    # A subclass's own fields: in the summary, and among the internals.
    detail_fields: list[str] = []
    internal_fields: list[str] = []

    def get_fieldsets(self, request, obj=None):
        return [
            (
                None,
                {
                    "fields": [
                        "id",
                        "kind",
                        "store",
                        "status_badge",
                        "error_code",
                        "message",
                        "trigger",
                        "requested_by",
                        "created_at",
                        "started_at",
                        "finished_at",
                        *self.detail_fields,
                    ]
                },
            ),
            ("Counters", {"fields": ["items_table", "counters_table"]}),
            ("Errors", {"fields": ["errors_table"]}),
            ("What this job left", {"fields": ["related_links"]}),
            (
                "Internals",
                {
                    "classes": ["collapse"],
                    "fields": [
                        "lock_key",
                        "celery_task_id",
                        "attempts",
                        "heartbeat_at",
                        "params_text",
                        "result_text",
                        *self.internal_fields,
                    ],
                },
            ),
        ]

    def get_readonly_fields(self, request, obj=None):
        return [name for _, options in self.get_fieldsets(request, obj) for name in options["fields"]]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Status", ordering="status")
    def status_badge(self, job) -> SafeString:
        return badge(job.get_status_display(), JOB_STATUS_TONES.get(job.status, ""), state=job.status)

    @admin.display(description="Outcome")
    def outcome(self, job) -> SafeString | str:
        """Why it failed (code and message), or what it left for a person; cut for the list."""
        text = self.outcome_text(job)
        return short_text(text) if text else "-"

    def outcome_text(self, job) -> str:
        if job.error_code or job.status == JobStatus.FAILED:
            return ": ".join(part for part in (job.error_code, job.message) if part)
        return job.message if job.status == JobStatus.PARTIAL else ""

    @admin.display(description="Job", ordering="created_at")
    def short_id(self, job) -> str:
        return f"{job.kind} {str(job.pk)[:8]}"

    @admin.display(description="Progress")
    def progress_display(self, job) -> str:
        return f"{job.progress:.1f}%"

    @admin.display(description="Items")
    def items_table(self, job) -> SafeString:
        return table(
            ["total", "processed", "succeeded", "failed", "errors"],
            [[job.items_total, job.items_processed, job.items_succeeded, job.items_failed, job.error_count]],
        )

    @admin.display(description="Counters")
    def counters_table(self, job) -> SafeString | str:
        if not job.counters:
            return "-"
        return table(["counter", "value"], sorted((k.replace("_", " "), _cell(v)) for k, v in job.counters.items()))

    @admin.display(description="Errors (the first 500)")
    def errors_table(self, job) -> SafeString | str:
        if not job.errors:
            return "none"
        rows = [
            [self.error_record(error), _error_field(error), error.get("code", ""), _cell(error.get("message", ""))]
            for error in job.errors
        ]
        return table(["record", "field or operation", "code", "message"], rows)

    def error_record(self, error: dict) -> SafeString | str:
        """The record an error is about; subclasses link it to the record's page."""
        keys = [k for k in error if k.endswith("_id") or k in ("record_pk", "entity")]
        return " ".join(f"{k.replace('_', ' ')} {error[k]}" for k in keys if error[k] not in (None, "")) or "-"

    @admin.display(description="Links")
    def related_links(self, job) -> SafeString | str:
        links = self.job_links(job)
        if not links:
            return "none for this kind of job"
        return format_html_join(" · ", '<a class="text-primary-600" href="{}">{}</a>', ((u, t) for t, u in links))

    def job_links(self, job) -> list[tuple[str, str]]:
        """(text, url) of the records this job wrote or left (conflicts, dead letters...)."""
        return []

    @admin.display(description="Parameters")
    def params_text(self, job) -> SafeString:
        return _json_block(job.params)

    @admin.display(description="Result")
    def result_text(self, job) -> SafeString:
        return _json_block(job.result)


def _cell(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _error_field(error: dict) -> str:
    return error.get("field") or error.get("operation") or "-"


def _json_block(value) -> SafeString:
    return format_html('<pre class="whitespace-pre-wrap">{}</pre>', json.dumps(value, indent=2, ensure_ascii=False))
