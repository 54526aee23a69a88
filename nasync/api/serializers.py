from rest_framework import serializers

from config.api.jobs import job_url
from nasync.messages import render_error
from nasync.models import Document, NasSyncRun, SyncState


class DocumentSerializer(serializers.ModelSerializer):
    name = serializers.CharField(read_only=True, help_text="The safe file name, as on the NAS.")
    state = serializers.ChoiceField(choices=SyncState.choices, read_only=True)
    uploaded_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Document
        fields = [
            "id",
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
        read_only_fields = fields


class DocumentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="A PDF, JPEG, PNG or TIFF document (checked by its bytes), at most NAS_MAX_UPLOAD_BYTES."
    )


class NasSyncStatusSerializer(serializers.Serializer):
    total_documents = serializers.IntegerField()
    synced = serializers.IntegerField()
    pending = serializers.IntegerField(help_text="Documents not on the NAS yet (total - synced).")
    sync_percentage = serializers.FloatField(help_text="synced / total in percent, one decimal (100.0 with none).")
    last_sync = serializers.DateTimeField(allow_null=True, help_text="When a document last reached the NAS.")
    nas_configured = serializers.BooleanField()


class NasSyncConfigSerializer(serializers.Serializer):
    configured = serializers.BooleanField(help_text="NAS_HOST, NAS_USER and NAS_PATH are set (and valid).")
    nas_host = serializers.BooleanField()
    nas_user = serializers.BooleanField()
    nas_path = serializers.BooleanField()
    host = serializers.CharField(allow_null=True)
    path = serializers.CharField(allow_null=True)


class NasSyncMessageSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField()


class NasSyncRunResultSerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text="Documents to sync in this run.")
    synced = serializers.IntegerField()
    failed = serializers.IntegerField()
    errors = serializers.ListField(child=serializers.CharField(), help_text='e.g. "Document 42: source file not found"')
    run_id = serializers.UUIDField()


class NasSyncRunQueuedSerializer(serializers.Serializer):
    run_id = serializers.UUIDField()
    status = serializers.CharField()
    url = serializers.URLField()
    message = serializers.CharField()


def run_url(request, run: NasSyncRun) -> str:
    return job_url(request, "nas-run-detail", run)


class NasSyncRunSerializer(serializers.ModelSerializer):
    total = serializers.IntegerField(source="items_total", read_only=True)
    synced = serializers.IntegerField(source="items_succeeded", read_only=True)
    failed = serializers.IntegerField(source="items_failed", read_only=True)
    progress = serializers.FloatField(read_only=True)
    duration = serializers.FloatField(read_only=True, allow_null=True)
    errors = serializers.SerializerMethodField()

    class Meta:
        model = NasSyncRun
        fields = [
            "id",
            "status",
            "trigger",
            "total",
            "synced",
            "failed",
            "progress",
            "counters",
            "errors",
            "message",
            "created_at",
            "started_at",
            "finished_at",
            "duration",
        ]
        read_only_fields = fields

    def get_errors(self, run) -> list[str]:
        return [render_error(entry) for entry in run.errors]
