"""The settings package: every setting assigned once, every scheduled task known to a worker."""

import ast
import importlib.util
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings


def settings_modules() -> list[Path]:
    """The source files of ``config.settings`` (a package of modules, or a single module)."""
    spec = importlib.util.find_spec("config.settings")
    if spec.submodule_search_locations:
        return sorted(path for location in spec.submodule_search_locations for path in Path(location).glob("*.py"))
    return [Path(spec.origin)]


def assigned_names(statements: list[ast.stmt]) -> Counter:
    """How many times each UPPER_CASE name is bound by ``statements`` (see the test below)."""
    counts = Counter()
    for statement in statements:
        if isinstance(statement, ast.Assign):
            targets = statement.targets
        elif isinstance(statement, ast.AnnAssign | ast.AugAssign):
            targets = [statement.target]
        elif isinstance(statement, ast.If):
            # Branches of one if/else are exclusive: a name bound once in each is bound once.
            counts += assigned_names(statement.body) | assigned_names(statement.orelse)
            continue
        elif isinstance(statement, ast.Try):
            for block in (statement.body, *(handler.body for handler in statement.handlers)):
                counts += assigned_names(block)
            counts += assigned_names(statement.orelse) + assigned_names(statement.finalbody)
            continue
        elif isinstance(statement, ast.With | ast.For | ast.While):
            counts += assigned_names(statement.body) + assigned_names(getattr(statement, "orelse", []))
            continue
        else:
            continue
        for target in targets:
            counts.update(name for name in bound_names(target) if name.isupper())
    return counts


def bound_names(target: ast.expr) -> list[str]:
    """Names an assignment target binds: ``X`` and ``X, Y`` do, ``X["key"]`` and ``X.attr`` do not."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Tuple | ast.List):
        return [name for element in target.elts for name in bound_names(element)]
    if isinstance(target, ast.Starred):
        return bound_names(target.value)
    return []


def test_no_setting_is_assigned_twice():
    """A setting is bound by one statement only, across all the modules of the settings package.

    The rule: every module-level statement that binds an UPPER_CASE name (``X = ...``,
    ``X: T = ...``, ``X += ...``, also inside module-level ``if``/``try``/``with`` blocks)
    counts once. The one exception: the branches of a single ``if``/``elif``/``else`` are
    exclusive, so a name bound once in each branch (``CACHES`` per runtime mode) counts once.
    Importing a name from another settings module (``from config.settings.base import DEBUG``)
    binds nothing new, and mutating a value (``DATABASES["default"][...] = ...``) is not a
    binding. A second binding silently wins over the first (as ``CELERY_IMPORTS`` once dropped
    the stale-job reaper), so there must be none.
    """
    counts = Counter()
    where: dict[str, list[str]] = {}
    for path in settings_modules():
        module_counts = assigned_names(ast.parse(path.read_text(), filename=str(path)).body)
        counts += module_counts
        for name, count in module_counts.items():
            where.setdefault(name, []).extend([path.name] * count)
    assert counts, "no settings found"
    twice = {name: where[name] for name, count in counts.items() if count > 1}
    assert not twice, f"settings assigned more than once: {twice}"


def scheduled_task_names() -> set[str]:
    """Tasks named by the beat schedule: the data migrations' rows and CELERY_BEAT_SCHEDULE."""
    from django_celery_beat.models import PeriodicTask

    names = set(PeriodicTask.objects.values_list("task", flat=True))
    names.update(entry["task"] for entry in getattr(settings, "CELERY_BEAT_SCHEDULE", {}).values())
    return names


@pytest.mark.worker
@pytest.mark.django_db  # not transactional: runs before any flush wipes the migrations' rows
def test_every_scheduled_task_is_registered_on_a_worker(hub_worker_process):
    """A real worker (autodiscovered tasks plus CELERY_IMPORTS) knows every task beat sends."""
    from config.celery import app as celery_app

    scheduled = scheduled_task_names()
    assert scheduled, "no periodic task: the data migrations' rows were flushed by an earlier test"
    replies = celery_app.control.inspect(destination=[hub_worker_process.name], timeout=10).registered()
    assert replies and hub_worker_process.name in replies, f"no answer from {hub_worker_process.name}"
    missing = scheduled - set(replies[hub_worker_process.name])
    assert not missing, f"scheduled tasks no worker registers: {sorted(missing)}"
