"""The pure merge core: strategies, ties, rules, one-way mirrors, filters, conflict bookkeeping."""

from datetime import UTC, datetime, timedelta

import pytest

from storesync.engine.merge import (
    MISSING,
    PLATFORM,
    STORE,
    Filter,
    Policy,
    Rule,
    in_scope,
    matches,
    merge_record,
    plan_conflicts,
)

T0 = datetime(2026, 1, 10, 12, 0, 0, tzinfo=UTC)
FIELDS = ("title", "price")
BASE = {"title": "Mug", "price": "10.000000"}


def merge(store, platform, *, base=BASE, store_time=T0, platform_time=T0, **policy):
    policy.setdefault("fields", FIELDS)
    return merge_record(
        Policy(**policy), base, store, platform, store_modified=store_time, platform_modified=platform_time
    )


def test_unchanged_record_needs_nothing():
    result = merge(BASE, BASE)
    assert not result.writes and not result.conflicts and result.base == BASE


def test_a_change_on_one_side_is_copied_to_the_other():
    result = merge({**BASE, "price": "12.000000"}, {**BASE, "title": "Big mug"})
    assert result.to_platform == {"price": "12.000000"}
    assert result.to_store == {"title": "Big mug"}
    assert result.base == {"title": "Big mug", "price": "12.000000"}
    assert not result.conflicts


def test_the_same_change_on_both_sides_is_no_conflict():
    result = merge({**BASE, "price": "12.000000"}, {**BASE, "price": "12.000000"})
    assert not result.writes and not result.conflicts and result.base["price"] == "12.000000"


@pytest.mark.parametrize(
    ("store_time", "platform_time", "winner"),
    [
        (T0 + timedelta(seconds=5), T0, STORE),
        (T0, T0 + timedelta(seconds=5), PLATFORM),
        (T0, T0 + timedelta(microseconds=900_000), PLATFORM),  # same second: a tie, the platform wins
        (T0 + timedelta(microseconds=900_000), T0, PLATFORM),  # the shop's resolution is one second
        (None, T0, PLATFORM),
        (T0, None, STORE),
        (None, None, PLATFORM),
    ],
)
def test_last_write_wins_by_modification_time_and_ties_go_to_the_platform(store_time, platform_time, winner):
    result = merge(
        {**BASE, "price": "12.000000"},
        {**BASE, "price": "9.000000"},
        store_time=store_time,
        platform_time=platform_time,
    )
    [conflict] = result.conflicts
    assert conflict.winner == winner and conflict.decided_by == "strategy:last_write_wins"
    expected = "12.000000" if winner == STORE else "9.000000"
    assert result.base["price"] == expected
    assert (result.to_platform if winner == STORE else result.to_store) == {"price": expected}


@pytest.mark.parametrize(("strategy", "winner"), [("store_priority", STORE), ("platform_priority", PLATFORM)])
def test_priority_strategies(strategy, winner):
    result = merge(
        {**BASE, "price": "12.000000"},
        {**BASE, "price": "9.000000"},
        strategy=strategy,
        store_time=T0,
        platform_time=T0 + timedelta(hours=1),
    )
    assert result.conflicts[0].winner == winner


def test_manual_resolution_leaves_both_sides_untouched_and_keeps_the_base():
    result = merge(
        {**BASE, "price": "12.000000", "title": "Cup"}, {**BASE, "price": "9.000000"}, strategy="manual_resolution"
    )
    assert result.to_store == {} and result.to_platform == {"title": "Cup"}
    [conflict] = result.pending
    assert (conflict.field, conflict.store_value, conflict.platform_value) == ("price", "12.000000", "9.000000")
    assert result.base["price"] == "10.000000"


def test_resolve_conflicts_false_makes_every_conflict_pending():
    result = merge(
        {**BASE, "price": "12.000000"},
        {**BASE, "price": "9.000000"},
        strategy="store_priority",
        resolve_conflicts=False,
    )
    assert result.pending and not result.writes


def test_a_rule_takes_precedence_over_the_strategy_and_the_first_rule_wins():
    rules = (
        Rule("highest", "price", "conflict_detected", "use_highest_value"),
        Rule("lowest", "price", "conflict_detected", "use_lowest_value"),
    )
    result = merge(
        {**BASE, "price": "12.000000"}, {**BASE, "price": "90.000000"}, strategy="store_priority", rules=rules
    )
    [conflict] = result.conflicts
    assert conflict.winner == PLATFORM and conflict.decided_by == "rule:highest"
    assert result.to_store == {"price": "90.000000"}


def test_highest_value_compares_numbers_not_text():
    rules = (Rule("highest", "price", "conflict_detected", "use_highest_value"),)
    result = merge({**BASE, "price": "9.000000"}, {**BASE, "price": "10.500000"}, rules=rules, base={})
    assert result.conflicts[0].winner == PLATFORM


def test_a_manual_rule_on_one_field_under_an_automatic_strategy():
    rules = (Rule("ask", "price", "conflict_detected", "manual_resolution"),)
    result = merge(
        {"title": "A", "price": "12.000000"},
        {"title": "B", "price": "9.000000"},
        rules=rules,
        strategy="store_priority",
    )
    assert [c.field for c in result.pending] == ["price"]
    assert result.to_platform == {"title": "A"}


def test_an_always_rule_decides_one_sided_changes_too():
    rules = (Rule("store-price", "price", "always", "use_store_value"),)
    result = merge(BASE, {**BASE, "price": "9.000000"}, rules=rules)
    assert result.to_platform == {"price": "10.000000"} and result.overwritten == ["price"]
    assert not result.conflicts


def test_sync_immediately_decides_nothing():
    rules = (Rule("fast", "price", "always", "sync_immediately"),)
    result = merge(BASE, {**BASE, "price": "9.000000"}, rules=rules)
    assert result.to_store == {"price": "9.000000"}


def test_without_a_base_a_difference_is_a_conflict():
    result = merge(
        {"title": "A", "price": "1.000000"}, {"title": "A", "price": "2.000000"}, base={}, strategy="manual_resolution"
    )
    [conflict] = result.pending
    assert conflict.base_value is None and "price" not in result.base and result.base["title"] == "A"


@pytest.mark.parametrize("direction", ["to_platform", "to_store"])
def test_one_way_directions_mirror_the_source(direction):
    source_is_store = direction == "to_platform"
    edited_target = {**BASE, "price": "5.000000"}
    store, platform = (BASE, edited_target) if source_is_store else (edited_target, BASE)
    result = merge(store, platform, direction=direction)
    assert (result.to_platform if source_is_store else result.to_store) == {"price": "10.000000"}
    assert result.overwritten == ["price"] and not result.conflicts

    both = merge({**BASE, "price": "1.000000"}, {**BASE, "price": "2.000000"}, direction=direction)
    [conflict] = both.conflicts
    assert conflict.winner == (STORE if source_is_store else PLATFORM)
    assert conflict.decided_by == f"direction:{direction}"


def test_merging_twice_changes_nothing():
    first = merge({**BASE, "price": "12.000000"}, {**BASE, "title": "Big"})
    store = {**BASE, "price": "12.000000", **first.to_store}
    platform = {**BASE, "title": "Big", **first.to_platform}
    second = merge(store, platform, base=first.base)
    assert not second.writes and not second.conflicts and second.base == first.base


def test_plan_conflicts_updates_closes_and_respects_ignored_pairs():
    pending = merge({**BASE, "price": "12.000000"}, {**BASE, "price": "9.000000"}, strategy="manual_resolution")
    fresh = plan_conflicts(pending, {}, {}, FIELDS)
    assert [c.field for c in fresh.create] == ["price"]
    same = plan_conflicts(pending, {"price": ("12.000000", "9.000000")}, {}, FIELDS)
    assert not same.create and not same.update and not same.close
    moved = plan_conflicts(pending, {"price": ("11.000000", "9.000000")}, {}, FIELDS)
    assert [c.field for c in moved.update] == ["price"]
    ignored = plan_conflicts(pending, {}, {"price": {(repr("12.000000"), repr("9.000000"))}}, FIELDS)
    assert not ignored.create
    agreed = merge({**BASE, "price": "9.000000"}, {**BASE, "price": "9.000000"})
    assert plan_conflicts(agreed, {"price": ("12.000000", "9.000000")}, {}, FIELDS).close == [("price", "sides_agree")]


@pytest.mark.parametrize(
    ("flt", "values", "expected"),
    [
        (Filter("status", "equals", "active"), {"status": "active"}, True),
        (Filter("status", "not_equals", "active"), {"status": "active"}, False),
        (Filter("price", "greater_than", 0), {"price": "0.000000"}, False),
        (Filter("price", "greater_than", 0), {"price": "0.010000"}, True),
        (Filter("price", "less_than", "100"), {"price": "99.000000"}, True),
        (Filter("price", "equals", 12.5), {"price": "12.500000"}, True),
        (Filter("title", "contains", "MUG"), {"title": "Big mug"}, True),
        (Filter("sku", "in", ["A1", "B2"]), {"sku": "B2"}, True),
        (Filter("sku", "in", ["A1", "B2"]), {"sku": "C3"}, False),
        (Filter("inventory", "in", [1, 2]), {"inventory": 2}, True),
        (Filter("vendor_code", "equals", "x"), {"sku": "x"}, False),
    ],
)
def test_filter_operators(flt, values, expected):
    assert matches(values, [flt]) is expected


def test_a_record_is_in_scope_when_either_side_matches():
    active = [Filter("status", "equals", "active")]
    assert in_scope({"status": "inactive"}, {"status": "active"}, active)
    assert not in_scope({"status": "inactive"}, None, active)
    assert in_scope(None, {"status": "x"}, [])


def test_missing_is_not_a_value():
    assert repr(MISSING) == "MISSING"


def test_the_first_rule_that_applies_decides_and_sync_immediately_is_skipped():
    rules = (
        Rule("fast", "price", "always", "sync_immediately"),
        Rule("high", "price", "conflict_detected", "use_highest_value"),
        Rule("store", "price", "always", "use_store_value"),
    )
    conflict = merge({**BASE, "price": "12.000000"}, {**BASE, "price": "90.000000"}, rules=rules)
    assert conflict.conflicts[0].decided_by == "rule:high" and conflict.to_store == {"price": "90.000000"}
    one_sided = merge(BASE, {**BASE, "price": "9.000000"}, rules=rules)
    assert one_sided.to_platform == {"price": "10.000000"}  # "store" applies to any change; "high" does not


def test_an_always_manual_rule_holds_every_change_for_review():
    rules = (Rule("review", "price", "always", "manual_resolution"),)
    result = merge(BASE, {**BASE, "price": "9.000000"}, rules=rules)
    assert not result.writes and [c.field for c in result.pending] == ["price"]
