"""The photo distribution API: the photo list, the binary download and the status report of the edges."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from catalog.access import get_visible_store, store_lookup, visible_stores
from catalog.api.permissions import LettersRequired
from catalog.api.store_refs import store_ref_parameter
from config.api import params
from config.api.schema import error_response
from config.api.throttling import AnonThrottle, SettingsRateMixin
from config.error_codes import ErrorCode
from config.errors import DomainError
from photosync.distribution import feed, reports, selectors
from photosync.distribution import serializers as schema
from photosync.imagesync import storage
from photosync.models import ProductPhoto

logger = logging.getLogger(__name__)

DEFAULT_LIMIT = 100
RENDITIONS = ("thumb", "medium")


def _store(request):
    return get_visible_store(request.user, request.query_params.get("store_id"), param="store_id")


STORE_ID = store_ref_parameter(
    "store_id", required=True, description="The store's UUID (its integer id is accepted too)."
)


class PhotoListView(APIView):
    """GET /sync/product-photos/: a store's photos for its edge."""

    permission_classes = [LettersRequired("photosync.ProductPhoto", "R")]

    @extend_schema(
        operation_id="sync_product_photos_list",
        summary="List a store's product photos (full or incremental)",
        description=(
            "Ordered by updated_at then id. With `since`, photos deleted since then come back as tombstones "
            "(`deleted: true`). Pass `server_time` as the next `since`; page with `offset` (the spec's) or "
            "`cursor=next_cursor` (keyset, stable while photos change)."
        ),
        parameters=[
            STORE_ID,
            OpenApiParameter(
                "since",
                OpenApiTypes.DATETIME,
                OpenApiParameter.QUERY,
                description="ISO 8601: only photos changed or deleted since then.",
            ),
            OpenApiParameter("limit", OpenApiTypes.INT, OpenApiParameter.QUERY, description="1 to 1000, default 100."),
            OpenApiParameter("offset", OpenApiTypes.INT, OpenApiParameter.QUERY, description="Default 0."),
            OpenApiParameter(
                "cursor",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                description="next_cursor of the previous page (instead of offset).",
            ),
        ],
        responses={
            200: schema.PhotoListResponseSerializer,
            400: error_response("store_id is required; malformed since, limit, offset or cursor."),
            404: error_response("Store not found (or not one of the caller's stores)."),
        },
    )
    def get(self, request):
        query = request.query_params
        store = _store(request)
        since = params.timestamp(query, "since")
        limit = params.bounded_int(query, "limit", default=DEFAULT_LIMIT, low=1, high=feed.MAX_LIMIT)
        offset = params.bounded_int(query, "offset", default=0, low=0)
        cursor = query.get("cursor") or None
        if cursor and offset:
            raise params.invalid("pass either cursor or offset, not both")
        page = feed.list_photos(store, since=since, limit=limit, offset=offset, cursor=cursor)
        url_for = storage.object_url_maker(request)
        data = {
            "photos": [schema.photo_item(photo, url_for) for photo in page.photos],
            "total": page.total,
            "has_more": page.has_more,
            "next_offset": page.next_offset,
            "next_cursor": page.next_cursor,
            "server_time": page.server_time.isoformat().replace("+00:00", "Z"),
        }
        return Response({"status": "success", "data": data})


class JsonErrorsNegotiation(BaseContentNegotiation):
    """The download answers bytes; its errors are JSON whatever the client accepts."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """(start, end) of a single ``bytes=`` range; None to answer the whole object. An
    unsatisfiable range raises 416."""
    match = RANGE.match(header.strip().replace(" ", ""))
    if not match or (not match[1] and not match[2]):
        return None  # several ranges or another unit: answering 200 with everything is allowed
    if not match[1]:
        length = int(match[2])
        if length == 0:
            raise DomainError(ErrorCode.VALIDATION_ERROR, 416, "Range not satisfiable", {"size": size})
        return max(0, size - length), size - 1
    start = int(match[1])
    end = min(int(match[2]), size - 1) if match[2] else size - 1
    if start >= size or start > end:
        raise DomainError(ErrorCode.VALIDATION_ERROR, 416, "Range not satisfiable", {"size": size})
    return start, end


def _etag_matches(header: str, etag: str) -> bool:
    tags = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    return "*" in tags or etag in tags


class PhotoDownloadThrottle(SettingsRateMixin, UserRateThrottle):
    """Downloads have their own budget per user (THROTTLE_PHOTO_DOWNLOAD)."""

    scope = "photo_download"


class PhotoDownloadView(APIView):
    """GET /sync/product-photos/<photo_id>/download/: the photo's bytes, in one piece up to
    ``PHOTO_DOWNLOAD_INLINE_MAX`` bytes (most photos), streamed beyond."""

    permission_classes = [LettersRequired("photosync.ProductPhoto", "R")]
    throttle_classes = [AnonThrottle, PhotoDownloadThrottle]
    content_negotiation_class = JsonErrorsNegotiation

    @extend_schema(
        operation_id="sync_product_photos_download",
        summary="Download a photo's bytes (or a rendition)",
        description=(
            "Streams the original with X-Checksum (MD5) and X-Version. ETag is the checksum: If-None-Match "
            "answers 304. A single `Range: bytes=` answers 206 (resume an interrupted download; If-Range "
            "honoured). `rendition=thumb|medium` answers that WebP rendition (ETag `<checksum>-<rendition>`)."
        ),
        parameters=[
            OpenApiParameter("photo_id", OpenApiTypes.UUID, OpenApiParameter.PATH),
            STORE_ID,
            OpenApiParameter("rendition", OpenApiTypes.STR, OpenApiParameter.QUERY, enum=list(RENDITIONS)),
        ],
        responses={
            (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="The bytes."),
            (206, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="A byte range."),
            304: OpenApiResponse(description="If-None-Match matched the ETag."),
            400: error_response("store_id is required; unknown rendition."),
            404: error_response("Store not found; photo not found (another store's, deleted, or a malformed id)."),
            416: error_response("Range not satisfiable."),
        },
    )
    def get(self, request, photo_id: str):
        rendition = request.query_params.get("rendition") or None
        photo = _requested_photo(request, photo_id, rendition)
        if rendition:
            info = photo.renditions.get(rendition) or {}
            if not info.get("key"):
                raise DomainError(ErrorCode.NOT_FOUND, 404, "Rendition not found")
            key, size, content_type = info["key"], int(info.get("size") or 0), "image/webp"
            size = size or storage.default_storage.size(key)
            etag, filename = f'"{photo.checksum}-{rendition}"', _rendition_name(photo.filename, rendition)
        else:
            key, size, content_type = photo.object_key, photo.size, photo.content_type
            etag, filename = f'"{photo.checksum}"', photo.filename
        headers = {
            "ETag": etag,
            "X-Version": str(photo.version),
            "Accept-Ranges": "bytes",
            "Cache-Control": "private, max-age=0",
        }
        if not rendition:
            headers["X-Checksum"] = photo.checksum
        if _etag_matches(request.headers.get("If-None-Match", ""), etag):
            return HttpResponse(status=304, headers=headers)
        byte_range = None
        if "Range" in request.headers and _if_range_holds(request.headers.get("If-Range"), etag):
            byte_range = _byte_range(request.headers["Range"], size)
        start, end = byte_range or (0, size - 1)
        inline = end - start + 1 <= settings.PHOTO_DOWNLOAD_INLINE_MAX
        try:
            if inline:  # no streamed response: under ASGI each chunk would be a hop to a thread
                content = storage.read_object(key, start, end if byte_range else None)
            else:
                chunks = storage.stream_object(key, start, end if byte_range else None)
        except Exception as exc:  # the spec's 500: storage unreachable or the object missing
            logger.exception("could not open %s for download", key)
            raise DomainError(
                ErrorCode.INTERNAL_ERROR,
                500,
                "Internal server error",
                f"Failed to download image: {type(exc).__name__}",
            ) from None
        status = 206 if byte_range else 200
        if inline:
            response = HttpResponse(content, status=status, content_type=content_type, headers=headers)
            response["Content-Length"] = str(len(content))
        else:
            response = StreamingHttpResponse(
                _streamed(request, chunks), status=status, content_type=content_type, headers=headers
            )
            response["Content-Length"] = str(end - start + 1)
        response["Content-Disposition"] = f'attachment; filename="{_quoted(filename)}"'
        if byte_range:
            response["Content-Range"] = f"bytes {start}-{end}/{size}"
        return response


def _streamed(request, chunks: Iterator[bytes]):
    """Under ASGI an async iterator (Django would otherwise read a sync one whole into memory)."""
    if isinstance(request._request, ASGIRequest):
        return _async_chunks(chunks)
    return chunks


async def _async_chunks(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    pull = sync_to_async(next, thread_sensitive=False)
    try:
        while (chunk := await pull(chunks, None)) is not None:
            yield chunk
    finally:
        await sync_to_async(chunks.close, thread_sensitive=False)()


def _if_range_holds(header: str | None, etag: str) -> bool:
    return header is None or header.strip() == etag


def _requested_photo(request, photo_id: str, rendition: str | None) -> ProductPhoto:
    """The live photo asked for, with the store and the photo in one query when all is well
    (the store scoped to the caller's, as a subquery). Otherwise the errors as before, in
    their order: the store's (400, 404), the rendition's (400), the photo's (404)."""
    try:
        lookup, pk = store_lookup(request.query_params.get("store_id")), uuid.UUID(str(photo_id))
    except (ValueError, AttributeError):
        lookup = pk = None
    if lookup is not None and (rendition is None or rendition in RENDITIONS):
        photo = selectors.live_photo(visible_stores(request.user).filter(**lookup), pk)
        if photo is not None:
            return photo
    store = _store(request)
    if rendition is not None and rendition not in RENDITIONS:
        raise params.invalid(f"rendition must be one of {', '.join(RENDITIONS)}")
    return _live_photo(store, photo_id)


def _live_photo(store, photo_id: str) -> ProductPhoto:
    try:
        pk = uuid.UUID(str(photo_id))
    except ValueError:
        raise DomainError(ErrorCode.NOT_FOUND, 404, "Photo not found") from None
    photo = ProductPhoto.objects.filter(pk=pk, store=store, deleted_at__isnull=True).first()
    if photo is None:
        raise DomainError(ErrorCode.NOT_FOUND, 404, "Photo not found")
    return photo


def _rendition_name(filename: str, rendition: str) -> str:
    stem = filename.rsplit(".", 1)[0] if "." in filename else filename
    return f"{stem}_{rendition}.webp"


def _quoted(filename: str) -> str:
    return "".join(c for c in filename if c.isprintable() and c not in '"\\\r\n') or "photo"


class StatusReportView(APIView):
    """POST /sync/product-photos/status/: what the edge holds."""

    permission_classes = [LettersRequired("photosync.EdgeStatusReport", "C")]

    @extend_schema(
        operation_id="sync_product_photos_status",
        summary="Report the edge's sync status per photo",
        description=(
            "Validated as a whole (status synced|failed|pending, photo ids of that store, at most 1000 items): "
            "an invalid batch answers 400 listing the bad items in detail.items and records nothing. "
            "Idempotent: one report per (store, photo), the last one wins. An optional `version` per item "
            "names the photo version the report is about (default: the current one)."
        ),
        request=schema.StatusRequestSerializer,
        responses={
            200: schema.StatusResponseSerializer,
            400: error_response("store_id is required; invalid sync_batch (detail.items)."),
            404: error_response("Store not found."),
        },
    )
    def post(self, request):
        body = request.data
        if not isinstance(body, dict):
            raise params.invalid("The body must be a JSON object with store_id and sync_batch")
        store = get_visible_store(request.user, body.get("store_id"), param="store_id")
        count = reports.record_status_reports(store, body.get("sync_batch"), user=request.user)
        return Response({"status": "success", "message": f"Sync status updated for {count} photos"})
