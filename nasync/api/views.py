"""The NAS sync API: the five NAS endpoints under /api/v1/sync, documents, runs."""

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.api.permissions import LettersRequired, ModelPermissions
from config.api import params
from config.api.filters import StrictBooleanFilter, UtcIsoDateTimeFilter
from config.api.jobs import JobRunDetailView, JobRunListView, JobRunsMixin, job_answer
from config.api.schema import broker_unavailable_response, error_response
from config.error_codes import ErrorCode
from config.errors import DomainError
from config.jobs import JobAlreadyRunning
from nasync import messages, services
from nasync.api import serializers
from nasync.config import load_config, public_config
from nasync.errors import DocumentRejected, NasProblem
from nasync.files import SizeLimitUploadHandler
from nasync.models import Document, NasSyncRun, SyncState

READ = LettersRequired("nasync.Document", "R")
CHANGE = LettersRequired("nasync.Document", "U")
MAX_ID = 2**63 - 1
RUN_DETAIL_ROUTE = "nas-run-detail"
FLAG_MESSAGE = _("%(name)s must be true or false")


# --- the NAS sync endpoints ---


class SyncStatusView(APIView):
    permission_classes = [READ]

    @extend_schema(
        operation_id="nas_sync_status",
        summary="Sync statistics",
        responses={200: serializers.NasSyncStatusSerializer},
        examples=[
            OpenApiExample(
                "Status",
                response_only=True,
                value={
                    "total_documents": 150,
                    "synced": 142,
                    "pending": 8,
                    "sync_percentage": 94.7,
                    "last_sync": "2024-01-15T14:30:00Z",
                    "nas_configured": True,
                },
            )
        ],
    )
    def get(self, request):
        return Response(serializers.NasSyncStatusSerializer(services.sync_status()).data)


class SyncConfigView(APIView):
    permission_classes = [READ]

    @extend_schema(
        operation_id="nas_sync_config",
        summary="NAS configuration state (never the key nor its path)",
        responses={200: serializers.NasSyncConfigSerializer},
    )
    def get(self, request):
        return Response(serializers.NasSyncConfigSerializer(public_config(load_config())).data)


class SyncTestView(APIView):
    permission_classes = [CHANGE]

    @extend_schema(
        operation_id="nas_sync_test",
        summary="Test the SSH connection to the NAS",
        description=(
            "Connects with the configured key, checks that NAS_PATH exists and that a file can be written "
            "there (a probe file, removed again). Always 200: `success` says whether it worked and "
            "`message` why not (not configured, permission denied, timeout, unreachable host, host key, "
            "destination missing or not writable)."
        ),
        request=None,
        responses={200: serializers.NasSyncMessageSerializer},
        examples=[
            OpenApiExample(
                "Connected", response_only=True, value={"success": True, "message": "Connection successful"}
            ),
            OpenApiExample(
                "Refused key",
                response_only=True,
                value={"success": False, "message": "Connection failed: Permission denied (publickey)"},
            ),
            OpenApiExample(
                "Timeout", response_only=True, value={"success": False, "message": "Connection timeout (15s)"}
            ),
        ],
    )
    def post(self, request):
        problem = services.test_connection()
        return Response({"success": problem.code == "connected", "message": problem.text()})


class SyncRunView(APIView):
    permission_classes = [CHANGE]

    @extend_schema(
        operation_id="nas_sync_run",
        summary="Sync every pending document to the NAS",
        description=(
            "Queues a NAS run (one rsync over one SSH connection per batch) and waits for it up to "
            "NAS_SYNC_WAIT_TIMEOUT, then answers the summary; still running (or `async=true`): 202 with the "
            "run's URL. Held documents are skipped until requeued. When the NAS cannot be used and nothing "
            "was sent: 502 NETWORK_ERROR or 504 SYNC_TIMEOUT, the summary in `detail`."
        ),
        request=None,
        parameters=[
            OpenApiParameter(
                "async", OpenApiTypes.BOOL, OpenApiParameter.QUERY, description="Answer 202 at once with the run's URL."
            )
        ],
        responses={
            200: serializers.NasSyncRunResultSerializer,
            202: serializers.NasSyncRunQueuedSerializer,
            400: error_response("NAS_NOT_CONFIGURED, or a bad `async` flag."),
            409: error_response("SYNC_IN_PROGRESS: a NAS run is active (its id in detail.job_id)."),
            502: error_response("NETWORK_ERROR: the NAS refused the key, is unreachable, or its folder is missing."),
            503: broker_unavailable_response(),
            504: error_response("SYNC_TIMEOUT: the NAS did not answer in time."),
        },
        examples=[
            OpenApiExample(
                "Summary",
                response_only=True,
                status_codes=["200"],
                value={
                    "total": 8,
                    "synced": 7,
                    "failed": 1,
                    "errors": ["Document 42: source file not found"],
                    "run_id": "6f1c2a4e-0b7d-4c8e-9a51-2f0f3c1d9e77",
                },
            )
        ],
    )
    def post(self, request):
        run_async = params.flag(request.query_params, "async", message=FLAG_MESSAGE)
        problem = load_config().problem()
        if problem is not None:
            raise NasProblem(problem)
        try:
            run = services.start_nas_sync(user=request.user)
        except JobAlreadyRunning as exc:
            raise DomainError(
                ErrorCode.SYNC_IN_PROGRESS,
                409,
                str(messages.IN_PROGRESS),
                {
                    "job_id": str(exc.job.pk),
                    "status": exc.job.status,
                    "url": serializers.run_url(request, exc.job),
                },
            ) from None

        def queued(run: NasSyncRun, url: str) -> dict:
            body = {"run_id": run.pk, "status": run.status, "url": url, "message": str(messages.QUEUED)}
            return serializers.NasSyncRunQueuedSerializer(body).data

        def finished(run: NasSyncRun) -> Response:
            summary = {**services.run_summary(run), "run_id": str(run.pk)}
            problem = services.run_problem(run)
            if problem is not None and not run.items_succeeded:
                raise NasProblem(problem, summary)
            return Response(serializers.NasSyncRunResultSerializer(summary).data)

        return job_answer(
            request,
            run,
            run_async=run_async,
            route=RUN_DETAIL_ROUTE,
            queued=queued,
            finished=finished,
            timeout=settings.NAS_SYNC_WAIT_TIMEOUT,
        )


class SyncDocumentView(APIView):
    permission_classes = [CHANGE]

    @extend_schema(
        operation_id="nas_sync_document",
        summary="Sync one document now",
        description="Sends the document even when it is held or already synced (an identical copy moves no bytes). "
        "200 with `success: false` and the reason when the transfer failed.",
        request=None,
        parameters=[OpenApiParameter("document_id", OpenApiTypes.INT, OpenApiParameter.PATH)],
        responses={
            200: serializers.NasSyncMessageSerializer,
            400: error_response("NAS_NOT_CONFIGURED"),
            404: error_response("Unknown document."),
        },
        examples=[
            OpenApiExample("Synced", response_only=True, value={"success": True, "message": "Synced to 192.168.1.100"})
        ],
    )
    def post(self, request, document_id):
        problem = load_config().problem()
        if problem is not None:
            raise NasProblem(problem)
        document_id = int(document_id)
        document = Document.objects.filter(pk=document_id).first() if document_id <= MAX_ID else None
        if document is None:
            raise DomainError(ErrorCode.NOT_FOUND, 404, str(messages.DOCUMENT_NOT_FOUND))
        outcome = services.sync_document_now(document)
        return Response({"success": outcome.code == "synced_to", "message": outcome.text()})


# --- runs -----------------------------------------------------------------------------


class RunQuerysetMixin(JobRunsMixin):
    model = NasSyncRun
    permission_classes = [ModelPermissions]


@extend_schema(summary="NAS runs, newest first")
class NasSyncRunListView(RunQuerysetMixin, JobRunListView):
    serializer_class = serializers.NasSyncRunSerializer


@extend_schema(
    summary="One NAS run with its counters and errors",
    parameters=[OpenApiParameter("run_id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
)
class NasSyncRunDetailView(RunQuerysetMixin, JobRunDetailView):
    serializer_class = serializers.NasSyncRunSerializer
    not_found_message = messages.RUN_NOT_FOUND


# --- documents ------------------------------------------------------------------------


class DocumentFilterSet(filters.FilterSet):
    synced = StrictBooleanFilter(field_name="synced_to_nas", help_text="On the NAS (true) or not (false).")
    state = filters.ChoiceFilter(
        choices=SyncState.choices,
        method="filter_state",
        help_text="synced; pending (never failed); failed (last attempt failed, held included); held.",
    )
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Document
        fields = ["synced", "state", "created_after", "created_before"]

    def filter_state(self, queryset, name, value):
        return services.filter_state(queryset, value)


UPLOAD_RESPONSES = {
    400: error_response("No file, an empty file, or not a PDF, JPEG, PNG or TIFF document (by its bytes)."),
    413: error_response("PAYLOAD_TOO_LARGE: larger than NAS_MAX_UPLOAD_BYTES."),
    415: error_response("UNSUPPORTED_MEDIA_TYPE: the body must be multipart/form-data."),
}


@extend_schema_view(
    list=extend_schema(summary="Documents, newest first"),
    retrieve=extend_schema(summary="One document and its sync state"),
    create=extend_schema(
        summary="Upload a document (multipart)",
        request={"multipart/form-data": serializers.DocumentUploadSerializer},
        responses={201: serializers.DocumentSerializer, **UPLOAD_RESPONSES},
    ),
    update=extend_schema(
        summary="Replace the document's file (it is pending again)",
        request={"multipart/form-data": serializers.DocumentUploadSerializer},
        responses={200: serializers.DocumentSerializer, **UPLOAD_RESPONSES},
    ),
    partial_update=extend_schema(
        summary="Replace the document's file (it is pending again)",
        request={"multipart/form-data": serializers.DocumentUploadSerializer},
        responses={200: serializers.DocumentSerializer, **UPLOAD_RESPONSES},
    ),
    destroy=extend_schema(summary="Delete the document and its stored file (the NAS copy stays)"),
)
class DocumentViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    queryset = Document.objects.select_related("uploaded_by").order_by("-created_at", "-id")
    serializer_class = serializers.DocumentSerializer
    permission_classes = [ModelPermissions]
    lookup_value_regex = r"[0-9]+"
    parser_classes = [MultiPartParser, FormParser]
    filterset_class = DocumentFilterSet

    def initialize_request(self, request, *args, **kwargs):
        # Before anything reads the body: the size limit applies while the file streams in.
        if request.method in ("POST", "PUT", "PATCH"):
            request.upload_handlers.insert(0, SizeLimitUploadHandler(request, limit=settings.NAS_MAX_UPLOAD_BYTES))
        return super().initialize_request(request, *args, **kwargs)

    def _upload(self, request):
        uploaded = request.FILES.get("file")
        if uploaded is None:
            raise DocumentRejected(messages.UPLOAD_MISSING)
        return uploaded

    def create(self, request, *args, **kwargs):
        uploaded = self._upload(request)
        document = services.document_create(uploaded=uploaded, user=request.user)
        return Response(self.get_serializer(document).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        document = self.get_object()
        uploaded = self._upload(request)
        document = services.document_replace_file(document=document, uploaded=uploaded, user=request.user)
        return Response(self.get_serializer(document).data)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, **kwargs)

    def perform_destroy(self, instance):
        services.document_delete(document=instance)
