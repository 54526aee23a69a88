"""The NAS sync of pending documents every 15 minutes, as a django-celery-beat periodic task.

``get_or_create``: an operator's edits in the admin (interval, enabled) survive later migrations.
"""

from django.db import migrations

TASK_NAME = "NAS sync of pending documents"


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_15_minutes, _ = IntervalSchedule.objects.get_or_create(every=15, period="minutes")
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "nasync.tasks.scheduled_nas_sync",
            "interval": every_15_minutes,
            "description": "Pushes the documents that are due (pending, or failed and past their backoff) to the NAS.",
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("nasync", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, migrations.RunPython.noop)]
