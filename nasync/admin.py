"""The operators' console for NAS documents: sync state, actions, runs, configuration check."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from unfold.admin import ModelAdmin

from config.admin import JobAdmin, record_admin_link
from config.jobs import BrokerUnavailable, JobAlreadyRunning, JobTrigger
from nasync import services
from nasync.config import load_config
from nasync.files import detect_content_type
from nasync.models import Document, NasSyncRun, SyncState


class SyncStateFilter(admin.SimpleListFilter):
    title = "sync state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return SyncState.choices

    def queryset(self, request, queryset):
        return services.filter_state(queryset, self.value()) if self.value() else queryset


class DocumentAdminForm(forms.ModelForm):
    upload = forms.FileField(
        required=False,
        label="File",
        help_text="A PDF, JPEG, PNG or TIFF document. On an existing document: replaces its file (pending again).",
    )

    class Meta:
        model = Document
        fields: list[str] = []

    def clean_upload(self):
        upload = self.cleaned_data.get("upload")
        if upload is None:
            if not self.instance.pk:
                raise forms.ValidationError("Choose a file.")
            return None
        if upload.size > settings.NAS_MAX_UPLOAD_BYTES:
            raise forms.ValidationError(f"The file is larger than the limit of {settings.NAS_MAX_UPLOAD_BYTES} bytes.")
        head = upload.read(16)
        upload.seek(0)
        if not upload.size or detect_content_type(head) is None:
            raise forms.ValidationError("Only PDF, JPEG, PNG and TIFF documents are accepted.")
        return upload


@admin.register(Document)
class DocumentAdmin(ModelAdmin):
    form = DocumentAdminForm
    change_list_template = "admin/nasync/document/change_list.html"
    list_display = [
        "id",
        "name",
        "original_name",
        "content_type",
        "size",
        "state",
        "synced_at",
        "sync_attempts",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = [SyncStateFilter, "synced_to_nas", "held_for_operator", "content_type", "created_at"]
    search_fields = ["original_name", "file", "sha256", "nas_path"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "name",
        "original_name",
        "content_type",
        "size",
        "sha256",
        "uploaded_by",
        "state",
        "synced_to_nas",
        "synced_at",
        "sync_error",
        "sync_attempts",
        "next_attempt_at",
        "held_for_operator",
        "nas_path",
        "created_at",
        "updated_at",
    ]
    actions = ["sync_to_nas", "requeue"]

    @admin.display(description="State")
    def state(self, document) -> str:
        return SyncState(document.state).label

    def save_model(self, request, obj, form, change):
        upload = form.cleaned_data.get("upload")
        if upload is None:
            return
        if change:
            services.document_replace_file(document=obj, uploaded=upload, user=request.user)
        else:
            created = services.document_create(uploaded=upload, user=request.user)
            obj.pk = created.pk
            obj.refresh_from_db()

    @admin.action(description="Sync selected to NAS", permissions=["change"])
    def sync_to_nas(self, request, queryset) -> None:
        problem = load_config().problem()
        if problem is not None:
            self.message_user(request, problem.english(), messages.ERROR)
            return
        ids = list(queryset.values_list("pk", flat=True))
        try:
            run = services.start_nas_sync(trigger=JobTrigger.ADMIN, user=request.user, document_ids=ids)
        except JobAlreadyRunning as exc:
            self.message_user(request, f"A NAS run is already in progress ({exc.job.pk}).", messages.WARNING)
        except BrokerUnavailable as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(request, f"NAS run queued for {len(ids)} document(s) ({run.pk}).", messages.SUCCESS)

    @admin.action(description="Requeue (clear failures and hold)", permissions=["change"])
    def requeue(self, request, queryset) -> None:
        count = services.documents_requeue(queryset)
        self.message_user(request, f"{count} document(s) requeued for the next NAS run.", messages.SUCCESS)

    def get_urls(self):
        custom = [path("nas/", self.admin_site.admin_view(self.nas_view), name="nasync_nas_config")]
        return custom + super().get_urls()

    def nas_view(self, request):
        """The NAS configuration (never the key nor its path) and a connection check."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        result = None
        if request.method == "POST":
            if not self.has_change_permission(request):
                raise PermissionDenied
            result = services.test_connection()
        config = load_config()
        problem = config.problem()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "NAS configuration and connection check",
            "rows": _config_rows(config),
            "problem": problem.english() if problem else "",
            "status": services.sync_status(),
            "result": result,
            "result_ok": result is not None and result.code == "connected",
            "result_text": result.english() if result else "",
            "can_check": self.has_change_permission(request),
        }
        return TemplateResponse(request, "admin/nasync/nas_config.html", context)


def _config_rows(config) -> list[tuple[str, str, str]]:
    problem = config.problem()
    if config.ssh_key:
        key = (
            "set, but the file cannot be read"
            if problem and problem.code == "key_unreadable"
            else "set (file readable)"
        )
    else:
        key = "not set: ssh's default keys of the hub's user"
    host_keys = (
        "strict: NAS_KNOWN_HOSTS"
        if config.strict_host_key
        else f"accept-new: the first key seen is pinned in {config.known_hosts}"
    )
    return [
        ("NAS_HOST", "Host", config.host or "not set"),
        ("NAS_USER", "User", config.user or "not set"),
        ("NAS_PATH", "Destination path", config.path or "not set"),
        ("NAS_PORT", "SSH port", str(config.port)),
        ("NAS_SSH_KEY", "SSH key", key),
        ("NAS_KNOWN_HOSTS", "Host key checking", host_keys),
        ("NAS_CONNECT_TIMEOUT", "Connect timeout", f"{config.connect_timeout} s"),
        ("NAS_IO_TIMEOUT", "Transfer stall timeout", f"{config.io_timeout} s"),
        ("NAS_BWLIMIT", "Bandwidth limit", config.bwlimit or "none"),
        ("NAS_MAX_UPLOAD_BYTES", "Upload limit", f"{settings.NAS_MAX_UPLOAD_BYTES} bytes"),
        (
            "NAS_MAX_ATTEMPTS",
            "Retries",
            f"{settings.NAS_MAX_ATTEMPTS} attempts, backoff from {settings.NAS_RETRY_BACKOFF} s, doubling; then held",
        ),
    ]


@admin.register(NasSyncRun)
class NasSyncRunAdmin(JobAdmin):
    list_filter = ["status", "trigger"]

    def error_record(self, error: dict):
        return record_admin_link(Document, error.get("document_id"), f"document {error.get('document_id')}")

    def job_links(self, job) -> list[tuple[str, str]]:
        return [
            ("Documents not yet on the NAS", f"{reverse('admin:nasync_document_changelist')}?state={SyncState.PENDING}")
        ]
