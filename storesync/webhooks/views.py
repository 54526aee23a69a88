"""The inbound webhook endpoint: a store's signed change notification."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.throttling import SimpleRateThrottle

from catalog.access import store_lookup
from catalog.error_codes import CatalogErrorCode
from catalog.models import Store
from config.api.schema import error_response
from config.api.throttling import SettingsRateMixin
from config.errors import DomainError
from storesync.api import serializers as s
from storesync.api.views import SyncView
from storesync.error_codes import SyncErrorCode
from storesync.webhooks import inbound


class WebhookThrottle(SettingsRateMixin, SimpleRateThrottle):
    """Notifications per client address (``THROTTLE_WEBHOOK``)."""

    scope = "webhook"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


InboundResult = inline_serializer(
    "SyncWebhookReceived",
    {
        "webhook_id": serializers.CharField(),
        "status": serializers.ChoiceField(choices=["queued", "held"]),
        "entity_type": serializers.CharField(),
        "records": serializers.IntegerField(),
        "sync_job_id": serializers.UUIDField(allow_null=True),
        "received_at": serializers.DateTimeField(),
    },
)


class InboundWebhookView(SyncView):
    """Signed by the store (Standard Webhooks), not by a user: no JWT, no session."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [WebhookThrottle]
    parser_classes: list = []

    def get_permissions(self):
        return [AllowAny()]

    @extend_schema(
        operation_id="store_sync_webhook_receive",
        auth=[],
        parameters=[
            OpenApiParameter(
                "store", OpenApiTypes.STR, OpenApiParameter.PATH, description="The store's UUID (or integer id)."
            ),
            OpenApiParameter(
                "entity", OpenApiTypes.STR, OpenApiParameter.PATH, enum=["products", "orders", "customers"]
            ),
            *[
                OpenApiParameter(name, OpenApiTypes.STR, OpenApiParameter.HEADER, required=True)
                for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
            ],
        ],
        request=inline_serializer(
            "SyncWebhookNotification",
            {
                "type": serializers.CharField(help_text="<entity>.created|updated|deleted"),
                "timestamp": serializers.DateTimeField(),
                "data": inline_serializer(
                    "SyncWebhookIds", {"ids": serializers.ListField(child=serializers.IntegerField())}
                ),
            },
        ),
        responses={
            202: s.data_envelope("SyncWebhookReceivedResponse", InboundResult),
            401: error_response(SyncErrorCode.WEBHOOK_SIGNATURE_INVALID),
            409: error_response(SyncErrorCode.WEBHOOK_REPLAYED),
        },
        summary="A store's signed change notification: queues a sync of the records it names",
    )
    def post(self, request, store, entity):
        try:
            found = Store.objects.filter(**store_lookup(store)).first()
        except (ValueError, AttributeError):
            found = None
        if found is None:
            raise DomainError(CatalogErrorCode.STORE_NOT_FOUND, 404, "Store not found")
        notification = inbound.receive(found, entity, request.headers, request.body)
        return self.data(inbound.response(notification), status.HTTP_202_ACCEPTED)
