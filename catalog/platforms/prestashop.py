"""PrestaShop webservice client (see ``shared/prestashop-webservice.md``).

Reads use JSON (``output_format=JSON``), except image lists, whose JSON is
broken on real shops. Writes send XML, the only input format. Lists are read
in batches of 100 ids (``filter[id]=[1|2|3]``) or in pages sorted by
``date_upd`` (``limit=offset,count``, until a short page). Stock lives in
``stock_availables``, fetched once per batch or page, never per product.
"""

from __future__ import annotations

import email.utils
import itertools
import logging
import random
import secrets
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, BinaryIO

import httpx
from django.conf import settings
from django.utils.text import slugify
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from . import prestashop_xml as psxml
from .base import EcommerceService, ImageFetch, RemoteCustomer, RemoteOrder, RemoteProduct
from .errors import (
    ImageTooLarge,
    PlatformAuthError,
    PlatformBadResponse,
    PlatformError,
    PlatformNetworkError,
    PlatformNotFound,
    PlatformRateLimited,
    PlatformServerError,
    PlatformTimeout,
    PlatformValidationError,
)
from .urlguard import guarded_client, parse_http_url

logger = logging.getLogger(__name__)

BATCH_SIZE = 100
RETRY_AFTER_CAP = 30.0
IMAGE_CHUNK_SIZE = 64 * 1024
FAR_FUTURE = "9999-12-31 23:59:59"
CHANGES_SORT = "[date_upd_ASC,id_ASC]"
# Shop error codes that mean "no such thing": 57 unknown image id, 59/61 image
# file missing on disk, 87/92 unknown ids, 131 not in this shop.
NOT_FOUND_CODES = frozenset({57, 59, 61, 87, 92, 131})

# RemoteProduct attribute -> ``display`` member. ``quantity`` comes from stock_availables.
PRODUCT_DISPLAY = {
    "id": "id",
    "name": "name",
    "reference": "reference",
    "price": "price",
    "description": "description",
    "active": "active",
    "id_default_image": "id_default_image",
    "image_ids": "images[id]",
    "date_upd": "date_upd",
}
CUSTOMER_DISPLAY = "[id,email,firstname,lastname,active,date_upd]"
ORDER_DISPLAY = "[id,reference,id_customer,current_state,total_paid,date_upd]"


def api_root_url(base_url: str) -> str:
    """The webservice root: ``https://shop/`` and ``https://shop/api`` both give ``https://shop/api/``."""
    parts = parse_http_url(base_url)
    path = parts.path.rstrip("/")
    if not path.endswith("/api"):
        path += "/api"
    return parts._replace(path=path + "/", query="", fragment="").geturl()


class PrestaShopService(EcommerceService):
    """A PrestaShop webservice client; the key is sent as the HTTP Basic user name."""

    platform = "prestashop"

    def __init__(self, base_url: str, api_key: str, *, timeout: float | None = None) -> None:
        super().__init__(api_root_url(base_url), api_key, timeout=timeout or settings.PLATFORM_TIMEOUT)
        self._attempts = max(1, settings.PLATFORM_RETRY_ATTEMPTS)
        self._backoff = settings.PLATFORM_RETRY_BACKOFF
        self._client = guarded_client(
            base_url=self.base_url, auth=httpx.BasicAuth(api_key, ""), timeout=self.timeout, follow_redirects=True
        )

    def close(self) -> None:
        self._client.close()

    def check_connection(self) -> None:
        self._get_list("products", {"limit": "1"})

    # Products

    def fetch_products(self, ids: Iterable[int], *, fields: Sequence[str] | None = None) -> list[RemoteProduct]:
        wanted = set(PRODUCT_DISPLAY) | {"quantity"} if fields is None else {"id", *fields}
        unknown = wanted - set(PRODUCT_DISPLAY) - {"quantity"}
        if unknown:
            raise ValueError(f"Unknown product fields: {', '.join(sorted(unknown))}")
        display = "full" if fields is None else "[" + ",".join(PRODUCT_DISPLAY[f] for f in PRODUCT_DISPLAY if f in wanted) + "]"
        rows = self._fetch_by_ids("products", ids, display)
        return self._products(rows, with_quantity="quantity" in wanted)

    def iter_products(self, *, since: datetime | None = None, page_size: int = 100) -> Iterator[RemoteProduct]:
        for page in self._changed_pages("products", "full", since, page_size):
            yield from self._products(page, with_quantity=True)

    def list_product_images(self, product_id: int) -> list[int]:
        try:
            response = self._request("GET", f"images/products/{int(product_id)}")
        except PlatformNotFound:  # the shop answers 404 for a product without images
            return []
        return psxml.declination_ids(self._xml(response))

    def download_image(
        self,
        product_id: int,
        image_id: int,
        dest: BinaryIO,
        *,
        max_bytes: int,
        local_sha1: str | None = None,
    ) -> ImageFetch:
        headers = {"Local-Content-Sha1": local_sha1} if local_sha1 else {}
        response = self._request("GET", f"images/products/{int(product_id)}/{int(image_id)}", headers=headers, stream=True)
        try:
            content_type = response.headers.get("Content-Type", "")
            if response.status_code == 304:
                return ImageFetch(not_modified=True, size=0, content_type=content_type, sha1=local_sha1)
            if content_type.lower().startswith("text/"):
                raise self._error(PlatformBadResponse, f"The shop sent {content_type!r} instead of an image", response)
            declared = int(response.headers.get("Content-Length") or 0)
            if declared > max_bytes:
                raise self._error(ImageTooLarge, f"The image is {declared} bytes, over the {max_bytes}-byte limit", response)
            size = self._stream_into(response, dest, max_bytes)
        finally:
            response.close()
        return ImageFetch(
            not_modified=False,
            size=size,
            content_type=content_type,
            sha1=response.headers.get("Content-Sha1"),
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
        )

    def update_product(self, product_id: int, values: Mapping[str, Any]) -> RemoteProduct:
        changes, inventory = psxml.product_changes(values)
        root = self._get_xml(f"products/{int(product_id)}")
        product = psxml.entity(root, "product")
        stock_id = psxml.stock_available_id(product)
        if changes:
            psxml.set_fields(product, changes)
            psxml.prepare_update(product)
            self._send_xml("PUT", f"products/{int(product_id)}", root)
        if inventory is not None:
            self._set_quantity(product_id, stock_id, inventory)
        return self._fetch_product(product_id)

    def create_product(self, values: Mapping[str, Any]) -> RemoteProduct:
        changes, inventory = psxml.product_changes(values)
        if "name" not in changes or "price" not in changes:
            raise ValueError("A new product needs a title and a price.")
        changes.setdefault("active", "1")
        changes["link_rewrite"] = slugify(changes["name"]) or "product"
        root = self._get_xml("products", params={"schema": "blank"})
        product = psxml.entity(root, "product")
        if product.find("state") is not None:
            changes["state"] = "1"  # PrestaShop 8: 0 would be a hidden draft
        psxml.set_fields(product, changes)
        psxml.prepare_create(product)
        created = psxml.entity(self._send_xml("POST", "products", root), "product")
        product_id = int(created.findtext("id") or 0)
        if inventory is not None:
            self._set_quantity(product_id, psxml.stock_available_id(created), inventory)
        return self._fetch_product(product_id)

    # Customers

    def iter_customers(self, *, since: datetime | None = None, page_size: int = 100) -> Iterator[RemoteCustomer]:
        for page in self._changed_pages("customers", CUSTOMER_DISPLAY, since, page_size):
            yield from self._convert(page, "customer", psxml.customer_from_row)

    def fetch_customers(self, ids: Iterable[int]) -> list[RemoteCustomer]:
        return self._convert(self._fetch_by_ids("customers", ids, CUSTOMER_DISPLAY), "customer", psxml.customer_from_row)

    def update_customer(self, customer_id: int, values: Mapping[str, Any]) -> RemoteCustomer:
        root = self._get_xml(f"customers/{int(customer_id)}")
        customer = psxml.entity(root, "customer")
        psxml.set_fields(customer, psxml.customer_changes(values))
        psxml.prepare_update(customer)
        self._send_xml("PUT", f"customers/{int(customer_id)}", root)
        return self._fetch_customer(customer_id)

    def create_customer(self, values: Mapping[str, Any]) -> RemoteCustomer:
        changes = psxml.customer_changes(values)
        # The shop requires a password; the customer can reset it.
        changes |= {"passwd": secrets.token_urlsafe(24), "active": "1"}
        root = self._get_xml("customers", params={"schema": "blank"})
        customer = psxml.entity(root, "customer")
        psxml.set_fields(customer, changes)
        psxml.prepare_create(customer)
        created = psxml.entity(self._send_xml("POST", "customers", root), "customer")
        return self._fetch_customer(int(created.findtext("id") or 0))

    # Orders

    def iter_orders(self, *, since: datetime | None = None, page_size: int = 100) -> Iterator[RemoteOrder]:
        for page in self._changed_pages("orders", ORDER_DISPLAY, since, page_size):
            yield from self._orders(page)

    def fetch_orders(self, ids: Iterable[int]) -> list[RemoteOrder]:
        return self._orders(self._fetch_by_ids("orders", ids, ORDER_DISPLAY))

    # Reading helpers

    def _fetch_by_ids(self, resource: str, ids: Iterable[int], display: str) -> list[dict[str, Any]]:
        """Rows for ``ids`` in batches of 100, returned in the order of ``ids``."""
        wanted = list(dict.fromkeys(int(i) for i in ids))
        rows: dict[int, dict[str, Any]] = {}
        for batch in _batched(wanted):
            params = {"display": display, "filter[id]": psxml.id_filter(batch)}
            rows |= {int(row["id"]): row for row in self._get_list(resource, params)}
        return [rows[i] for i in wanted if i in rows]

    def _changed_pages(
        self, resource: str, display: str, since: datetime | None, page_size: int
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of rows, oldest change first.

        ``since`` is inclusive: PrestaShop's ``>[x]`` is strict and would lose a
        record changed in the same second as the previous watermark.
        """
        params = {"display": display, "date": "1", "sort": CHANGES_SORT}
        if since is not None:
            params["filter[date_upd]"] = f"[{psxml.shop_datetime(since)},{FAR_FUTURE}]"
        for offset in itertools.count(0, page_size):
            page = self._get_list(resource, {**params, "limit": f"{offset},{page_size}"})
            if page:
                yield page
            if len(page) < page_size:
                return

    def _products(self, rows: list[dict[str, Any]], *, with_quantity: bool) -> list[RemoteProduct]:
        quantities = self._quantities([int(row["id"]) for row in rows]) if with_quantity else {}
        return self._convert(rows, "product", lambda row: psxml.product_from_row(row, quantities.get(int(row["id"]))))

    def _quantities(self, product_ids: list[int]) -> dict[int, int]:
        """Stock of the products' own rows (``id_product_attribute`` 0), one request per 100."""
        quantities: dict[int, int] = {}
        for batch in _batched(product_ids):
            params = {
                "display": "[id,id_product,quantity]",
                "filter[id_product]": psxml.id_filter(batch),
                "filter[id_product_attribute]": "[0]",
            }
            rows = self._get_list("stock_availables", params)
            with _malformed("stock_available"):
                for row in rows:
                    quantities.setdefault(int(row["id_product"]), int(row["quantity"]))
        return quantities

    def _orders(self, rows: list[dict[str, Any]]) -> list[RemoteOrder]:
        customer_ids = {int(row.get("id_customer") or 0) for row in rows} - {0}
        info = {c.id: {"email": c.email, "first_name": c.first_name, "last_name": c.last_name}
                for c in self.fetch_customers(sorted(customer_ids))}
        return self._convert(rows, "order", lambda row: psxml.order_from_row(row, info))

    def _fetch_product(self, product_id: int) -> RemoteProduct:
        found = self.fetch_products([product_id])
        if not found:
            raise PlatformNotFound(f"Product {product_id} is not in the shop")
        return found[0]

    def _fetch_customer(self, customer_id: int) -> RemoteCustomer:
        found = self.fetch_customers([customer_id])
        if not found:
            raise PlatformNotFound(f"Customer {customer_id} is not in the shop")
        return found[0]

    def _convert(self, rows: list[dict[str, Any]], kind: str, convert: Callable[[dict[str, Any]], Any]) -> list[Any]:
        with _malformed(kind):
            return [convert(row) for row in rows]

    def _get_list(self, resource: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        data = self._json(self._request("GET", resource, params={**params, "output_format": "JSON"}))
        if data == [] or data == {}:  # PrestaShop's empty list is a bare ``[]``
            return []
        if not isinstance(data, dict) or not isinstance(data.get(resource), list):
            raise PlatformBadResponse(f"The shop's {resource} list has an unexpected shape")
        return data[resource]

    def _get_xml(self, path: str, params: Mapping[str, str] | None = None) -> ET.Element:
        return self._xml(self._request("GET", path, params=params))

    # Writing helpers

    def _send_xml(self, method: str, path: str, root: ET.Element) -> ET.Element:
        """PUT (retried: idempotent) or POST (never retried) a document; returns the answer."""
        response = self._request(
            method, path, content=psxml.to_bytes(root), headers={"Content-Type": "text/xml"}, retry=method != "POST"
        )
        return self._xml(response)

    def _set_quantity(self, product_id: int, stock_id: int | None, quantity: int) -> None:
        if stock_id is None:
            rows = self._get_list("stock_availables", {
                "display": "[id]", "filter[id_product]": f"[{int(product_id)}]", "filter[id_product_attribute]": "[0]",
            })
            if not rows:
                raise PlatformNotFound(f"Product {product_id} has no stock row in the shop")
            stock_id = int(rows[0]["id"])
        root = self._get_xml(f"stock_availables/{stock_id}")
        psxml.set_fields(psxml.entity(root, "stock_available"), {"quantity": str(quantity)})
        self._send_xml("PUT", f"stock_availables/{stock_id}", root)

    # HTTP

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        retry: bool = True,
    ) -> httpx.Response:
        """Send a request, retrying transient failures, and raise typed errors for bad answers."""
        request = self._client.build_request(method, path, params=params, content=content, headers=headers)
        retrying = Retrying(
            stop=stop_after_attempt(self._attempts if retry else 1),
            wait=self._retry_wait,
            retry=retry_if_exception(lambda exc: isinstance(exc, PlatformError) and exc.transient),
            before_sleep=_log_retry,
            reraise=True,
        )
        return retrying(self._send_once, request, stream)

    def _send_once(self, request: httpx.Request, stream: bool) -> httpx.Response:
        started = time.monotonic()
        with self._transport_errors(request):
            response = self._client.send(request, stream=stream)
        logger.debug("%s %s -> %s in %.0f ms", request.method, request.url.raw_path.decode(),
                     response.status_code, (time.monotonic() - started) * 1000)
        if response.status_code >= 400:
            with self._transport_errors(request):
                response.read()
            response.close()
            raise self._status_error(response)
        return response

    def _stream_into(self, response: httpx.Response, dest: BinaryIO, max_bytes: int) -> int:
        size = 0
        with self._transport_errors(response.request):
            for chunk in response.iter_bytes(IMAGE_CHUNK_SIZE):
                size += len(chunk)
                if size > max_bytes:
                    raise self._error(ImageTooLarge, f"The image exceeds the {max_bytes}-byte limit", response)
                dest.write(chunk)
        return size

    @contextmanager
    def _transport_errors(self, request: httpx.Request) -> Iterator[None]:
        """Turn httpx transport errors into platform errors."""
        where = f"{request.method} {request.url.path}"
        try:
            yield
        except httpx.TimeoutException:
            raise PlatformTimeout(f"The shop did not answer in time: {where}", secrets=(self._api_key,)) from None
        except httpx.TransportError as exc:
            raise PlatformNetworkError(f"Could not reach the shop: {where} ({exc})", secrets=(self._api_key,)) from None

    def _retry_wait(self, state: RetryCallState) -> float:
        """Exponential backoff with jitter, or the server's ``Retry-After`` (capped)."""
        error = state.outcome.exception() if state.outcome else None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return min(retry_after, RETRY_AFTER_CAP)
        return self._backoff * 2 ** (state.attempt_number - 1) * random.uniform(0.5, 1.5)

    def _status_error(self, response: httpx.Response) -> PlatformError:
        status, where = response.status_code, f"{response.request.method} {response.request.url.path}"
        shop_errors = psxml.error_entries(response.content)
        codes = {e.code for e in shop_errors}
        if status in (401, 403, 405):
            cls, message = PlatformAuthError, f"The shop refused the API key for {where} (HTTP {status})"
        elif status == 404 or codes & NOT_FOUND_CODES:
            cls, message = PlatformNotFound, f"Not found in the shop: {where} (HTTP {status})"
        elif status == 429:
            cls, message = PlatformRateLimited, f"The shop is rate limiting requests: {where}"
        elif status >= 500:
            cls, message = PlatformServerError, f"The shop failed on {where} (HTTP {status})"
        else:
            cls, message = PlatformValidationError, f"The shop rejected {where} (HTTP {status})"
        retry_after = _retry_after(response) if status in (429, 503) else None
        return cls(message, status_code=status, shop_errors=shop_errors, retry_after=retry_after, secrets=(self._api_key,))

    def _error(self, cls: type[PlatformError], message: str, response: httpx.Response) -> PlatformError:
        return cls(f"{message} ({response.request.method} {response.request.url.path})",
                   status_code=response.status_code, secrets=(self._api_key,))

    def _json(self, response: httpx.Response) -> Any:
        if _looks_like_markup(response):
            raise self._error(PlatformBadResponse, "The shop answered with HTML or XML instead of JSON", response)
        try:
            return response.json()
        except ValueError:
            raise self._error(PlatformBadResponse, "The shop's answer is not valid JSON", response) from None

    def _xml(self, response: httpx.Response) -> ET.Element:
        try:
            root = psxml.parse(response.content)
        except ET.ParseError:
            root = None
        if root is None or root.tag != "prestashop":
            raise self._error(PlatformBadResponse, "The shop's answer is not a webservice XML document", response)
        return root


@contextmanager
def _malformed(kind: str) -> Iterator[None]:
    """Report a record the shop sent in an unexpected shape as a bad response."""
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
        raise PlatformBadResponse(f"The shop sent a malformed {kind} record ({exc!r})") from None


def _batched(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), BATCH_SIZE):
        yield ids[start : start + BATCH_SIZE]



def _looks_like_markup(response: httpx.Response) -> bool:
    return "html" in response.headers.get("Content-Type", "").lower() or response.content.lstrip()[:1] == b"<"



def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    logger.debug("Retrying after attempt %d failed: %s", state.attempt_number, error)
