"""Product photos on local storage (embedded and edge modes), served only through signed links.

``storage.object_url`` signs every link it hands out (the admin's thumbnails, the edge
feed's ``image_url``) with an expiry; this view refuses a link that is unsigned, altered or
expired (403), and a photo that is no longer live (404: its product was deleted, or a newer
image replaced it), whatever its link says. On S3 the bucket is private and links are
presigned, so this view is not routed.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from django.conf import settings
from django.http import JsonResponse
from django.urls import re_path
from django.views.decorators.http import require_safe
from django.views.static import serve

from config.api.exceptions import envelope
from config.error_codes import ErrorCode
from photosync.imagesync import storage
from photosync.models import ProductPhoto

# <product uuid>/<md5>.<ext> (the original) or <product uuid>/<md5>_<rendition>.webp
PHOTO_PATH = re.compile(r"^(?P<product>[0-9a-f-]{36})/(?P<checksum>[0-9a-f]{32})(?:_[a-z]+)?\.[a-z0-9]+$")


@require_safe
def serve_product_photo(request, path: str):
    key = f"{storage.PREFIX}/{path}"
    query = request.GET
    if not storage.media_signature_is_valid(key, query.get("expires", ""), query.get("signature", "")):
        message = "This photo link is unsigned, altered or expired: ask the hub for a new one."
        return JsonResponse(envelope(ErrorCode.PERMISSION_DENIED, message), status=403)
    match = PHOTO_PATH.match(path)
    live = match and ProductPhoto.objects.filter(
        product__uuid=match["product"], checksum=match["checksum"], deleted_at__isnull=True
    )
    if not live or not live.exists():
        return JsonResponse(envelope(ErrorCode.NOT_FOUND, "No such photo."), status=404)
    # Rooted at the products/ folder; MEDIA_ROOT is read per request, not frozen at import.
    response = serve(request, path, document_root=Path(settings.MEDIA_ROOT) / storage.PREFIX)
    response["Cache-Control"] = f"private, max-age={max(0, int(query['expires']) - int(time.time()))}"
    return response


# Included under <MEDIA_URL>products/ by config/urls.py (local storage only).
urlpatterns = [re_path(r"^(?P<path>.*)$", serve_product_photo, name="product-photo")]
