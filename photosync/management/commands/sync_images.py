import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from catalog.management.commands._store import store_from_option
from catalog.platforms import PlatformError
from config.jobs import JobAlreadyRunning, JobStatus, job_changed
from photosync.imagesync.reporting import run_summary
from photosync.imagesync.runner import sync_images_now
from photosync.models import ImageSyncRun


class Command(BaseCommand):
    help = "Sync a store's product images from its shop, in this process (progress bar on a terminal)."

    def add_arguments(self, parser):
        parser.add_argument("--store", required=True, help="Store id, UUID or code.")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Ask the shop about every image, even for products unchanged since the last sync.",
        )

    def handle(self, *args, store, force, **options):
        target = store_from_option(store)
        bar = tqdm(total=0, unit="product", desc=f"images of {target.code}", disable=not sys.stderr.isatty())

        def on_progress(sender, job, **kwargs):
            if sender is ImageSyncRun and job.store_id == target.pk:
                bar.total = job.items_total
                bar.n = job.items_processed
                bar.refresh()

        job_changed.connect(on_progress, weak=False)
        try:
            run = sync_images_now(target, force=force)
        except JobAlreadyRunning as exc:
            raise CommandError(f"An image sync is already running for this store ({exc.job.pk}).") from None
        except PlatformError as exc:
            raise CommandError(str(exc)) from None
        finally:
            job_changed.disconnect(on_progress)
            bar.close()
        figures = run_summary(run)
        summary = (
            f"{target.code}: {figures['products_processed']} products ({figures['downloaded']} downloaded, "
            f"{figures['unchanged']} unchanged, {figures['fallback']} fallback, {figures['failed']} failed), "
            f"{run.status} in {run.duration or 0:.1f}s"
        )
        if run.status != JobStatus.SUCCEEDED:
            first = "; ".join(f"product {e['id_origin']}: {e['message']}" for e in figures["errors"][:3])
            raise CommandError(f"{summary}: {run.message}" + (f" ({first})" if first else ""))
        self.stdout.write(self.style.SUCCESS(summary))
