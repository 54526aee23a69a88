"""Photosync: image sync from the shops, renditions, and the edge agent (edge mode, HO_URL in base)."""

from config.settings.base import VAR_DIR, env
from config.settings.catalog import PLATFORM_MAX_IMAGE_BYTES
from config.settings.operations import JOB_WAIT_TIMEOUT

# --- Image sync ---
# Products per Celery chunk (several workers share a big store) and downloads at once per chunk.
IMAGE_SYNC_CHUNK_SIZE = env.int("IMAGE_SYNC_CHUNK_SIZE", default=200)
IMAGE_SYNC_CONCURRENCY = env.int("IMAGE_SYNC_CONCURRENCY", default=8)
# How long POST /sync/sync-images waits for its run before answering 202 with the run's URL (s).
IMAGE_SYNC_WAIT_TIMEOUT = env.float("IMAGE_SYNC_WAIT_TIMEOUT", default=JOB_WAIT_TIMEOUT)
# A chunk whose worker stopped renewing its claim for this long is taken over by another worker (s).
IMAGE_SYNC_CHUNK_LEASE = env.int("IMAGE_SYNC_CHUNK_LEASE", default=120)
# Per-product errors returned in the endpoint's answer (the run keeps the first 500).
IMAGE_SYNC_RESPONSE_ERRORS = env.int("IMAGE_SYNC_RESPONSE_ERRORS", default=50)
# Safe images: byte cap per download, pixel cap (Pillow's decompression-bomb limit).
IMAGE_MAX_BYTES = env.int("IMAGE_MAX_BYTES", default=PLATFORM_MAX_IMAGE_BYTES)
IMAGE_MAX_PIXELS = env.int("IMAGE_MAX_PIXELS", default=40_000_000)
# Memory bound (bytes) of decoding one image (pixels x bytes per pixel, after JPEG's reduced
# decoding), and images decoded at once per worker process: image memory <= their product.
IMAGE_MAX_DECODED_BYTES = env.int("IMAGE_MAX_DECODED_BYTES", default=100_000_000)
IMAGE_DECODE_CONCURRENCY = env.int("IMAGE_DECODE_CONCURRENCY", default=2)
# Cache warm-up: WebP renditions stored beside each original (longest side, pixels; never upscaled).
IMAGE_RENDITIONS = {
    "thumb": env.int("IMAGE_THUMB_SIZE", default=200),
    "medium": env.int("IMAGE_MEDIUM_SIZE", default=800),
}
IMAGE_WEBP_QUALITY = env.int("IMAGE_WEBP_QUALITY", default=80)

# --- Edge mode ---
HO_USERNAME = env.str("HO_USERNAME", default="")
HO_PASSWORD = env.str("HO_PASSWORD", default="")
HO_STORE_ID = env.str("HO_STORE_ID", default="")
# Where the edge agent keeps its copies of the photos (a local file system: writes are atomic renames).
EDGE_PHOTO_ROOT = env.str("EDGE_PHOTO_ROOT", default=str(VAR_DIR / "edge-photos"))
EDGE_SYNC_CONCURRENCY = env.int("EDGE_SYNC_CONCURRENCY", default=5)  # downloads at once (spec: at most 5)
EDGE_SYNC_PAGE_SIZE = env.int("EDGE_SYNC_PAGE_SIZE", default=100)
EDGE_REPORT_BATCH = env.int("EDGE_REPORT_BATCH", default=100)
EDGE_HTTP_TIMEOUT = env.float("EDGE_HTTP_TIMEOUT", default=30.0)
EDGE_HTTP_RETRIES = env.int("EDGE_HTTP_RETRIES", default=4)  # retries of a transient HO error, with backoff
EDGE_RETRY_BACKOFF = env.float("EDGE_RETRY_BACKOFF", default=1.0)  # seconds, doubled per retry, with jitter
# Head office: a photo download (or byte range) up to this many bytes is answered in one piece
# from one read; a larger one is streamed in 64 KB chunks, never whole in memory.
PHOTO_DOWNLOAD_INLINE_MAX = env.int("PHOTO_DOWNLOAD_INLINE_MAX", default=64 * 1024)
# Head office: server_time lags the clock by this much, so a change committed late is listed again.
PHOTO_SYNC_WATERMARK_LAG = env.float("PHOTO_SYNC_WATERMARK_LAG", default=5.0)
