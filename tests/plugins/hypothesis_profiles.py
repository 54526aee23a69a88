"""The suite's Hypothesis profiles, chosen by the environment (docs/store-sync.md, "Tests"):

* ``dev``, the default: random examples, failures kept in ``.hypothesis/`` and replayed first;
* ``ci``, when ``CI`` is set (``.ci/run`` sets it): new examples on every run from a seed that
  the run prints; ``pytest --hypothesis-seed=<seed>`` replays them;
* ``nightly`` (``HYPOTHESIS_PROFILE=nightly``): ten times the examples, seeded the same way.

``HYPOTHESIS_PROFILE`` names any of them explicitly. Health checks stay on in every profile.
Tests that size their runs read ``hypothesis.settings.default.max_examples``.

Lines a test hands to the ``hypothesis_report`` fixture (how many schedules it ran...) are
printed after the run with the profile and the seed, also under ``-q``.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable

import pytest
from hypothesis import settings

settings.register_profile("dev", max_examples=100, print_blob=True)
settings.register_profile("ci", max_examples=100, derandomize=False, deadline=None, database=None, print_blob=True)
settings.register_profile("nightly", settings.get_profile("ci"), max_examples=1000)
SEEDED = ("ci", "nightly")


def profile_from_environment() -> str:
    explicit = os.environ.get("HYPOTHESIS_PROFILE")
    if explicit:
        return explicit
    return "ci" if os.environ.get("CI", "").lower() not in ("", "0", "false") else "dev"


settings.load_profile(profile_from_environment())
_report_lines = pytest.StashKey[list[str]]()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """A fresh seed for the seeded profiles, set before Hypothesis's own plugin reads the option."""
    config.stash[_report_lines] = []
    profile = config.getoption("hypothesis_profile") or settings.get_current_profile_name()
    if profile in SEEDED and config.getoption("hypothesis_seed") is None:
        config.option.hypothesis_seed = str(random.SystemRandom().randrange(2**32))


def _summary(config: pytest.Config) -> str:
    seed = config.getoption("hypothesis_seed")
    replay = f", seed {seed} (replay: --hypothesis-seed={seed})" if seed is not None else ""
    return f"hypothesis profile {settings.get_current_profile_name()!r}{replay}"


def pytest_report_header(config: pytest.Config) -> str:
    return _summary(config)


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    lines = config.stash.get(_report_lines, [])
    if lines:
        terminalreporter.section("Hypothesis")
        for line in [_summary(config), *lines]:
            terminalreporter.write_line(line)


@pytest.fixture
def hypothesis_report(pytestconfig: pytest.Config) -> Callable[[str], None]:
    """``hypothesis_report("merge model: 512 schedules...")``: printed in the run's summary."""
    return pytestconfig.stash[_report_lines].append
