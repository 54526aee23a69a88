import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from config.jobs import JobAlreadyRunning
from photosync.edge.client import HOError
from photosync.edge.service import edge_sync_now


class Command(BaseCommand):
    help = (
        "Edge mode: pull this store's product photos from head office (HO_URL, HO_USERNAME, HO_PASSWORD, "
        "HO_STORE_ID). Incremental from the last complete pass unless --full. Exits non-zero when anything failed."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--full",
            action="store_true",
            help="List every photo (not only those changed since the watermark) and remove "
            "local photos head office no longer has.",
        )

    def handle(self, *args, full, **options):
        bar = tqdm(total=0, unit="photo", desc="edge sync", disable=not sys.stderr.isatty())

        def progress(done: int, total: int) -> None:
            bar.total = max(total, done)
            bar.n = done
            bar.refresh()

        try:
            run, summary = edge_sync_now(full=full, progress=progress)
        except JobAlreadyRunning as exc:
            raise CommandError(f"An edge sync pass is already running ({exc.job.pk}).") from None
        except HOError as exc:
            raise CommandError(str(exc)) from None
        finally:
            bar.close()
        if not summary.ok:
            first = "; ".join(f"{e['photo_id']}: {e['message']}" for e in summary.errors[:3])
            raise CommandError(summary.line() + (f" ({first})" if first else ""))
        self.stdout.write(self.style.SUCCESS(summary.line()))
