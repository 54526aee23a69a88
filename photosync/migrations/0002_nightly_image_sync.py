"""The nightly image sync of every active store, as a django-celery-beat periodic task.

``get_or_create``: an operator's edits in the admin (time, enabled) survive later migrations.
"""

from django.db import migrations

TASK_NAME = "Nightly product image sync (every active store)"


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    nightly, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour="2", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "photosync.nightly_image_sync",
            "crontab": nightly,
            "description": "Queues an image sync (POST /api/v1/sync/sync-images) for every active store.",
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("photosync", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, migrations.RunPython.noop)]
