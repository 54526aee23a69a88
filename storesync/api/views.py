"""Seed 003's endpoints under /api/v1: thin views over storesync's services and selectors."""

from __future__ import annotations

import uuid

from django.http import QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.access import get_visible_store, visible_stores
from catalog.api.permissions import LettersRequired
from catalog.api.store_refs import store_ref_parameter
from config.api import params
from config.api.parsers import JSONParser
from config.api.schema import broker_unavailable_response, error_response
from config.error_codes import ErrorCode
from config.errors import DomainError
from storesync import lineage, presenters, resolution, selectors, services
from storesync.api import serializers as s
from storesync.constants import ENTITY_TYPES, JobMode
from storesync.engine.merge import MISSING
from storesync.models import StoreSyncJob, SyncConflict

CONFIG = "storesync.syncconfig"
JOB = "storesync.storesyncjob"
CONFLICT = "storesync.syncconflict"

STORE_ID = store_ref_parameter("store_id", OpenApiParameter.PATH)


def errors(*codes: int) -> dict:
    """Extra documented error answers (400/401/403/404 come from the schema hook)."""
    text = {409: "Conflict with the sync's state.", 502: "The shop refused or did not answer."}
    return {code: error_response(text[code]) for code in codes}


class SyncView(APIView):
    """Base: JSON in, ``{"data": ...}`` out, domain errors in the project's envelope."""

    parser_classes = [JSONParser]
    read_letters = (CONFIG, "R")
    write_letters = (CONFIG, "CU")

    def get_permissions(self):
        model, letters = self.read_letters if self.request.method in SAFE_METHODS else self.write_letters
        return [LettersRequired(model, letters)()]

    @property
    def store(self):
        if not hasattr(self, "_store"):
            self._store = get_visible_store(self.request.user, self.kwargs.get("store_id"))
        return self._store

    def require_letters(self, letters: str) -> None:
        """Refuse (403) unless the user also holds ``letters``: for a write that deletes as it replaces."""
        permission = LettersRequired(CONFIG, letters)()
        if not permission.has_permission(self.request, self):
            self.permission_denied(self.request, message=permission.message)

    @staticmethod
    def valid(serializer_class, data):
        if isinstance(data, QueryDict):
            # DRF takes an empty query value of an optional field for an absent one (its default);
            # present and empty is a bad value, as the schema's enums and patterns say.
            blank = sorted(name for name in serializer_class().fields if data.get(name) == "")
            if blank:
                raise params.invalid(f"{blank[0]} may not be empty")
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    @staticmethod
    def data(payload, status_code: int = status.HTTP_200_OK, **extra) -> Response:
        return Response({"data": payload, **extra}, status=status_code)

    def page(self, rows, query: dict, present) -> Response:
        """One page of ``rows`` (``page``, ``limit`` of the query), each row presented, with the total."""
        page, limit = query["page"], query["limit"]
        total = rows.count()
        items = [present(row) for row in rows[(page - 1) * limit : page * limit]]
        return self.data(items, pagination={"page": page, "limit": limit, "total": total})


class ConfigureView(SyncView):
    @extend_schema(
        operation_id="store_sync_configure_read",
        parameters=[STORE_ID],
        responses={200: s.data_envelope("SyncConfigResponse", s.ConfigDetail)},
        summary="The store's sync configuration (without the webhook secret)",
    )
    def get(self, request, store_id):
        return self.data(presenters.config_detail(services.get_config_or_404(self.store)))

    @extend_schema(
        operation_id="store_sync_configure",
        parameters=[STORE_ID],
        request=s.ConfigureSerializer,
        responses={200: s.data_envelope("SyncConfigureResponse", s.ConfigureResult)},
        summary="Configure the store's sync (frequency, entities, webhook)",
    )
    def post(self, request, store_id):
        data = self.valid(s.ConfigureSerializer, request.data)
        store = self.store
        webhook = data["webhook_config"] if "webhook_config" in data else False
        config = services.configure_sync(
            store, sync_frequency=data["sync_frequency"], entities=data["entities"], webhook_config=webhook
        )
        return self.data(presenters.configure_response(config, len(data["entities"])))


class StatusView(SyncView):
    @extend_schema(
        operation_id="store_sync_status",
        parameters=[STORE_ID],
        responses={200: s.data_envelope("SyncStatusResponse", s.StatusResult)},
        summary="Sync status of the store and each entity",
    )
    def get(self, request, store_id):
        return self.data(presenters.sync_status(services.get_config_or_404(self.store)))


class TriggerView(SyncView):
    write_letters = (JOB, "C")

    @extend_schema(
        operation_id="store_sync_trigger",
        parameters=[STORE_ID],
        request=s.TriggerSerializer,
        responses={
            202: s.data_envelope("SyncTriggerResponse", s.TriggerResult),
            **errors(409),
            503: broker_unavailable_response(),
        },
        summary="Queue a sync job (it waits for the store's earlier jobs)",
    )
    def post(self, request, store_id):
        return self.queue(request, JobMode.SYNC)

    def queue(self, request, mode: str):
        data = self.valid(s.TriggerSerializer, request.data)
        job = services.trigger_sync(
            self.store,
            entities=data.get("entities"),
            sync_type=data["sync_type"],
            priority=data["priority"],
            options=dict(data.get("options") or {}),
            user=request.user,
            mode=mode,
        )
        return self.data(presenters.trigger_response(job), status.HTTP_202_ACCEPTED)


class PreviewView(TriggerView):
    @extend_schema(
        operation_id="store_sync_preview",
        parameters=[STORE_ID],
        request=s.TriggerSerializer,
        responses={
            202: s.data_envelope("SyncPreviewResponse", s.TriggerResult),
            **errors(409),
            503: broker_unavailable_response(),
        },
        summary="Queue a preview: a dry run whose job lists the planned changes, nothing written",
    )
    def post(self, request, store_id):
        return self.queue(request, JobMode.PREVIEW)


JOB_ID = OpenApiParameter("job_id", OpenApiTypes.STR, OpenApiParameter.PATH)


def visible_job(user, job_id) -> StoreSyncJob:
    """A sync job of a store the user sees; 404 for another store's job, an unknown or malformed id."""
    try:
        pk = uuid.UUID(str(job_id))
    except ValueError:
        pk = None
    job = selectors.visible_jobs(visible_stores(user)).filter(pk=pk).first() if pk else None
    if job is None:
        raise DomainError(ErrorCode.NOT_FOUND, 404, "Sync job not found")
    return job


class JobLookup:
    def job(self, job_id):
        return visible_job(self.request.user, job_id)


class JobView(JobLookup, SyncView):
    read_letters = (JOB, "R")

    @extend_schema(
        operation_id="sync_job_status",
        parameters=[JOB_ID],
        responses={200: s.data_envelope("SyncJobResponse", s.JobResult)},
        summary="A sync job's status, progress and per-entity results",
    )
    def get(self, request, job_id):
        return self.data(presenters.job_detail(self.job(job_id)))


class JobActionView(SyncView):
    """A decision on a job: the permission to trigger a sync, on a job of a store the user sees."""

    write_letters = (JOB, "C")


class ApproveView(JobActionView):
    @extend_schema(
        operation_id="sync_job_approve",
        parameters=[JOB_ID],
        request=None,
        responses={202: s.data_envelope("SyncApproveResponse", s.TriggerResult), **errors(409)},
        summary="Approve a job held by the mass-change brake: it is queued again and runs without the brake",
    )
    def post(self, request, job_id):
        job = services.approve_job(visible_job(request.user, job_id), user=request.user)
        return self.data(presenters.trigger_response(job), status.HTTP_202_ACCEPTED)


class RejectView(JobActionView):
    @extend_schema(
        operation_id="sync_job_reject",
        parameters=[JOB_ID],
        request=None,
        responses={200: s.data_envelope("SyncRejectResponse", s.JobResult), **errors(409)},
        summary="Reject a job held by the mass-change brake: it ends cancelled, nothing written",
    )
    def post(self, request, job_id):
        job = services.reject_job(visible_job(request.user, job_id), user=request.user)
        return self.data(presenters.job_detail(job))


class ApplyView(JobActionView):
    @extend_schema(
        operation_id="sync_job_apply",
        parameters=[JOB_ID],
        request=None,
        responses={
            202: s.data_envelope("SyncApplyResponse", s.TriggerResult),
            **errors(409),
            503: broker_unavailable_response(),
        },
        summary="Apply a finished preview: its records are synced where the planned change still holds",
    )
    def post(self, request, job_id):
        job = services.apply_preview(visible_job(request.user, job_id), user=request.user)
        return self.data(presenters.trigger_response(job), status.HTTP_202_ACCEPTED)


class ConflictsView(SyncView):
    read_letters = (CONFLICT, "R")

    @extend_schema(
        operation_id="store_sync_conflicts",
        parameters=[STORE_ID, s.ConflictQuerySerializer],
        responses={
            200: s.data_envelope(
                "SyncConflictsResponse", s.ConflictOutput.__class__(many=True), pagination=s.Pagination
            )
        },
        summary="The store's sync conflicts, newest first",
    )
    def get(self, request, store_id):
        query = self.valid(s.ConflictQuerySerializer, request.query_params)
        store = self.store
        rows = selectors.conflicts(store, status=query.get("status"), entity_type=query.get("entity_type"))
        return self.page(rows, query, presenters.conflict_item)


class ResolveView(SyncView):
    write_letters = (CONFLICT, "U")

    @extend_schema(
        operation_id="sync_conflict_resolve",
        parameters=[OpenApiParameter("conflict_id", OpenApiTypes.STR, OpenApiParameter.PATH)],
        request=s.ResolveSerializer,
        responses={200: s.data_envelope("SyncResolveResponse", s.ResolveResult), **errors(409, 502)},
        summary="Resolve a conflict: the chosen value is written to both sides",
    )
    def post(self, request, conflict_id):
        conflict = None
        if str(conflict_id).isdigit() and len(str(conflict_id)) < 19:
            conflict = (
                SyncConflict.objects.filter(pk=int(conflict_id), store__in=visible_stores(request.user))
                .select_related("store")
                .first()
            )
        if conflict is None:
            raise DomainError(ErrorCode.NOT_FOUND, 404, "Conflict not found")
        data = self.valid(s.ResolveSerializer, request.data)
        outcome = resolution.resolve_conflict(
            conflict,
            resolution=data["resolution"],
            custom_value=data.get("custom_value", MISSING),
            apply_to_similar=data["apply_to_similar"],
            create_rule=data.get("create_rule"),
            user=request.user,
        )
        return self.data(
            {
                "conflict_id": conflict.pk,
                "status": outcome.conflict.status,
                "resolution": data["resolution"],
                "resolved_value": presenters.display_value(conflict.field, outcome.value),
                "resolved_conflicts": outcome.resolved,
                "failed_conflicts": outcome.failed,
                "stale_conflicts": [presenters.stale_conflict(c) for c in outcome.stale],
                "rule_created": presenters.rule_item(outcome.rule) if outcome.rule else None,
            }
        )


class HistoryView(SyncView):
    @extend_schema(
        operation_id="store_sync_history",
        parameters=[STORE_ID, s.HistoryQuerySerializer],
        responses={
            200: s.data_envelope("SyncHistoryResponse", s.HistoryItem.__class__(many=True), pagination=s.Pagination)
        },
        summary="Finished syncs of the store, newest first",
    )
    def get(self, request, store_id):
        query = self.valid(s.HistoryQuerySerializer, request.query_params)
        jobs = selectors.history(
            self.store,
            start=query.get("start_date"),
            end=query.get("end_date"),
            entity_type=query.get("entity_type"),
            status=query.get("status"),
        )
        return self.page(jobs, query, presenters.history_item)


class RecordLineageView(SyncView):
    """A record's sync identity (``storesync.lineage``): its shop id, the base both sides last
    agreed on, the last job that wrote each synced field (preview jobs left out), its owed
    changes (open dead letters) and its pending conflicts."""

    @extend_schema(
        operation_id="store_sync_record_lineage",
        parameters=[
            STORE_ID,
            OpenApiParameter("entity", OpenApiTypes.STR, OpenApiParameter.PATH, enum=ENTITY_TYPES),
            OpenApiParameter("record_pk", OpenApiTypes.INT, OpenApiParameter.PATH, description="Platform record id."),
        ],
        responses={200: s.data_envelope("SyncRecordLineageResponse", s.LineageResult)},
        summary="A record's sync lineage: shop id, agreed base, last job per field, owed changes, conflicts",
    )
    def get(self, request, store_id, entity, record_pk):
        store = self.store
        if entity not in ENTITY_TYPES:
            raise params.invalid(f"entity must be one of {', '.join(ENTITY_TYPES)}", {"entity": ["Unknown entity."]})
        found = None
        if str(record_pk).isdigit() and len(str(record_pk)) < 19:
            found = lineage.record_lineage(store, entity, int(record_pk))
        if found is None:
            raise DomainError(ErrorCode.NOT_FOUND, 404, "Record not found")
        return self.data(lineage.lineage_item(found))


class RulesView(SyncView):
    @extend_schema(
        operation_id="store_sync_rules_list",
        parameters=[STORE_ID],
        responses={200: s.data_envelope("SyncRulesResponse", s.RuleOutput.__class__(many=True))},
        summary="The store's sync rules, in precedence order",
    )
    def get(self, request, store_id):
        config = services.get_config_or_404(self.store)
        return self.data([presenters.rule_item(rule) for rule in config.rules.order_by("position", "id")])

    @extend_schema(
        operation_id="store_sync_rules",
        parameters=[STORE_ID],
        request=s.RulesSerializer,
        responses={200: s.data_envelope("SyncRulesSetResponse", s.RuleOutput.__class__(many=True)), **errors(409)},
        summary="Add or update rules by name (replace: exactly these)",
    )
    def post(self, request, store_id):
        data = self.valid(s.RulesSerializer, request.data)
        if data["replace"]:
            self.require_letters("D")
        rules = services.set_rules(self.store, data["rules"], replace=data["replace"])
        return self.data([presenters.rule_item(rule) for rule in rules])


class FiltersView(SyncView):
    @extend_schema(
        operation_id="store_sync_filters_list",
        parameters=[STORE_ID],
        responses={200: s.data_envelope("SyncFiltersResponse", s.FilterSetOutput.__class__(many=True))},
        summary="Each configured entity's filters and excluded fields",
    )
    def get(self, request, store_id):
        config = services.get_config_or_404(self.store)
        return self.data(presenters.filter_sets(config))

    @extend_schema(
        operation_id="store_sync_filters",
        parameters=[STORE_ID],
        request=s.FiltersSerializer,
        responses={200: s.data_envelope("SyncFiltersSetResponse", s.FilterSetOutput), **errors(409)},
        summary="Replace an entity's filters and excluded fields",
    )
    def post(self, request, store_id):
        data = self.valid(s.FiltersSerializer, request.data)
        if services.filters_would_drop(
            self.store, entity_type=data["entity_type"], filters=data["filters"], exclude_fields=data["exclude_fields"]
        ):
            self.require_letters("D")
        entity = services.set_filters(
            self.store, entity_type=data["entity_type"], filters=data["filters"], exclude_fields=data["exclude_fields"]
        )
        return self.data(presenters.filter_set(entity))


class PauseView(SyncView):
    @extend_schema(
        operation_id="store_sync_pause",
        parameters=[STORE_ID],
        request=None,
        responses={200: s.data_envelope("SyncPauseResponse", s.PauseResult), **errors(409)},
        summary="Pause the store's sync (waiting jobs are cancelled)",
    )
    def post(self, request, store_id):
        config, cancelled = services.pause_sync(self.store)
        return self.data(presenters.pause_item(config, cancelled))


class ResumeView(SyncView):
    @extend_schema(
        operation_id="store_sync_resume",
        parameters=[STORE_ID],
        request=None,
        responses={200: s.data_envelope("SyncResumeResponse", s.PauseResult), **errors(409)},
        summary="Resume the store's sync from its watermarks",
    )
    def post(self, request, store_id):
        config = services.resume_sync(self.store)
        return self.data(presenters.pause_item(config, 0))


JOB_ID = OpenApiParameter("job_id", OpenApiTypes.STR, OpenApiParameter.PATH)


class ChangesView(JobLookup, SyncView):
    read_letters = (JOB, "R")

    @extend_schema(
        operation_id="sync_job_changes",
        parameters=[JOB_ID, s.ChangeQuerySerializer],
        responses={
            200: s.data_envelope("SyncChangesResponse", s.ChangeOutput.__class__(many=True), pagination=s.Pagination)
        },
        summary="The fields a job wrote (a preview: would write), with the values they replaced",
    )
    def get(self, request, job_id):
        job = self.job(job_id)
        query = self.valid(s.ChangeQuerySerializer, request.query_params)
        rows = selectors.changes(
            job,
            entity_type=query.get("entity"),
            record_pk=query.get("record"),
            field=query.get("field"),
            side=query.get("side"),
        )
        return self.page(rows, query, presenters.change_item)


class UndoView(JobLookup, SyncView):
    write_letters = (JOB, "C")

    @extend_schema(
        operation_id="sync_job_undo",
        parameters=[JOB_ID],
        request=None,
        responses={
            202: s.data_envelope("SyncUndoResponse", s.UndoResult),
            **errors(409),
            503: broker_unavailable_response(),
        },
        summary="Queue an undo of a finished job: its writes taken back where nothing moved since",
    )
    def post(self, request, job_id):
        undo = services.undo_job(self.job(job_id), user=request.user)
        return self.data(presenters.undo_response(undo), status.HTTP_202_ACCEPTED)
