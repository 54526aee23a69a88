"""Stateful property tests of the sync (Hypothesis ``RuleBasedStateMachine``).

Random schedules of edits on both sides, syncs, redelivered sync steps, crashes between
the shop's writes and the database commit, pauses and manual resolutions. After every
sync:

* wherever no manual conflict is pending and no change is owed, both sides hold the same value;
* no update is lost silently: an edit made since the last sync is on both sides, or the
  sync recorded a conflict for that field (settled by the strategy or a rule, or pending),
  or a one-way direction overwrote it (reported as such), or the shop refused it and it
  is owed (an open dead letter) until a sync the shop accepts settles it;
* applying the same change twice changes nothing: a replayed sync writes nothing.

The first machine drives the pure merge core (``storesync.engine.merge``) over an in-memory
model of both sides: at least 500 schedules, fast. The second drives the real engine
against the shop simulator over HTTP and the database, committing for real, for at least
100 schedules: besides the edits and syncs, pauses, a worker dying between a batch's shop
writes and its commit (its message then redelivered), writes the shop refuses, requeues,
resolutions of conflicts whose sides have moved since, records created on either side
or both, previews (which write nothing anywhere), undos right after a sync (every value the
sync wrote put back, its edits owed again) and deletes of created records on either side
(deactivated or deleted on the other by the next full sync, as the policy says). Every
schedule ends with a checked sync; the run's summary says how many ran.
Sizes follow the Hypothesis profile (``tests/plugins/hypothesis_profiles.py``).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from unittest.mock import patch

import httpx
import pytest
from django.conf import settings
from django.db import connection
from django.db.models import F
from django.test import override_settings
from hypothesis import Phase
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from catalog.models import Product
from catalog.platforms import create_ecommerce_service
from config.errors import DomainError
from shopsim import run_in_thread
from storesync import services
from storesync.constants import ConflictStatus, JobMode
from storesync.engine import bulk
from storesync.engine.bulk import copy_rows
from storesync.engine.merge import Policy, Rule, merge_record, plan_conflicts
from storesync.exceptions import SyncPaused
from storesync.models import DeadLetter, DeadLetterStatus, SyncChange, SyncConflict, SyncEntity, SyncRecordState
from storesync.resolution import resolve_conflict
from storesync.runner import StoreSyncRunner
from storesync.values import as_number
from tests.plugins.simulator import sim_get, sim_post, sim_stats
from tests.storesync.conftest import configure, edit_platform, platform_product

FIELDS = ("title", "price")
VALUES = {"title": ["Mug", "Cup", "Bowl"], "price": ["1.000000", "2.000000", "3.000000"]}
RECORDS = (1, 2, 3)
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)

field_values = st.sampled_from(FIELDS).flatmap(lambda name: st.tuples(st.just(name), st.sampled_from(VALUES[name])))
edit_steps = st.tuples(st.sampled_from(["store", "platform"]), st.sampled_from(RECORDS), field_values)


class MergeModel(RuleBasedStateMachine):
    """Both sides in memory, synced by the pure merge core."""

    schedules = 0  # schedules run to the end (each synced at least once: see ``teardown``)
    syncs = 0  # syncs run by their rules, the final ones aside

    @initialize(
        strategy=st.sampled_from(["last_write_wins", "store_priority", "platform_priority", "manual_resolution"]),
        direction=st.sampled_from(["bidirectional"] * 4 + ["to_platform", "to_store"]),
        rule=st.sampled_from([None, "use_highest_value", "manual_resolution", "always_store"]),
    )
    def setup(self, strategy, direction, rule):
        rules = ()
        if rule == "always_store":
            rules = (Rule("r", "title", "always", "use_store_value"),)
        elif rule:
            rules = (Rule("r", "price", "conflict_detected", rule),)
        self.policy = Policy(fields=FIELDS, direction=direction, strategy=strategy, rules=rules)
        start = {f: VALUES[f][0] for f in FIELDS}
        self.sides = {"store": {r: dict(start) for r in RECORDS}, "platform": {r: dict(start) for r in RECORDS}}
        self.times = {"store": dict.fromkeys(RECORDS, EPOCH), "platform": dict.fromkeys(RECORDS, EPOCH)}
        self.base = {r: dict(start) for r in RECORDS}
        self.pending: dict[tuple[int, str], tuple] = {}
        self.edits: dict[str, dict[tuple[int, str], str]] = {"store": {}, "platform": {}}
        self.clock = 0
        self.paused = False
        self.synced = 0  # syncs run by the schedule's rules

    # Edits

    @rule(
        side=st.sampled_from(["store", "platform"]),
        record=st.sampled_from(RECORDS),
        change=field_values,
        tick=st.booleans(),
    )
    def edit(self, side, record, change, tick):
        name, value = change
        self.clock += 1 if tick else 0  # no tick: the same second as the previous edit (ties)
        self.sides[side][record][name] = value
        self.times[side][record] = EPOCH + timedelta(seconds=self.clock)
        self.edits[side][(record, name)] = value

    @rule()
    def pause(self):
        self.paused = True

    @rule()
    def resume(self):
        self.paused = False

    # Syncs

    def merge(self, record):
        return merge_record(
            self.policy,
            self.base[record],
            self.sides["store"][record],
            self.sides["platform"][record],
            store_modified=self.times["store"][record],
            platform_modified=self.times["platform"][record],
        )

    def apply(self, record, result):
        self.clock += 1
        now = EPOCH + timedelta(seconds=self.clock)
        if result.to_store:
            self.sides["store"][record].update(result.to_store)
            self.times["store"][record] = now
        if result.to_platform:
            self.sides["platform"][record].update(result.to_platform)
            self.times["platform"][record] = now
        pending = {f: v for (r, f), v in self.pending.items() if r == record}
        plan = plan_conflicts(result, pending, {}, FIELDS)
        for conflict in [*plan.create, *plan.update]:
            if conflict.pending:
                self.pending[(record, conflict.field)] = (conflict.store_value, conflict.platform_value)
            else:
                self.pending.pop((record, conflict.field), None)
        for name, _reason in plan.close:
            self.pending.pop((record, name), None)
        self.base[record] = dict(result.base)

    @rule()
    def sync(self):
        if not self.paused:  # a paused store is not synced; its edits wait
            self.run_sync()

    def teardown(self):
        """Every schedule ends resumed and synced: each one checks a sync at least once, and
        the edits made while paused reach both sides."""
        if hasattr(self, "sides"):
            self.paused = False
            self.run_sync()
            type(self).schedules += 1
            type(self).syncs += self.synced

    def run_sync(self):
        self.synced += 1
        before = {r: dict(self.base[r]) for r in RECORDS}
        results = {}
        for record in RECORDS:
            results[record] = self.merge(record)
            self.apply(record, results[record])
        self.check_nothing_lost(before, results)
        for record in RECORDS:  # a redelivered step finds nothing left to do
            again = self.merge(record)
            assert not again.writes, (record, again)
            assert not plan_conflicts(
                again, {f: v for (r, f), v in self.pending.items() if r == record}, {}, FIELDS
            ).create

    @rule()
    def sync_crashing_after_the_shop_writes(self):
        """The shop took its writes, the database rolled back; the redelivered sync must not
        write the shop again."""
        if self.paused:
            return
        self.synced += 1
        written, journal = {}, {}
        for record in RECORDS:
            journal[record] = self.merge(record)  # its conflicts are committed before the shop writes
            if journal[record].to_store:
                self.sides["store"][record].update(journal[record].to_store)
                written[record] = dict(journal[record].to_store)
        before = {r: dict(self.base[r]) for r in RECORDS}
        results = {}
        for record in RECORDS:
            results[record] = self.merge(record)
            for name, value in written.get(record, {}).items():
                assert results[record].to_store.get(name) != value, "a shop write was applied twice"
            self.apply(record, results[record])
        self.check_nothing_lost(before, results, journal)

    @precondition(lambda self: bool(self.pending))
    @rule(data=st.data())
    def resolve(self, data):
        record, name = data.draw(st.sampled_from(sorted(self.pending)))
        side = data.draw(st.sampled_from(["store", "platform"]))
        value = self.sides[side][record][name]
        for each in ("store", "platform"):
            self.sides[each][record][name] = value
        self.base[record][name] = value
        del self.pending[(record, name)]

    def check_nothing_lost(self, before, results, journal=None):
        for side, edits in self.edits.items():
            for (record, name), value in edits.items():
                if value == before[record].get(name):
                    continue  # edited back to the agreed value: nothing to carry
                reports = [results[record], *([journal[record]] if journal else [])]
                on_both = all(self.sides[s][record][name] == value for s in ("store", "platform"))
                conflict = (record, name) in self.pending or any(
                    c.field == name for report in reports for c in report.conflicts
                )
                # A one-way direction, or an ``always`` rule, decided against this side: reported.
                overwritten = any(name in report.overwritten for report in reports)
                assert on_both or conflict or overwritten, (side, record, name, value, reports)
        self.edits = {"store": {}, "platform": {}}

    @invariant()
    def sides_agree_unless_a_conflict_is_pending(self):
        if not hasattr(self, "sides") or self.edits["store"] or self.edits["platform"]:
            return  # edits since the last sync are allowed to differ
        for record in RECORDS:
            for name in FIELDS:
                if (record, name) not in self.pending:
                    assert self.sides["store"][record][name] == self.sides["platform"][record][name], (record, name)


def test_merge_core_schedules(hypothesis_report):
    """At least 500 random schedules of up to 25 steps (5000 nightly), each synced, in seconds."""
    wanted = 5 * hypothesis_settings.default.max_examples
    MergeModel.schedules = MergeModel.syncs = 0
    run_state_machine_as_test(
        MergeModel, settings=hypothesis_settings(max_examples=wanted, stateful_step_count=25, deadline=None)
    )
    hypothesis_report(
        f"merge model: {MergeModel.schedules} schedules, each synced at least once "
        f"({MergeModel.syncs} syncs by their rules, plus one final sync each)"
    )
    assert MergeModel.schedules >= wanted


# End to end: the engine, the shop simulator over HTTP and the database.

OPEN_LETTERS = (DeadLetterStatus.PENDING, DeadLetterStatus.REQUEUED)


def comparable(value):
    """Prices as numbers ("2.000000" and 2 are the same price), anything else as it is."""
    number = as_number(value)
    return value if number is None else number.normalize()


class WorkerLost(BaseException):
    """A worker dying mid-task: not an ``Exception``, so nothing in the task catches it."""


class EngineModel(RuleBasedStateMachine):
    """The same schedules through the real engine (fewer of them: each sync is real I/O), plus
    what only the engine has: refused shop writes, requeued dead letters, resolutions by hand
    and records created on either side or both."""

    store_factory = None  # set by the test: () -> (store, simulator handle)
    schedules = 0  # schedules run to the end, each with at least one checked sync
    events: Counter[str] = Counter()  # what the schedules exercised, reported by the test
    # A product created on both sides with the same sku ends as one record on each side.
    one_record_per_sku = False
    # The commit a worker dies before: a batch's ("batch"), or a create's link to its shop record ("link").
    crash_before = "batch"
    # Of the profile's examples, the share this machine runs: the narrow ones (one rule on top
    # of the base) need fewer schedules to cover their space, and CI's time is shared.
    share = 1.0

    @initialize(
        strategy=st.sampled_from(["last_write_wins", "store_priority", "platform_priority", "manual_resolution"])
    )
    def setup(self, strategy):
        self.store, self.sim = type(self).store_factory()
        self.shop = create_ecommerce_service(self.store)  # the shop's webservice, as a clerk or a reader uses it
        configure(self.store, products={"conflict_resolution": strategy, "fields": list(FIELDS)})
        job = services.run_sync_now(self.store, sync_type="full")
        assert job.status == "succeeded", job.message
        self.edits: dict[str, dict[tuple[int, str], str]] = {"store": {}, "platform": {}}
        self.owed: set[int] = set()  # platform pks of the records with an open dead letter
        self.pending: set[tuple[int, str]] = set()  # (platform pk, field) of the pending conflicts
        self.created: list[str] = []  # the skus of the records the schedule created (and not deleted)
        self.creates_made = 0  # every create so far: a new record's sku is PROP-<this number>
        # Shop ids of records deleted on one side and deactivated on the other: one side only, by design.
        self.gone: set[int] = set()

    def values(self):
        """Each side's records by shop id: the shop through its webservice, the platform from the database."""
        store = {
            r.id: {"title": r.name, "price": f"{r.price:.6f}", "sku": r.reference}
            for r in self.shop.iter_products()
            if r.id not in self.gone
        }
        products = Product.objects.filter(store=self.store, id_origin__isnull=False).exclude(id_origin__in=self.gone)
        platform = {
            p.id_origin: {"title": p.name, "price": f"{p.price:.6f}", "sku": p.sku, "pk": p.pk} for p in products
        }
        return store, platform

    def bases(self):
        return {state.shop_id: state.base for state in SyncRecordState.objects.filter(store=self.store)}

    def apply_edit(self, side, record, change):
        name, value = change
        attribute = "name" if name == "title" else name
        if side == "store":
            sim_post(self.sim, "mutate", {"products": [record], "fields": {attribute: value}})
        else:
            edit_platform(platform_product(self.store, record), **{attribute: value})
        self.edits[side][(record, name)] = value

    @rule(edits=st.lists(edit_steps, min_size=1, max_size=3))
    def edit(self, edits):
        for side, record, change in edits:
            self.apply_edit(side, record, change)

    @rule(edits=st.lists(edit_steps, min_size=1, max_size=3), full=st.booleans())
    def edit_then_sync(self, edits, full):
        self.edit(edits)
        self.sync(full)

    @rule(edits=st.lists(edit_steps, max_size=3))
    def paused_window(self, edits):
        """Paused: no sync is accepted; the edits made meanwhile wait for the resume."""
        services.pause_sync(self.store)
        with pytest.raises(SyncPaused):
            services.trigger_sync(self.store)
        for side, record, change in edits:
            self.apply_edit(side, record, change)
        services.resume_sync(self.store)

    @rule(full=st.booleans())
    def sync(self, full):
        bases = self.bases()
        job = services.run_sync_now(self.store, sync_type="full" if full else "incremental")
        self.check(job, bases)

    @rule(edits=st.lists(edit_steps, min_size=1, max_size=3), full=st.booleans(), crash_at=st.integers(1, 3))
    def sync_redelivered_after_a_crash(self, edits, full, crash_at):
        """The worker dies after a batch's shop writes, before its database commit (the
        ``crash_at``-th commit of sync states); the broker hands the same message out again.
        The redelivered task finishes the job, and writes no record to the shop twice."""
        self.edit(edits)
        bases = self.bases()
        job = services.trigger_sync(self.store, sync_type="full" if full else "incremental", send=False)
        sim_post(self.sim, "reset_stats")
        commits = iter(range(1, 100))

        def die_at_commit(execute, sql, params, many, context):
            statement = sql.lstrip()
            if (
                statement.startswith('INSERT INTO "storesync_syncrecordstate"')
                # a batch's commit (an upsert), or the link of a record created in the shop (one insert)
                and ("ON CONFLICT" in statement) == (self.crash_before == "batch")
                and next(commits) == crash_at
            ):
                raise WorkerLost()
            return execute(sql, params, many, context)

        def copy_or_die(table, columns, rows):
            # The states of a batch's created records are inserted with COPY (no SQL statement
            # for the wrapper above): the same commit point, counted with the upserts.
            if table == SyncRecordState._meta.db_table and self.crash_before == "batch" and next(commits) == crash_at:
                raise WorkerLost()
            return copy_rows(table, columns, rows)

        crashed = False
        # A batch per record, so that a crash can fall between any two.
        with (
            override_settings(STORESYNC_BATCH_SIZE=1),
            connection.execute_wrapper(die_at_commit),
            patch.object(bulk, "copy_rows", copy_or_die),
        ):
            try:
                StoreSyncRunner.execute(job.pk, "message-1")
            except WorkerLost:
                crashed = True
        job.refresh_from_db()
        if crashed:
            assert job.status == "running"
            type(self).events["workers dying before a commit"] += 1
            with override_settings(STORESYNC_BATCH_SIZE=1):
                StoreSyncRunner.execute(job.pk, "message-1")  # the same message, redelivered
            job.refresh_from_db()
            assert job.attempts == 2
        puts = [
            line.split("?")[0]
            for line in sim_stats(self.sim)["recent"]
            if line.startswith(("PUT /api/products/", "PATCH /api/products/"))
        ]
        assert len(puts) == len(set(puts)), puts  # no record written twice
        self.check(job, bases)
        self.check_replay()

    def check(self, job, bases, *, refused=False):
        """After a sync: every record is linked one to one; no change is owed after a sync the
        shop accepted; a created record arrived on the other side with its sku; and the checks
        of :meth:`check_records` on every record."""
        store, platform = self.values()
        unlinked = Product.objects.filter(store=self.store, id_origin__isnull=True)
        assert not unlinked.exists(), "a platform record never reached the shop"
        assert sorted(store) == sorted(platform), ("records not linked one to one", store, platform)
        self.owed = set(
            DeadLetter.objects.filter(store=self.store, status__in=OPEN_LETTERS).values_list("record_pk", flat=True)
        )
        if refused:
            assert job.status in ("succeeded", "partial"), (job.status, job.message, job.errors)
        else:
            assert job.status == "succeeded", (job.status, job.message, job.errors)
            assert not self.owed, ("a change owed to the shop was not settled by a sync it accepted", self.owed)
        for sku in self.created:
            linked = [sorted(i for i, values in side.items() if values["sku"] == sku) for side in (store, platform)]
            assert linked[0] and linked[0] == linked[1], ("a created record did not arrive with its sku", sku)
            if self.one_record_per_sku:
                assert len(linked[0]) == 1, ("a record created on both sides is two records", sku, linked)
        self.check_records(job, bases, store, platform, records={values["pk"] for values in platform.values()})

    def check_records(self, job, bases, store, platform, *, records):
        """For these platform records (pks): the sides agree unless a conflict is pending or the
        change is owed, and no edit made since their last sync is lost silently. The edits of
        other records, and of owed ones, wait for a later check."""
        pending = SyncConflict.objects.filter(store=self.store, status=ConflictStatus.PENDING)
        self.pending = set(pending.values_list("record_pk", "field"))
        touched = set(SyncConflict.objects.filter(store=self.store, job=job).values_list("record_pk", "field"))
        for shop_id, values in platform.items():
            if values["pk"] in records - self.owed:
                for name in FIELDS:
                    if (values["pk"], name) not in self.pending:
                        assert store[shop_id][name] == values[name], (shop_id, name, store, platform)
        waiting: dict[str, dict[tuple[int, str], str]] = {"store": {}, "platform": {}}
        for side, edits in self.edits.items():
            for (record, name), value in edits.items():
                pk = platform[record]["pk"]
                if pk not in records - self.owed:
                    waiting[side][(record, name)] = value
                    continue
                if value == bases.get(record, {}).get(name):
                    continue  # edited back to the agreed value: nothing to carry
                on_both = store[record][name] == value == platform[record][name]
                assert on_both or (pk, name) in touched | self.pending, (side, record, name, value)
        self.edits = waiting

    def check_replay(self):
        """A sync replayed with nothing changed since writes nothing."""
        writes = sim_stats(self.sim).get("product_write", 0)
        again = services.run_sync_now(self.store)
        assert again.counters.get("records_updated", 0) == 0
        assert sim_stats(self.sim).get("product_write", 0) == writes

    def teardown(self):
        """Every schedule ends with a checked sync (its edits since the last one must arrive)."""
        if getattr(self, "sim", None) is None:
            return
        try:
            if hasattr(self, "edits"):
                self.sync(full=False)
                self.check_replay()
                type(self).schedules += 1
        finally:
            if hasattr(self, "shop"):
                self.shop.close()
            self.sim.shutdown()


class OwedChanges:
    """Writes the shop refuses, owed until a sync or a requeue settles them."""

    @rule(record=st.sampled_from(RECORDS), change=field_values)
    def sync_refused_by_the_shop(self, record, change):
        """The shop refuses a write (HTTP 400: not retried, dead-lettered). Before the next sync
        the refused edit becomes older than the clock-skew window (its time moves back past it,
        as if that sync came later), so no watermark finds it again: only its dead letter does."""
        self.apply_edit("platform", record, change)
        sim_post(self.sim, "config", {"fail_next": {"status": 400, "method": "PATCH"}})
        bases = self.bases()
        job = services.run_sync_now(self.store)
        if sim_get(self.sim, "config")["fail_next"]:  # no write was due: the refusal goes unused
            httpx.patch(f"{self.sim.url}/api/products/{record}")  # takes the unused refusal
        self.check(job, bases, refused=True)
        type(self).events["refused writes owed"] += len(self.owed)
        Product.objects.filter(pk__in=self.owed).update(
            updated_at=F("updated_at") - timedelta(seconds=settings.STORESYNC_CLOCK_SKEW + 1)
        )

    @precondition(lambda self: bool(self.owed))
    @rule()
    def requeue(self):
        """An operator requeues the open dead letters; the job (of those records only) settles
        each of them: no letter is left open, and those records are checked as after a sync."""
        owed, bases = self.owed, self.bases()
        [job] = services.requeue_dead_letters(DeadLetter.objects.filter(store=self.store, status__in=OPEN_LETTERS))
        job.refresh_from_db()
        assert job.status == "succeeded", (job.status, job.message, job.errors)
        assert not DeadLetter.objects.filter(store=self.store, status__in=OPEN_LETTERS).exists()
        self.owed = set()
        self.check_records(job, bases, *self.values(), records=owed)
        type(self).events["requeues"] += 1


class StaleResolutions:
    """Resolutions chosen on values that one side has moved away from since."""

    @rule(
        record=st.sampled_from(RECORDS),
        change=st.sampled_from(FIELDS).flatmap(
            lambda name: st.tuples(st.just(name), st.permutations(VALUES[name]).map(lambda values: values[:2]))
        ),
    )
    def conflict_left_to_a_human(self, record, change):
        """Both sides change a field differently; a sync run with ``resolve_conflicts: false``
        records the conflict as pending, whatever the strategy."""
        name, (store_value, platform_value) = change
        self.apply_edit("store", record, (name, store_value))
        self.apply_edit("platform", record, (name, platform_value))
        bases = self.bases()
        self.check(services.run_sync_now(self.store, options={"resolve_conflicts": False}), bases)

    @precondition(lambda self: bool(self.pending))
    @rule(data=st.data(), side=st.sampled_from(["store", "platform"]), choice=st.sampled_from(["store", "platform"]))
    def resolve_after_a_later_edit(self, data, side, choice):
        """A side moves after a conflict was recorded, then an operator resolves the conflict as
        it was shown: the stale choice is refused (409 ``CONFLICT_STALE``), the later edit stays,
        and the conflict stays pending (the next sync raises it with the new value)."""
        conflicts = SyncConflict.objects.filter(store=self.store, status=ConflictStatus.PENDING).order_by("pk")
        conflict = data.draw(st.sampled_from(list(conflicts)), label="conflict")
        shown = {comparable(conflict.store_value), comparable(conflict.platform_value)}
        later = next(v for v in VALUES[conflict.field] if comparable(v) not in shown)
        self.apply_edit(side, conflict.shop_id, (conflict.field, later))
        try:
            resolve_conflict(conflict, resolution=f"use_{choice}_value")
        except DomainError as exc:
            assert exc.code == "CONFLICT_STALE", (exc.code, exc.message)
            type(self).events["stale resolutions refused"] += 1
        store, platform = self.values()
        moved = store if side == "store" else platform
        assert moved[conflict.shop_id][conflict.field] == later, "a stale resolution overwrote a later edit"
        conflict.refresh_from_db()
        assert conflict.status == ConflictStatus.PENDING, (conflict.status, conflict.resolution)


class Creates:
    """Records created in the shop, on the platform, or on both."""

    @rule(
        side=st.sampled_from(["store", "platform", "both"]),
        title=st.sampled_from(VALUES["title"]),
        prices=st.tuples(*[st.sampled_from(VALUES["price"])] * 2),
    )
    def create(self, side, title, prices):
        """A product created in the shop, on the platform, or on both (the same sku) before a sync."""
        # Numbered by every create so far: a record deleted under "deactivate" keeps its sku on
        # one side, and a later create must not take it (numbering by the records left did).
        self.creates_made += 1
        sku = f"PROP-{self.creates_made}"
        if side != "platform":
            self.shop.create_product({"title": title, "price": prices[0], "sku": sku})
        if side != "store":
            Product.objects.create(store=self.store, name=title, price=prices[1], sku=sku)
        self.created.append(sku)
        type(self).events[f"creates ({side})"] += 1


WRITE_METHODS = ("PUT ", "PATCH ", "POST ", "DELETE ")


class SafeSync:
    """Previews, undos and deletes (docs/sync-preview.md, sync-history.md, sync-deletes.md)."""

    def snapshot(self):
        """Everything a preview must leave as it is: both sides, bases, watermarks, conflicts, letters."""
        entities = SyncEntity.objects.filter(config__store=self.store).order_by("entity_type")
        return (
            self.values(),
            self.bases(),
            list(entities.values_list("store_watermark", "platform_watermark")),
            SyncConflict.objects.filter(store=self.store).count(),
            DeadLetter.objects.filter(store=self.store).count(),
        )

    @rule(edits=st.lists(edit_steps, max_size=3), full=st.booleans())
    def preview_writes_nothing(self, edits, full):
        """A preview reads and plans like the sync it previews, and writes nothing anywhere."""
        for side, record, change in edits:
            self.apply_edit(side, record, change)
        before = self.snapshot()
        sim_post(self.sim, "reset_stats")
        job = services.trigger_sync(
            self.store, sync_type="full" if full else "incremental", mode=JobMode.PREVIEW, send=False
        )
        job = services.run_inline(job)
        assert job.status == "succeeded", (job.status, job.message, job.errors)
        writes = [line for line in sim_stats(self.sim)["recent"] if line.startswith(WRITE_METHODS)]
        assert not writes, writes
        assert self.snapshot() == before, "a preview wrote"
        type(self).events["previews"] += 1

    @rule(edits=st.lists(edit_steps, min_size=1, max_size=3))
    def sync_then_undo(self, edits):
        """An undo right after a sync (nothing moved since) puts back every value the sync wrote;
        the edits it synced are then owed again and the next sync carries them once more."""
        self.edit(edits)
        edited = {side: dict(values) for side, values in self.edits.items()}
        bases = self.bases()
        before = self.values()
        job = services.run_sync_now(self.store)
        self.check(job, bases)
        undo = services.run_undo_now(job)
        assert undo.status == "succeeded", (undo.status, undo.message, undo.errors)
        assert undo.counters.get("moved_since", 0) == 0, undo.errors
        after = self.values()
        for change in SyncChange.objects.filter(job=job, action="update", field__in=FIELDS):
            side = 0 if change.side == "store" else 1
            if change.shop_id in before[side]:
                restored = comparable(after[side][change.shop_id][change.field])
                assert restored == comparable(before[side][change.shop_id][change.field]), change
        for side, values in edited.items():
            self.edits[side] = {**values, **self.edits[side]}
        type(self).events["undos"] += 1

    @precondition(lambda self: bool(self.created))
    @rule(data=st.data(), side=st.sampled_from(["store", "platform"]), policy=st.sampled_from(["deactivate", "delete"]))
    def delete_a_created_record(self, data, side, policy):
        """A record created by the schedule is deleted on one side; a full sync (its sweep, or
        the platform's tombstone) deactivates or deletes it on the other, as the policy says."""
        sku = data.draw(st.sampled_from(self.created), label="record")
        self.sync(full=False)  # linked first
        product = Product.objects.get(store=self.store, sku=sku)
        shop_id, pk = product.id_origin, product.pk
        SyncEntity.objects.filter(config__store=self.store, entity_type="products").update(delete_policy=policy)
        if side == "store":
            sim_post(self.sim, f"products/{shop_id}/delete")
        else:
            product.delete()
        self.created.remove(sku)
        if policy == "deactivate":
            self.gone.add(shop_id)  # one side keeps it, inactive
        job = services.run_sync_now(self.store, sync_type="full")
        assert job.status == "succeeded", (job.status, job.message, job.errors)
        if side == "store" and policy == "delete":
            assert not Product.objects.filter(pk=pk).exists()
        elif side == "store":
            assert Product.objects.get(pk=pk).status == "inactive"
        elif policy == "delete":
            assert httpx.get(f"{self.sim.url}/_sim/products/{shop_id}").status_code == 404
        else:
            assert sim_get(self.sim, f"products/{shop_id}")["active"] == "0"
        assert SyncChange.objects.filter(job=job, shop_id=shop_id).exists(), "a delete left no history"
        type(self).events[f"deletes ({side}, {policy})"] += 1


class Schedules(SafeSync, OwedChanges, StaleResolutions, Creates, EngineModel):
    """Every rule at once."""


class CrashesBeforeACreateIsLinked(EngineModel):
    crash_before = "link"
    share = 0.5

    @rule(title=st.sampled_from(VALUES["title"]), price=st.sampled_from(VALUES["price"]), full=st.booleans())
    def create_then_crash_before_its_link(self, title, price, full):
        Creates.create(self, "platform", title, (price, price))
        self.sync_redelivered_after_a_crash([], full, 1)


class CreatesMatchedBySku(EngineModel):
    one_record_per_sku = True
    share = 0.5

    @rule(title=st.sampled_from(VALUES["title"]), prices=st.tuples(*[st.sampled_from(VALUES["price"])] * 2))
    def create_on_both_sides(self, title, prices):
        Creates.create(self, "both", title, prices)


@pytest.mark.django_db(transaction=True)
def test_engine_schedules_against_the_simulator(make_store, settings, hypothesis_report):
    """At least 100 schedules (1000 nightly) of up to 10 steps, each committed for real."""
    run_engine_schedules(Schedules, make_store, settings, hypothesis_report)


@pytest.mark.django_db(transaction=True)
def test_a_product_created_on_both_sides_is_one_record(make_store, settings, hypothesis_report):
    run_engine_schedules(CreatesMatchedBySku, make_store, settings, hypothesis_report)


@pytest.mark.django_db(transaction=True)
def test_a_worker_dying_before_a_create_is_linked(make_store, settings, hypothesis_report):
    run_engine_schedules(CrashesBeforeACreateIsLinked, make_store, settings, hypothesis_report)


def run_engine_schedules(machine, make_store, settings, report):
    settings.STORESYNC_WRITE_CONCURRENCY = 1
    counter = iter(range(10_000))

    def factory():
        sim = run_in_thread(products=len(RECORDS), customers=0, orders=0)
        store = make_store(
            f"prop-{next(counter)}", platform="prestashop", platform_url=sim.url, platform_api_key=sim.api_key
        )
        return store, sim

    wanted = max(1, round(hypothesis_settings.default.max_examples * machine.share))
    machine.store_factory = staticmethod(factory)
    machine.schedules, machine.events = 0, Counter()
    run_state_machine_as_test(
        machine,
        # No shrinking: with real I/O it takes minutes; a failure prints its whole schedule.
        settings=hypothesis_settings(
            max_examples=wanted,
            stateful_step_count=10,
            deadline=None,
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
        ),
    )
    events = ", ".join(f"{count} {name}" for name, count in sorted(machine.events.items()))
    report(f"engine model ({machine.__name__}): {machine.schedules} schedules, each synced at least once; {events}")
    assert machine.schedules >= wanted
    assert machine.events["workers dying before a commit"] > 0  # the redelivery path was exercised
