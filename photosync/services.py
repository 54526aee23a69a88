"""The product photos' entry points for code outside the app (catalog's admin action and
demo command, the benchmarks, other apps' tests). Inside the app, import the wings:
:mod:`photosync.imagesync`, :mod:`photosync.distribution`, :mod:`photosync.edge`."""

from photosync.imagesync.reporting import completion_message, run_failure, run_summary
from photosync.imagesync.runner import check_store, start_image_sync, sync_active_stores, sync_images_now

__all__ = [
    "check_store",
    "completion_message",
    "run_failure",
    "run_summary",
    "start_image_sync",
    "sync_active_stores",
    "sync_images_now",
]
