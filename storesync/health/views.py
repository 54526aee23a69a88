"""Endpoints of the sync's health: metrics and alerts."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers

from catalog.access import get_visible_store, visible_stores
from catalog.api.store_refs import StoreRefField
from catalog.models import Store
from config.error_codes import ErrorCode
from config.errors import DomainError
from storesync.api import serializers as s
from storesync.api.views import SyncView
from storesync.health import alerts, metrics
from storesync.health.models import Alert


class MetricsQuery(serializers.Serializer):
    store_id = StoreRefField(required=False, help_text="The store's id or UUID; all visible stores if left out.")


MetricsResult = inline_serializer(
    "SyncHealthMetrics",
    {
        "store_id": serializers.IntegerField(allow_null=True),
        "period": serializers.CharField(),
        "metrics": inline_serializer(
            "SyncHealthMetricsBlock",
            {
                "sync_success_rate": serializers.FloatField(),
                "avg_sync_duration": serializers.CharField(allow_null=True),
                "conflicts_per_day": serializers.FloatField(),
                "data_drift_percentage": serializers.FloatField(),
                "webhook_delivery_rate": serializers.FloatField(),
            },
        ),
    },
)


class MetricsView(SyncView):
    @extend_schema(
        operation_id="sync_metrics",
        parameters=[MetricsQuery],
        responses={200: s.data_envelope("SyncMetricsResponse", MetricsResult)},
        summary="Sync health metrics of one store or of every store you can see",
    )
    def get(self, request):
        query = self.valid(MetricsQuery, request.query_params)
        if query.get("store_id"):
            store = get_visible_store(request.user, query["store_id"])
            stores, store_id = Store.objects.filter(pk=store.pk), store.pk
        else:
            stores, store_id = visible_stores(request.user), None
        return self.data({"store_id": store_id, "period": "24h", "metrics": metrics.health_metrics(stores)})


class AlertQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=["open", "resolved", "all"], default="open")
    store_id = StoreRefField(required=False)
    acknowledged = serializers.BooleanField(required=False, allow_null=True, default=None)
    page = serializers.IntegerField(min_value=1, max_value=1_000_000, default=1)
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=20)


AlertOutput = inline_serializer(
    "SyncAlert",
    {
        "alert_id": serializers.IntegerField(),
        "rule": serializers.CharField(),
        "name": serializers.CharField(),
        "store_id": serializers.IntegerField(),
        "status": serializers.ChoiceField(choices=["open", "resolved"]),
        "value": serializers.FloatField(),
        "threshold": serializers.FloatField(),
        "message": serializers.CharField(),
        "opened_at": serializers.DateTimeField(),
        "last_seen_at": serializers.DateTimeField(),
        "resolved_at": serializers.DateTimeField(allow_null=True),
        "acknowledged": serializers.BooleanField(),
        "acknowledged_at": serializers.DateTimeField(allow_null=True),
        "acknowledged_by": serializers.CharField(allow_null=True),
    },
)

ALERT = "storesync.alert"


class AlertsView(SyncView):
    read_letters = (ALERT, "R")

    @extend_schema(
        operation_id="sync_alerts",
        parameters=[AlertQuery],
        responses={
            200: s.data_envelope("SyncAlertsResponse", AlertOutput.__class__(many=True), pagination=s.Pagination)
        },
        summary="Sync alerts (open by default), newest first",
    )
    def get(self, request):
        query = self.valid(AlertQuery, request.query_params)
        rows = Alert.objects.filter(store__in=visible_stores(request.user)).select_related("rule", "acknowledged_by")
        if query.get("store_id"):
            rows = rows.filter(store=get_visible_store(request.user, query["store_id"]))
        if query["status"] != "all":
            rows = rows.filter(status=query["status"])
        if query["acknowledged"] is not None:
            rows = rows.filter(acknowledged_at__isnull=not query["acknowledged"])
        rows = rows.order_by("-opened_at", "-id")
        page, limit = query["page"], query["limit"]
        items = [alerts.alert_item(a) for a in rows[(page - 1) * limit : page * limit]]
        return self.data(items, pagination={"page": page, "limit": limit, "total": rows.count()})


class AcknowledgeView(SyncView):
    write_letters = (ALERT, "U")

    @extend_schema(
        operation_id="sync_alert_acknowledge",
        parameters=[OpenApiParameter("alert_id", OpenApiTypes.INT, OpenApiParameter.PATH)],
        request=None,
        responses={200: s.data_envelope("SyncAlertAckResponse", AlertOutput)},
        summary="Acknowledge an alert (it stays open until its condition clears)",
    )
    def post(self, request, alert_id):
        alert = None
        if str(alert_id).isdigit() and len(str(alert_id)) < 19:
            alert = Alert.objects.filter(pk=int(alert_id), store__in=visible_stores(request.user)).first()
        if alert is None:
            raise DomainError(ErrorCode.NOT_FOUND, 404, "Alert not found")
        return self.data(alerts.alert_item(alerts.acknowledge(alert, request.user)))
