"""What a run says about itself: the summary the endpoint and the command show, the
run's final message, and why a failed run failed. Read by the chunks (the last one
finishes the run), the runner, the views and the command; imports no other wing module."""

from __future__ import annotations

from collections import Counter

from django.conf import settings

from config.error_codes import ErrorCode
from photosync.models import ImageSyncRun


def run_summary(run: ImageSyncRun) -> dict:
    """The figures the endpoint answers with (the image sync API's, plus the counters)."""
    counters = Counter(run.counters or {})
    return {
        "id_store": run.store_id,
        "products_processed": run.items_processed,
        "downloaded": counters["downloaded"],
        "unchanged": counters["unchanged"],
        "fallback": counters["fallback"],
        "failed": counters["failed"],
        "errors": list(run.errors[: settings.IMAGE_SYNC_RESPONSE_ERRORS]),
    }


def completion_message(run: ImageSyncRun) -> str:
    if run.items_failed and run.items_failed == run.items_processed:
        return f"Image sync failed for all {run.items_processed} products."
    return f"Image sync completed for {run.items_processed} products."


def run_failure(run: ImageSyncRun) -> dict:
    """Why a failed run failed, as ``{"code", "http_status", "message"}`` for the API."""
    error = (run.result or {}).get("error")
    if error:
        return error
    codes = Counter(item.get("code") for item in run.errors if item.get("code"))
    if codes:
        return {"code": codes.most_common(1)[0][0], "http_status": 502, "message": run.message}
    return {
        "code": str(ErrorCode.INTERNAL_ERROR),
        "http_status": 500,
        "message": run.message or "The image sync failed.",
    }
