from django.core.management.base import BaseCommand

from operations.retention import prune, prune_preview


class Command(BaseCommand):
    help = "Delete finished jobs, history and other records older than RETENTION_DAYS."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Only count what would be deleted.")

    def handle(self, *args, dry_run: bool, **options):
        counts = prune_preview() if dry_run else prune()
        verb = "would delete" if dry_run else "deleted"
        for label, count in counts.items():
            self.stdout.write(f"{label}: {verb} {count}")
        self.stdout.write(self.style.SUCCESS(f"{verb} {sum(counts.values())} rows in all"))
