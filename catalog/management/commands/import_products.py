from django.core.management.base import BaseCommand, CommandError

from catalog.management.commands._store import store_from_option
from catalog.platforms import PlatformError
from catalog.services import import_products_now
from config.jobs import JobAlreadyRunning, JobStatus


class Command(BaseCommand):
    help = "Import (upsert by id_origin) a store's products from its shop."

    def add_arguments(self, parser):
        parser.add_argument("--store", required=True, help="Store id, UUID or code.")

    def handle(self, *args, store, **options):
        target = store_from_option(store)
        try:
            job = import_products_now(target)
        except JobAlreadyRunning as exc:
            raise CommandError(f"An import is already running for this store ({exc.job.pk}).") from None
        except PlatformError as exc:
            raise CommandError(str(exc)) from None
        summary = (
            f"{target.code}: {job.items_processed} products "
            f"({job.counters.get('created', 0)} created, {job.counters.get('updated', 0)} updated), {job.status}"
        )
        if job.status != JobStatus.SUCCEEDED:
            raise CommandError(f"{summary}: {job.message}")
        self.stdout.write(self.style.SUCCESS(summary))
