"""Dashboard panel of the runtime: the mode the hub runs in and whether a beat scheduler is alive."""

from django_celery_beat.models import PeriodicTask

from config import dashboard
from config.runtime import runtime_status

MODES = {
    "embedded": "embedded (one process: SQLite, tasks run in-process)",
    "production": "production (Celery workers and beat)",
    "edge": "edge",
}


def runtime_rows():
    status = runtime_status()
    scheduler = status["scheduler"]
    last = scheduler["last_tick"]
    when = f"last tick {last:%Y-%m-%d %H:%M:%S} UTC" if last else "no tick recorded"
    if scheduler["alive"]:
        cell = dashboard.Cell("alive", tone=dashboard.OK, note=when)
    else:
        hint = "make run starts one" if status["mode"] != "production" else "is `celery beat` running?"
        cell = dashboard.Cell("not running", tone=dashboard.BAD, note=f"{when}; {hint}")
    return [
        ("Mode", dashboard.Cell(MODES.get(status["mode"], status["mode"]))),
        (
            "Scheduler",
            dashboard.Cell(cell.text, url=dashboard.changelist_url(PeriodicTask), tone=cell.tone, note=cell.note),
        ),
    ]


dashboard.register_panel(
    "runtime",
    "Runtime",
    runtime_rows,
    order=0,
    links=(("Periodic tasks", "admin:django_celery_beat_periodictask_changelist"),),
)
