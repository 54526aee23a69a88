import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from catalog.models import Platform, Store
from catalog.services import import_products_now
from config.jobs import JobStatus
from nasync.config import load_config
from operations.demo.documents import ensure_demo_documents
from operations.demo.edge import run_demo_pass
from operations.demo.storesync import run_demo
from photosync.imagesync.reporting import run_summary
from photosync.imagesync.runner import sync_images_now
from shopsim import DEMO_API_KEY

DEMO_STORE_CODE = "demo"


class Command(BaseCommand):
    help = "Create the demo: an admin user and a store on the bundled shop simulator, then import its products."

    def add_arguments(self, parser):
        parser.add_argument("--shop-url", default="http://127.0.0.1:8090")
        parser.add_argument("--hub-url", default=None, help="Where the hub will be served (default: PUBLIC_BASE_URL).")
        parser.add_argument("--api-key", default=None, help="The simulator's key (default: its demo key).")
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", default=None, help="Default: a new random password, printed.")

    def handle(self, *args, shop_url, hub_url, api_key, username, password, **options):
        hub_url = hub_url or settings.PUBLIC_BASE_URL

        password = password or secrets.token_urlsafe(12)
        user, _ = get_user_model().objects.get_or_create(username=username)
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()

        store, _ = Store.objects.update_or_create(
            code=DEMO_STORE_CODE,
            defaults={
                "name": "Demo store",
                "platform": Platform.PRESTASHOP,
                "platform_url": shop_url,
                "platform_api_key": api_key or DEMO_API_KEY,
                "is_active": True,
            },
        )
        store.full_clean()
        job = import_products_now(store)
        if job.status != JobStatus.SUCCEEDED:
            raise CommandError(f"Importing the demo products failed: {job.message}")

        images = sync_images_now(store)
        if images.status != JobStatus.SUCCEEDED:
            raise CommandError(f"Syncing the demo product images failed: {images.message}")

        self.stdout.write(self.style.SUCCESS(f"Demo store '{store.code}' (id {store.pk}, uuid {store.uuid})"))
        self.stdout.write(f"  products imported: {job.items_processed} from {shop_url}")
        figures = run_summary(images)
        self.stdout.write(
            f"  product images: {figures['downloaded']} downloaded, {figures['fallback']} fallback, "
            f"{figures['unchanged']} unchanged"
        )

        edge = run_demo_pass(store)
        self.stdout.write(
            f"  head office -> edge: {edge.summary.line()}; edge coverage "
            f"{edge.coverage.synced}/{edge.coverage.photos} confirmed ({edge.root})"
        )

        nas = load_config()
        state = f"configured ({nas.user}@{nas.host}:{nas.path})" if nas.problem() is None else nas.problem().english()
        self.stdout.write(f"  NAS documents: {ensure_demo_documents()} demo invoices; NAS {state}")

        sync, conflicts = run_demo(store, shop_url)
        results = sync.entity_results["products"]
        self.stdout.write(
            f"  store sync: {results['records_updated']} products updated across the shop and the catalogue, "
            f"{len(conflicts)} conflict(s) pending: {hub_url}/admin/storesync/syncconflict/"
        )
        self.stdout.write(self.style.SUCCESS(f"Admin console: {hub_url}/admin/"))
        self.stdout.write(f"  username: {username}")
        self.stdout.write(f"  password: {password}")
        self.stdout.write(f"API docs:      {hub_url}/api/docs/")
