"""Settling conflicts by hand: the chosen value is written to both sides at once (the shop
through the connector, the platform in the database), it becomes the record's base, and
the conflict is closed. ``apply_to_similar`` settles the store's other pending conflicts
of the same entity type and field the same way (each with its own store or platform
value, or the one custom value); ``create_rule`` adds a rule so the next ones settle
themselves.

Resolution is optimistic: both sides are read again under the store's lock, and a
conflict whose store or platform value moved since it was recorded is *stale*. It is
refreshed with the current values and nothing is written for it, since the operator
decided on values that are gone (the asked conflict answers ``CONFLICT_STALE``; similar
ones are reported in ``ResolutionOutcome.stale``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from catalog.platforms import create_ecommerce_service
from storesync.constants import ConflictStatus, Resolution, RuleCondition
from storesync.engine.entities import ADAPTERS, InvalidValue, Remote, normalize, validate
from storesync.engine.locks import store_lock
from storesync.engine.merge import MISSING, STORE, newest
from storesync.engine.shop_writer import ShopWriter, WriteOp
from storesync.exceptions import ConflictNotPending, ConflictStale, InvalidSyncInput, ShopWriteFailed, SyncError
from storesync.models import SyncConfig, SyncConflict, SyncRecordState, SyncRule
from storesync.presenters import conflict_item, display_value
from storesync.validation import check_rule, normalize_action

# Interactive: fail fast rather than keep an HTTP request waiting through long backoffs.
RESOLVE_ATTEMPTS = 2


@dataclass
class ResolutionOutcome:
    conflict: SyncConflict
    resolution: str
    value: Any
    resolved: list[int] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    stale: list[SyncConflict] = field(default_factory=list)  # refreshed with the sides' current values
    rule: SyncRule | None = None


def chosen_value(conflict: SyncConflict, resolution: str, custom_value: Any = MISSING) -> Any:
    if resolution == Resolution.USE_STORE_VALUE:
        return conflict.store_value
    if resolution == Resolution.USE_PLATFORM_VALUE:
        return conflict.platform_value
    try:
        value = normalize(conflict.entity_type, conflict.field, custom_value)
    except InvalidValue as exc:
        raise InvalidSyncInput(f"custom_value: {exc}", {"custom_value": [str(exc)]}) from None
    problems = validate(conflict.entity_type, {conflict.field: value})
    if problems:
        problem = problems[conflict.field]
        raise InvalidSyncInput(f"custom_value: {problem}", {"custom_value": [problem]})
    return value


def newest_resolution(conflict: SyncConflict) -> str:
    """Keep the side modified last (the merge's ``newest_wins``: to the second, ties to the platform)."""
    side = newest(conflict.last_modified_store, conflict.last_modified_platform)
    return Resolution.USE_STORE_VALUE if side == STORE else Resolution.USE_PLATFORM_VALUE


def resolve_conflict(
    conflict: SyncConflict,
    *,
    resolution: str,
    custom_value: Any = MISSING,
    apply_to_similar: bool = False,
    create_rule: dict[str, str] | None = None,
    user=None,
) -> ResolutionOutcome:
    if conflict.status != ConflictStatus.PENDING:
        raise ConflictNotPending(f"This conflict is already {conflict.status}.", {"status": conflict.status})
    if resolution == Resolution.USE_CUSTOM_VALUE and custom_value is MISSING:
        raise InvalidSyncInput(
            "custom_value is required with use_custom_value.", {"custom_value": ["This field is required."]}
        )
    value = chosen_value(conflict, resolution, custom_value)
    rule_spec = None
    if create_rule is not None:
        rule_spec = {
            "field": create_rule.get("field") or conflict.field,
            "action": normalize_action(create_rule.get("strategy") or ""),
        }
        try:
            check_rule(conflict.entity_type, rule_spec["field"], RuleCondition.CONFLICT_DETECTED, rule_spec["action"])
        except Exception as exc:
            messages = getattr(exc, "message_dict", None) or {"create_rule": [str(exc)]}
            raise InvalidSyncInput("create_rule is not a valid rule.", {"create_rule": messages}) from None
    targets = [conflict]
    if apply_to_similar:
        targets += list(
            SyncConflict.objects.filter(
                store_id=conflict.store_id,
                entity_type=conflict.entity_type,
                field=conflict.field,
                status=ConflictStatus.PENDING,
            )
            .exclude(pk=conflict.pk)
            .order_by("id")
        )
    outcome = ResolutionOutcome(conflict, resolution, value)
    with store_lock(conflict.store_id), transaction.atomic():
        config = SyncConfig.objects.select_for_update().get(store_id=conflict.store_id)
        # A refused conflict commits its refresh (if stale) and settles nothing else.
        if _settle(config, [conflict], custom_value, user, outcome):
            if len(targets) > 1:
                _settle(config, targets[1:], custom_value, user, outcome)
            if rule_spec is not None:
                outcome.rule = _rule_from(config, conflict, rule_spec)
    conflict.refresh_from_db()
    if conflict.pk not in outcome.resolved:
        raise _refusal(conflict, outcome)
    return outcome


def _refusal(conflict: SyncConflict, outcome: ResolutionOutcome) -> SyncError:
    """Why the asked conflict was not settled."""
    if any(stale.pk == conflict.pk for stale in outcome.stale):
        store, platform = (display_value(conflict.field, v) for v in (conflict.store_value, conflict.platform_value))
        return ConflictStale(
            f"The {conflict.field} changed since this conflict was recorded: the store now has {store}, "
            f"the platform {platform}. Nothing was written; resolve it again on these values.",
            conflict_item(conflict),
        )
    failure = next((f for f in outcome.failed if f["conflict_id"] == conflict.pk), None)
    if failure is None:
        return ConflictNotPending("This conflict was settled meanwhile.")
    return ShopWriteFailed(f"The shop did not take the value: {failure['message']}", failure["code"])


def ignore_conflicts(conflicts: Iterable[SyncConflict], *, user=None) -> int:
    """Close conflicts without writing; the same pair of values will not be raised again."""
    pks = [c.pk for c in conflicts if c.status == ConflictStatus.PENDING]
    now = timezone.now()
    return SyncConflict.objects.filter(pk__in=pks, status=ConflictStatus.PENDING).update(
        status=ConflictStatus.IGNORED, resolution="ignored", resolved_by=user, resolved_at=now, updated_at=now
    )


def _settle(config, targets, custom_value, user, outcome: ResolutionOutcome) -> set[int]:
    """Write each target's value to both sides, unless a side moved since the conflict was
    recorded (stale: refreshed instead); returns the pks settled."""
    adapter = ADAPTERS[targets[0].entity_type]
    fresh = {
        c.pk: c
        for c in SyncConflict.objects.select_for_update().filter(
            pk__in=[t.pk for t in targets], status=ConflictStatus.PENDING
        )
    }
    targets = [fresh[t.pk] for t in targets if t.pk in fresh]
    # Locked: a catalogue edit waits until the resolution is written, then counts as newer.
    objs = adapter.model.objects.select_for_update().in_bulk([t.record_pk for t in targets])
    states = {
        s.record_pk: s
        for s in SyncRecordState.objects.filter(
            store_id=config.store_id, entity_type=adapter.entity, record_pk__in=[t.record_pk for t in targets]
        )
    }
    remotes = _read_shop(config.store, adapter, [t for t in targets if t.record_pk in objs], objs)
    targets = [t for t in targets if not _refresh_if_stale(adapter, t, objs.get(t.record_pk), remotes, outcome)]
    values = {
        t.pk: outcome.value if t.pk == outcome.conflict.pk else chosen_value(t, outcome.resolution, custom_value)
        for t in targets
    }
    writes = [
        t
        for t in targets
        if adapter.writable_in_store
        and remotes.get(t.pk) is not None
        and remotes[t.pk].values.get(t.field) != values[t.pk]
    ]
    if writes:
        with (
            create_ecommerce_service(config.store) as service,
            ShopWriter(config.store, service, max_attempts=RESOLVE_ATTEMPTS) as writer,
        ):
            ops = [WriteOp("update", objs[t.record_pk].id_origin, {t.field: values[t.pk]}) for t in writes]
            for t, result in zip(writes, writer.run(adapter, ops), strict=True):
                if result.ok:
                    remotes[t.pk] = result.remote
                else:
                    outcome.failed.append({"conflict_id": t.pk, "code": result.code, "message": result.error})
    failed = {f["conflict_id"] for f in outcome.failed}
    return _record(adapter, [t for t in targets if t.pk not in failed], values, remotes, states, objs, user, outcome)


def _read_shop(store, adapter, targets, objs) -> dict[int, Remote | None]:
    """Each linked target's record as the shop holds it now (None: gone from the shop)."""
    linked = [t for t in targets if objs[t.record_pk].id_origin]
    if not linked:
        return {}
    with create_ecommerce_service(store) as service:
        current = {r.id: r for r in adapter.fetch(service, [objs[t.record_pk].id_origin for t in linked])}
    return {t.pk: current.get(objs[t.record_pk].id_origin) for t in linked}


def _refresh_if_stale(adapter, conflict: SyncConflict, obj, remotes: dict, outcome: ResolutionOutcome) -> bool:
    """Compare both sides with the recorded values; a conflict that moved is refreshed."""
    remote = remotes.get(conflict.pk)
    platform_now = adapter.platform_values(obj)[conflict.field] if obj is not None else conflict.platform_value
    store_now = remote.values.get(conflict.field) if remote is not None else conflict.store_value
    if (store_now, platform_now) == (conflict.store_value, conflict.platform_value):
        return False
    conflict.store_value, conflict.platform_value = store_now, platform_now
    if remote is not None:
        conflict.last_modified_store = remote.modified
    if obj is not None:
        conflict.last_modified_platform = obj.updated_at
    conflict.save(
        update_fields=["store_value", "platform_value", "last_modified_store", "last_modified_platform", "updated_at"]
    )
    outcome.stale.append(conflict)
    return True


def _record(adapter, targets, values, remotes, states, objs, user, outcome: ResolutionOutcome) -> set[int]:
    """Write the settled values to the platform and the base; close the conflicts."""
    now = timezone.now()
    settled = set()
    for t in targets:
        value = values[t.pk]
        obj = objs.get(t.record_pk)
        if obj is not None:
            changed = adapter.apply(obj, {t.field: value})
            adapter.model.objects.filter(pk=obj.pk).update(updated_at=now, **{a: getattr(obj, a) for a in changed})
            remote = remotes.get(t.pk)
            state = states.get(t.record_pk)
            if state is not None:
                state.base = {**state.base, t.field: value}
                state.platform_modified = now
                if remote is not None:
                    state.store_modified = remote.modified
                state.synced_at = now
                state.save(update_fields=["base", "platform_modified", "store_modified", "synced_at"])
        t.status, t.resolution, t.resolved_value = ConflictStatus.RESOLVED, outcome.resolution, value
        t.resolved_by, t.resolved_at = user if getattr(user, "pk", None) else None, now
        t.save(update_fields=["status", "resolution", "resolved_value", "resolved_by", "resolved_at", "updated_at"])
        settled.add(t.pk)
        outcome.resolved.append(t.pk)
    return settled


def _rule_from(config: SyncConfig, conflict: SyncConflict, spec: dict[str, str]) -> SyncRule:
    name = f"{conflict.entity_type}_{spec['field']}_{spec['action']}"
    position = (config.rules.order_by("-position").values_list("position", flat=True).first() or 0) + 1
    rule, _ = SyncRule.objects.update_or_create(
        config=config,
        name=name,
        defaults={
            "entity_type": conflict.entity_type,
            "field": spec["field"],
            "action": spec["action"],
            "condition": RuleCondition.CONFLICT_DETECTED,
            "created_from": conflict,
            "position": position,
        },
    )
    return rule
