"""POST /sync/sync-images and the runs it starts."""

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.access import get_visible_store, visible_stores
from catalog.api.permissions import LettersRequired, ModelPermissions, RoleRequired
from catalog.api.store_refs import store_ref_parameter
from catalog.roles import Role
from config.api import params
from config.api.jobs import JobRunDetailView, JobRunListView, JobRunsMixin, job_answer
from config.api.schema import broker_unavailable_response, error_response
from config.errors import DomainError
from config.jobs import JobStatus
from photosync.imagesync import runner, serializers
from photosync.imagesync.reporting import run_failure, run_summary
from photosync.models import ImageSyncRun

RUN_DETAIL_ROUTE = "image-sync-run-detail"


STORE_PARAMETER = store_ref_parameter(
    "id_store", required=True, description="The store's id (its UUID is accepted too)."
)


class SyncImagesView(APIView):
    """Sync every product's default image from the store's shop (ADMIN with C on product photos)."""

    permission_classes = [RoleRequired(Role.ADMIN), LettersRequired("photosync.ProductPhoto", "C")]

    @extend_schema(
        operation_id="sync_images",
        summary="Sync product images from the store's shop",
        description=(
            "Downloads each product's default image (a fallback for products without one), stores it, "
            "warms the renditions and answers with the summary. Waits for the run up to "
            "IMAGE_SYNC_WAIT_TIMEOUT, then answers 202 with the run's URL; `async=true` answers 202 at once."
        ),
        request=None,
        parameters=[
            STORE_PARAMETER,
            OpenApiParameter("async", OpenApiTypes.BOOL, OpenApiParameter.QUERY, description="Answer 202 at once."),
            OpenApiParameter(
                "force",
                OpenApiTypes.BOOL,
                OpenApiParameter.QUERY,
                description="Ask the shop about every image, even for products unchanged since the last sync "
                "(conditional requests: unchanged images still move no bytes).",
            ),
        ],
        responses={
            200: serializers.ImageSyncResultSerializer,
            202: serializers.ImageSyncQueuedSerializer,
            400: error_response("Missing or malformed id_store; the store has no platform or an unsupported one."),
            409: error_response("SYNC_IN_PROGRESS: an image sync of this store is running (its id in detail.job_id)."),
            502: error_response("The shop could not be reached (NETWORK_ERROR, SYNC_TIMEOUT) or refused the key."),
            503: broker_unavailable_response(),
        },
        examples=[
            OpenApiExample(
                "Finished",
                response_only=True,
                status_codes=["200"],
                value={
                    "id_store": 1,
                    "success": True,
                    "products_processed": 150,
                    "message": "Image sync completed for 150 products.",
                    "downloaded": 12,
                    "unchanged": 130,
                    "fallback": 7,
                    "failed": 1,
                    "run_id": "6f1c2a4e-0b7d-4c8e-9a51-2f0f3c1d9e77",
                    "errors": [
                        {
                            "product_id": 41,
                            "id_origin": 41,
                            "code": "IMAGE_INVALID",
                            "message": "The shop sent an HTML or text page instead of an image.",
                        }
                    ],
                },
            )
        ],
    )
    def post(self, request):
        store = get_visible_store(request.user, request.query_params.get("id_store"), param="id_store")
        run_async, force = params.flag(request.query_params, "async"), params.flag(request.query_params, "force")
        run = runner.start_image_sync(store, user=request.user, force=force)

        def queued(run: ImageSyncRun, url: str) -> dict:
            message = "Image sync queued." if run.status == JobStatus.QUEUED else f"Image sync {run.status}."
            body = {
                "id_store": run.store_id,
                "success": True,
                "run_id": run.pk,
                "status": run.status,
                "url": url,
                "message": message,
            }
            return serializers.ImageSyncQueuedSerializer(body).data

        def finished(run: ImageSyncRun) -> Response:
            if run.status in (JobStatus.SUCCEEDED, JobStatus.PARTIAL):
                body = run_summary(run) | {"success": True, "message": run.message, "run_id": str(run.pk)}
                return Response(serializers.ImageSyncResultSerializer(body).data)
            failure = run_failure(run)
            detail = {"run_id": str(run.pk), "id_store": store.pk}
            raise DomainError(failure["code"], failure["http_status"], failure["message"], detail)

        return job_answer(
            request,
            run,
            run_async=run_async,
            route=RUN_DETAIL_ROUTE,
            queued=queued,
            finished=finished,
            timeout=settings.IMAGE_SYNC_WAIT_TIMEOUT,
        )


class RunQuerysetMixin(JobRunsMixin):
    model = ImageSyncRun
    permission_classes = [ModelPermissions]

    def runs(self):
        return ImageSyncRun.objects.filter(store__in=visible_stores(self.request.user))


@extend_schema(
    summary="Image sync runs, newest first",
    parameters=[
        store_ref_parameter("id_store", description="Only this store's runs."),
        OpenApiParameter("status", OpenApiTypes.STR, OpenApiParameter.QUERY, enum=JobStatus.values),
    ],
)
class ImageSyncRunListView(RunQuerysetMixin, JobRunListView):
    serializer_class = serializers.ImageSyncRunSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        if getattr(self, "swagger_fake_view", False):
            return queryset
        query = self.request.query_params
        if "id_store" in query:
            queryset = queryset.filter(store=get_visible_store(self.request.user, query["id_store"], param="id_store"))
        status = params.choice(query, "status", JobStatus.values)
        if status is not None:
            queryset = queryset.filter(status=status)
        return queryset


@extend_schema(
    summary="One image sync run with its progress and per-product errors",
    parameters=[OpenApiParameter("run_id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
)
class ImageSyncRunDetailView(RunQuerysetMixin, JobRunDetailView):
    serializer_class = serializers.ImageSyncRunDetailSerializer
