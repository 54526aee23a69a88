from django.db import migrations

TASKS = {
    "storesync.tasks.dispatch_webhooks": "Store sync: attempt the webhook deliveries that are due",
    "storesync.tasks.evaluate_alerts": "Store sync: evaluate the alert rules",
}
# The spec's alert conditions (key: name, threshold, window in minutes); see storesync/alerts.py.
RULES = {
    "sync_failure_rate": ("Sync failure rate above threshold (%)", 5.0, 24 * 60),
    "conflicts_per_hour": ("Conflicts per hour above threshold", 10.0, 60),
    "sync_duration": ("Sync duration above threshold (s)", 30.0, 60),
    "data_drift": ("Data drift above threshold (%)", 1.0, 0),
    "webhook_failures": ("Consecutive webhook failures above threshold", 3.0, 0),
}


def create(apps, schema_editor):
    AlertRule = apps.get_model("storesync", "AlertRule")
    for key, (name, threshold, window) in RULES.items():
        AlertRule.objects.get_or_create(key=key, defaults={"name": name, "threshold": threshold,
                                                           "window_minutes": window})
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    for task, name in TASKS.items():
        PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "interval": every_minute})


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task__in=list(TASKS)).delete()
    apps.get_model("storesync", "AlertRule").objects.filter(key__in=list(RULES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("storesync", "0003_webhooks_alerts"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
