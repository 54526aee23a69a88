"""The three-way merge at the heart of store sync: pure functions, no I/O.

For one record, each synced field is compared on the store side (the shop), the
platform side (the hub's catalogue) and the *base*: the value both sides agreed on at
the last sync. Values arrive normalised (``storesync.engine.entities``), so ``==`` is the
comparison.

* equal on both sides: nothing to do, the base becomes that value;
* changed on one side only: copied to the other side (bidirectional);
* changed on both sides to different values: a conflict, settled by the first matching
  rule, else by the entity's strategy. ``last_write_wins`` compares the two sides'
  modification times at the shop's one-second resolution; a tie goes to the platform.
  ``manual_resolution`` (or ``resolve_conflicts: false``) leaves the field untouched on
  both sides and reports a pending conflict; the base stays, so the next sync sees the
  same conflict until someone resolves it;
* one-way directions make the target a mirror of the source: the source's value is
  written whenever the sides differ. An edit made on the target side is overwritten
  (reported in ``overwritten``), and a concurrent edit on both sides is reported as a
  conflict settled by the direction.

A rule with the condition ``always`` decides the field whenever the sides differ (for
example "the store's price always wins"); ``conflict_detected`` rules only settle
conflicts. ``sync_immediately`` decides nothing here (it marks a field for the
webhook-driven syncs).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from storesync.constants import (
    ConflictStatus,
    Direction,
    FilterOperator,
    RuleAction,
    RuleCondition,
    Strategy,
)
from storesync.values import as_number

STORE = "store"
PLATFORM = "platform"


class _Missing:
    """No base value: the field was never agreed on (first sync, newly synced field)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class Rule:
    name: str
    field: str
    condition: str
    action: str


@dataclass(frozen=True)
class Policy:
    """How one entity type is merged."""

    fields: tuple[str, ...]
    direction: str = Direction.BIDIRECTIONAL
    strategy: str = Strategy.LAST_WRITE_WINS
    rules: tuple[Rule, ...] = ()  # this entity's rules, in precedence order
    resolve_conflicts: bool = True

    def rule_for(self, name: str, conditions: tuple[str, ...]) -> Rule | None:
        """The first rule of the field with one of these conditions that decides something."""
        return next(
            (
                rule
                for rule in self.rules
                if rule.field == name and rule.condition in conditions and rule.action != RuleAction.SYNC_IMMEDIATELY
            ),
            None,
        )


@dataclass(frozen=True)
class Conflict:
    """Both sides changed ``field``; ``winner`` is None while the conflict is pending."""

    field: str
    store_value: Any
    platform_value: Any
    base_value: Any
    winner: str | None = None  # store | platform
    decided_by: str = ""  # "strategy:last_write_wins", "rule:<name>", "direction:to_platform"

    @property
    def pending(self) -> bool:
        return self.winner is None

    @property
    def value(self) -> Any:
        return {STORE: self.store_value, PLATFORM: self.platform_value}.get(self.winner or "")


@dataclass
class MergeResult:
    to_store: dict[str, Any] = field(default_factory=dict)
    to_platform: dict[str, Any] = field(default_factory=dict)
    base: dict[str, Any] = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)
    overwritten: list[str] = field(default_factory=list)

    @property
    def pending(self) -> list[Conflict]:
        return [c for c in self.conflicts if c.pending]

    @property
    def resolved(self) -> list[Conflict]:
        return [c for c in self.conflicts if not c.pending]

    @property
    def writes(self) -> bool:
        return bool(self.to_store or self.to_platform)


def merge_record(
    policy: Policy,
    base: Mapping[str, Any],
    store: Mapping[str, Any],
    platform: Mapping[str, Any],
    *,
    store_modified: datetime | None = None,
    platform_modified: datetime | None = None,
) -> MergeResult:
    """Merge one record present on both sides. ``base`` may lack fields (never agreed)."""
    result = MergeResult()
    times = (store_modified, platform_modified)
    for name in policy.fields:
        b, s, p = base.get(name, MISSING), store.get(name), platform.get(name)
        if s == p:
            result.base[name] = s
            continue
        store_changed = b is MISSING or s != b
        platform_changed = b is MISSING or p != b
        if policy.direction != Direction.BIDIRECTIONAL:
            _mirror(result, policy.direction, name, b, s, p)
            continue
        both = store_changed and platform_changed
        # The first rule of the field that applies: ``always`` rules apply to any change,
        # ``conflict_detected`` ones to conflicts only.
        rule = policy.rule_for(
            name, (RuleCondition.ALWAYS, RuleCondition.CONFLICT_DETECTED) if both else (RuleCondition.ALWAYS,)
        )
        if both and not policy.resolve_conflicts:
            _settle(result, name, b, s, p, None, "", record_conflict=True)
        elif rule and rule.condition == RuleCondition.ALWAYS:
            winner = decide(rule.action, s, p, *times)
            _settle(result, name, b, s, p, winner, f"rule:{rule.name}", record_conflict=both)
            if not both and winner is not None and winner != (STORE if store_changed else PLATFORM):
                result.overwritten.append(name)
        elif store_changed and not platform_changed:
            result.to_platform[name] = s
            result.base[name] = s
        elif platform_changed and not store_changed:
            result.to_store[name] = p
            result.base[name] = p
        elif rule:
            _settle(result, name, b, s, p, decide(rule.action, s, p, *times), f"rule:{rule.name}", record_conflict=True)
        else:
            action = STRATEGY_ACTIONS[policy.strategy]
            _settle(
                result, name, b, s, p, decide(action, s, p, *times), f"strategy:{policy.strategy}", record_conflict=True
            )
    return result


def _mirror(result: MergeResult, direction: str, name: str, b: Any, s: Any, p: Any) -> None:
    """One-way: the source's value goes to the target whenever they differ."""
    source_is_store = direction == Direction.TO_PLATFORM
    source, target = (s, p) if source_is_store else (p, s)
    (result.to_platform if source_is_store else result.to_store)[name] = source
    result.base[name] = source
    if b is MISSING:
        return
    if source != b and target != b:
        winner = STORE if source_is_store else PLATFORM
        result.conflicts.append(Conflict(name, s, p, b, winner, f"direction:{direction}"))
    elif target != b:
        result.overwritten.append(name)


def _settle(
    result: MergeResult,
    name: str,
    b: Any,
    s: Any,
    p: Any,
    winner: str | None,
    decided_by: str,
    *,
    record_conflict: bool,
) -> None:
    if winner is None:  # pending: untouched on both sides, the base stays
        if b is not MISSING:
            result.base[name] = b
        result.conflicts.append(Conflict(name, s, p, None if b is MISSING else b))
        return
    value = s if winner == STORE else p
    if value != s:
        result.to_store[name] = value
    if value != p:
        result.to_platform[name] = value
    result.base[name] = value
    if record_conflict:
        result.conflicts.append(Conflict(name, s, p, None if b is MISSING else b, winner, decided_by))


STRATEGY_ACTIONS = {
    Strategy.LAST_WRITE_WINS: RuleAction.NEWEST_WINS,
    Strategy.STORE_PRIORITY: RuleAction.USE_STORE_VALUE,
    Strategy.PLATFORM_PRIORITY: RuleAction.USE_PLATFORM_VALUE,
    Strategy.MANUAL_RESOLUTION: RuleAction.MANUAL_RESOLUTION,
}


def decide(
    action: str,
    store_value: Any,
    platform_value: Any,
    store_modified: datetime | None,
    platform_modified: datetime | None,
) -> str | None:
    """Which side's value an action picks; None leaves the decision to a human."""
    if action == RuleAction.USE_STORE_VALUE:
        return STORE
    if action == RuleAction.USE_PLATFORM_VALUE:
        return PLATFORM
    if action == RuleAction.NEWEST_WINS:
        return newest(store_modified, platform_modified)
    if action in (RuleAction.USE_HIGHEST_VALUE, RuleAction.USE_LOWEST_VALUE):
        order = compare(store_value, platform_value)
        if order == 0:
            return PLATFORM
        store_higher = order > 0
        return STORE if store_higher == (action == RuleAction.USE_HIGHEST_VALUE) else PLATFORM
    return None  # manual_resolution (and anything unknown): a human decides


def newest(store_modified: datetime | None, platform_modified: datetime | None) -> str:
    """The side modified last, at one-second resolution; ties and unknown times go to the platform."""
    if store_modified is None:
        return PLATFORM
    if platform_modified is None:
        return STORE
    store_second = store_modified.replace(microsecond=0)
    platform_second = platform_modified.replace(microsecond=0)
    return STORE if store_second > platform_second else PLATFORM


def compare(left: Any, right: Any) -> int:
    """Numbers as numbers, anything else as text; None is the lowest."""
    if left is None or right is None:
        return (left is not None) - (right is not None)
    a, b = as_number(left), as_number(right)
    if a is None or b is None:
        a, b = str(left), str(right)
    return (a > b) - (a < b)


# Filters


@dataclass(frozen=True)
class Filter:
    field: str
    operator: str
    value: Any


def matches(values: Mapping[str, Any], filters: Iterable[Filter]) -> bool:
    """True when the record's values satisfy every filter (an absent field never matches)."""
    return all(_matches_one(values.get(f.field, MISSING), f) for f in filters)


def in_scope(store: Mapping[str, Any] | None, platform: Mapping[str, Any] | None, filters: Sequence[Filter]) -> bool:
    """A record is synced when it matches the filters on at least one side where it exists.

    So a change that takes a record out of scope (say, deactivated in the shop under a
    ``status equals active`` filter) still reaches the other side once.
    """
    if not filters:
        return True
    return any(side is not None and matches(side, filters) for side in (store, platform))


def _equal(left: Any, right: Any) -> bool:
    a, b = as_number(left), as_number(right)
    if a is not None and b is not None:
        return a == b
    return left == right or str(left) == str(right)


def _matches_one(value: Any, f: Filter) -> bool:
    if value is MISSING:
        return False
    if f.operator == FilterOperator.EQUALS:
        return _equal(value, f.value)
    if f.operator == FilterOperator.NOT_EQUALS:
        return not _equal(value, f.value)
    if f.operator == FilterOperator.GREATER_THAN:
        return value is not None and compare(value, f.value) > 0
    if f.operator == FilterOperator.LESS_THAN:
        return value is not None and compare(value, f.value) < 0
    if f.operator == FilterOperator.CONTAINS:
        haystack = value if isinstance(value, str) else repr(value)
        return str(f.value).lower() in haystack.lower()
    if f.operator == FilterOperator.IN:
        return any(_equal(value, item) for item in f.value or ())
    return False


# Pending conflicts across syncs


@dataclass
class ConflictPlan:
    """What to do with a record's conflict rows after a merge."""

    create: list[Conflict] = field(default_factory=list)  # new rows (pending or settled)
    update: list[Conflict] = field(default_factory=list)  # the pending row of this field, refreshed or settled
    close: list[tuple[str, str]] = field(default_factory=list)  # (field, reason) of pending rows no longer in conflict


def plan_conflicts(
    result: MergeResult,
    pending: Mapping[str, tuple[Any, Any]],
    ignored: Mapping[str, set[tuple[str, str]]],
    fields: Iterable[str],
) -> ConflictPlan:
    """Reconcile a merge with the record's existing conflict rows.

    ``pending`` maps a field to its pending row's (store value, platform value);
    ``ignored`` maps a field to the value pairs an operator chose to ignore: the same
    conflict is not raised again, a new pair of values is.
    """
    plan = ConflictPlan()
    seen: set[str] = set()
    for conflict in result.conflicts:
        seen.add(conflict.field)
        if conflict.field in pending:
            if not conflict.pending or pending[conflict.field] != (conflict.store_value, conflict.platform_value):
                plan.update.append(conflict)
        elif conflict.pending and _key(conflict) in ignored.get(conflict.field, set()):
            continue
        else:
            plan.create.append(conflict)
    for name in fields:
        if name in pending and name not in seen:
            plan.close.append(
                (
                    name,
                    "sides_agree"
                    if name in result.base and name not in result.to_store and name not in result.to_platform
                    else "superseded",
                )
            )
    return plan


def _key(conflict: Conflict) -> tuple[str, str]:
    return (repr(conflict.store_value), repr(conflict.platform_value))


def ignored_key(store_value: Any, platform_value: Any) -> tuple[str, str]:
    return (repr(store_value), repr(platform_value))


def conflict_status(conflict: Conflict) -> str:
    return ConflictStatus.PENDING if conflict.pending else ConflictStatus.RESOLVED
