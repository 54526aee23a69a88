"""Admin pieces shared by every app: the job tables' admin, the throttled admin login."""

import math

from django.contrib import admin
from django.http import HttpResponse
from unfold.admin import ModelAdmin

from config.api.throttling import login_wait


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


class JobAdmin(ModelAdmin):
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
