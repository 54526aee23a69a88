"""Admin pieces shared by every app: the job tables' admin and the operators' dashboard."""

from django.contrib import admin
from django.template.response import TemplateResponse

from config.dashboard import dashboard


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
    from django.conf import settings

    from config.retention import prune_preview, retention_cutoff

    context = {
        **admin.site.each_context(request),
        "title": "Next prune",
        "cutoff": retention_cutoff(),
        "retention_days": settings.RETENTION_DAYS,
        "preview": sorted(prune_preview().items()),
    }
    return TemplateResponse(request, "admin/retention.html", context)


class JobAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "kind",
        "store",
        "status",
        "trigger",
        "progress_display",
        "items_processed",
        "items_failed",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "trigger", "store"]
    search_fields = ["id", "message"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "id",
        "kind",
        "store",
        "lock_key",
        "trigger",
        "status",
        "requested_by",
        "params",
        "items_total",
        "items_processed",
        "items_succeeded",
        "items_failed",
        "counters",
        "errors",
        "error_count",
        "message",
        "result",
        "celery_task_id",
        "attempts",
        "created_at",
        "started_at",
        "finished_at",
        "heartbeat_at",
    ]

    @admin.display(description="Progress")
    def progress_display(self, job) -> str:
        return f"{job.progress:.1f}%"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
