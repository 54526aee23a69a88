"""`make prod-smoke` as a test: production mode as separate processes, end to end."""

import subprocess
import sys
from pathlib import Path

from tests.plugins.services import require_postgres, require_redis

ROOT = Path(__file__).resolve().parents[2]


def test_production_mode_runs_end_to_end_and_stops_cleanly(db):
    require_postgres()
    require_redis()
    result = subprocess.run(
        [sys.executable, "ops/prod_smoke.py"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "prod-smoke passed" in result.stdout
