"""PrestaShop webservice connector (PrestaShop 1.7+; what it relies on: docs/catalog.md).

Reads use JSON (``output_format=JSON``), except image lists, whose JSON is
broken on real shops. Writes send XML, the only input format; the shop answers
a PUT, PATCH or POST with the whole entity, which is what a write returns (no second
read). A shop that takes PATCH (PrestaShop 8 and later, told by its ``PSWS-Version``
header) gets one PATCH of the changed fields; an older one a GET of the whole
entity and a PUT of it back. Lists are read in batches of 100 ids (``filter[id]=[1|2|3]``) or in
pages ordered by ``(date_upd, id)``, by keyset (see :meth:`_changed_pages`).
Stock lives in ``stock_availables``, fetched once per batch or page, never per
product.
"""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, BinaryIO, TypeVar

from django.conf import settings
from django.utils.text import slugify

from . import prestashop_xml as psxml
from .base import EcommerceService, Extent, ImageFetch, RemoteCustomer, RemoteOrder, RemoteProduct
from .errors import PartialCreate, PlatformBadResponse, PlatformError, PlatformNotFound
from .prestashop_http import Webservice
from .urlguard import parse_http_url

BATCH_SIZE = 100
PATCH_SINCE = (8, 0)  # the first PrestaShop version whose webservice takes PATCH
FAR_FUTURE = "9999-12-31 23:59:59"
CHANGES_SORT = "[date_upd_ASC,id_ASC]"
ID_SORT = "[id_ASC]"
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
PRODUCT_ATTRIBUTES = frozenset({*PRODUCT_DISPLAY, "quantity"})
CUSTOMER_DISPLAY = "[id,email,firstname,lastname,active,date_upd]"
ORDER_DISPLAY = "[id,reference,id_customer,current_state,total_paid,date_upd]"

Row = dict[str, Any]
Record = TypeVar("Record")


def api_root_url(base_url: str) -> str:
    """The webservice root: ``https://shop/`` and ``https://shop/api`` both give ``https://shop/api/``."""
    parts = parse_http_url(base_url)
    path = parts.path.rstrip("/")
    if not path.endswith("/api"):
        path += "/api"
    return parts._replace(path=path + "/", query="", fragment="").geturl()


class PrestaShopService(EcommerceService):
    """A PrestaShop shop, through its webservice."""

    platform = "prestashop"

    def __init__(self, base_url: str, api_key: str, *, timeout: float | None = None) -> None:
        timeout = timeout or settings.PLATFORM_TIMEOUT
        super().__init__(api_root_url(base_url), api_key, timeout=timeout)
        self._ws = Webservice(
            self.base_url,
            api_key,
            timeout=timeout,
            attempts=settings.PLATFORM_RETRY_ATTEMPTS,
            backoff=settings.PLATFORM_RETRY_BACKOFF,
        )
        self._languages: dict[str, dict[str, list[str]]] = {}  # resource -> multilingual field -> language ids

    def close(self) -> None:
        self._ws.close()

    def check_connection(self) -> None:
        self._ws.get_list("products", {"limit": "1"})

    def extent(self, entity: str) -> Extent:
        if entity not in ("products", "customers", "orders"):
            raise ValueError(f"Unknown entity {entity!r}")
        last = self._ws.get_list(entity, {"display": "[id]", "sort": "[id_DESC]", "limit": "1"})
        latest = self._ws.get_list(
            entity, {"display": "[id,date_upd]", "date": "1", "sort": "[date_upd_DESC,id_DESC]", "limit": "1"}
        )
        with _malformed(entity):
            return Extent(
                last_id=int(last[0]["id"]) if last else None,
                last_modified=psxml.parse_datetime(latest[0].get("date_upd")) if latest else None,
            )

    def iter_ids(self, entity: str, *, page_size: int = 1000, after_id: int | None = None) -> Iterator[list[int]]:
        if entity not in ("products", "customers", "orders"):
            raise ValueError(f"Unknown entity {entity!r}")
        while True:
            params = {"display": "[id]", "sort": ID_SORT, "limit": f"0,{int(page_size)}"}
            if after_id is not None:
                params["filter[id]"] = f">[{int(after_id)}]"
            rows = self._ws.get_list(entity, params)
            with _malformed(entity):
                page = [int(row["id"]) for row in rows]
            if page:
                yield page
                after_id = page[-1]
            if len(page) < page_size:
                return

    def delete(self, entity: str, record_id: int) -> None:
        if entity not in ("products", "customers"):
            raise ValueError(f"{entity!r} cannot be deleted in the shop")
        try:
            self._ws.request("DELETE", f"{entity}/{int(record_id)}")
        except PlatformNotFound:
            return  # gone already: what a delete wants

    # Products

    def find_ids(self, entity: str, field: str, value: str) -> list[int]:
        if not value or any(c in value for c in "[]|%"):
            return []  # not expressible as an exact PrestaShop filter: nothing found
        params = {"display": "[id]", f"filter[{field}]": f"[{value}]", "sort": ID_SORT}
        with _malformed(entity):
            return [int(row["id"]) for row in self._ws.get_list(entity, params)]

    def fetch_products(self, ids: Iterable[int], *, fields: Sequence[str] | None = None) -> list[RemoteProduct]:
        wanted = PRODUCT_ATTRIBUTES if fields is None else {"id", *fields}
        unknown = wanted - PRODUCT_ATTRIBUTES
        if unknown:
            raise ValueError(f"Unknown product fields: {', '.join(sorted(unknown))}")
        display = "full" if fields is None else f"[{','.join(v for k, v in PRODUCT_DISPLAY.items() if k in wanted)}]"
        rows = self._fetch_by_ids("products", ids, display)
        return self._products(rows, with_quantity="quantity" in wanted)

    def count_changed(self, entity: str, since: datetime, *, limit: int) -> int:
        """One request for the ids (up to ``limit``) changed at or after ``since``."""
        if entity not in ("products", "customers", "orders"):
            raise ValueError(f"Unknown entity {entity!r}")
        params = {
            "display": "[id]",
            "date": "1",
            "filter[date_upd]": f"[{psxml.shop_datetime(since)},{FAR_FUTURE}]",
            "limit": f"0,{max(1, int(limit))}",
        }
        return len(self._ws.get_list(entity, params))

    def iter_products(
        self, *, since: datetime | None = None, after_id: int | None = None, page_size: int = 100
    ) -> Iterator[RemoteProduct]:
        for page in self._changed_pages("products", "full", since, after_id, page_size):
            yield from self._products(page, with_quantity=True)

    def list_product_images(self, product_id: int) -> list[int]:
        try:
            response = self._ws.request("GET", f"images/products/{int(product_id)}")
        except PlatformNotFound:  # the shop answers 404 for a product without images
            return []
        return psxml.declination_ids(self._ws.xml(response))

    def download_image(
        self,
        product_id: int,
        image_id: int,
        dest: BinaryIO,
        *,
        max_bytes: int,
        local_sha1: str | None = None,
    ) -> ImageFetch:
        path = f"images/products/{int(product_id)}/{int(image_id)}"
        headers = {"Local-Content-Sha1": local_sha1} if local_sha1 else {}
        response = self._ws.request("GET", path, headers=headers, stream=True)
        try:
            content_type = response.headers.get("Content-Type", "")
            if response.status_code == 304:
                return ImageFetch(not_modified=True, size=0, content_type=content_type, sha1=local_sha1)
            if content_type.lower().startswith("text/"):
                raise self._ws.error(PlatformBadResponse, f"The shop sent {content_type!r}, not an image", response)
            size = self._ws.stream_into(response, dest, max_bytes)
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
        if changes:
            product = self._update("products", "product", product_id, changes)
        else:
            product = psxml.entity(self._ws.get_xml(f"products/{int(product_id)}"), "product")
        quantity = None
        if inventory is not None:
            quantity = self._set_quantity(product_id, psxml.stock_available_id(product), inventory)
        return self._written_product(product, quantity)

    def create_product(self, values: Mapping[str, Any]) -> RemoteProduct:
        changes, inventory = psxml.product_changes(values)
        if "name" not in changes or "price" not in changes:
            raise ValueError("A new product needs a title and a price.")
        changes.setdefault("active", "1")
        changes["link_rewrite"] = slugify(changes["name"]) or "product"
        root = self._ws.get_xml("products", params={"schema": "blank"})
        product = psxml.entity(root, "product")
        if product.find("state") is not None:
            changes["state"] = "1"  # PrestaShop 8: 0 would be a hidden draft
        psxml.set_fields(product, changes)
        psxml.prepare_create(product)
        created = psxml.entity(self._ws.send_xml("POST", "products", root), "product")
        product_id = _new_id(created)
        quantity = None
        if inventory is not None:
            try:
                quantity = self._set_quantity(product_id, psxml.stock_available_id(created), inventory)
            except PlatformError as exc:
                row = psxml.row_from_xml(created)
                product = _convert([row], "product", lambda r: psxml.product_from_row(r, None))[0]
                raise PartialCreate(exc, created=product, unwritten={"inventory": inventory}) from exc
        return self._written_product(created, quantity)

    # Customers

    def iter_customers(
        self, *, since: datetime | None = None, after_id: int | None = None, page_size: int = 100
    ) -> Iterator[RemoteCustomer]:
        for page in self._changed_pages("customers", CUSTOMER_DISPLAY, since, after_id, page_size):
            yield from _convert(page, "customer", psxml.customer_from_row)

    def fetch_customers(self, ids: Iterable[int]) -> list[RemoteCustomer]:
        rows = self._fetch_by_ids("customers", ids, CUSTOMER_DISPLAY)
        return _convert(rows, "customer", psxml.customer_from_row)

    def update_customer(self, customer_id: int, values: Mapping[str, Any]) -> RemoteCustomer:
        updated = self._update("customers", "customer", customer_id, psxml.customer_changes(values))
        return _convert([psxml.row_from_xml(updated)], "customer", psxml.customer_from_row)[0]

    def create_customer(self, values: Mapping[str, Any]) -> RemoteCustomer:
        changes = psxml.customer_changes(values)
        # The shop requires a password; the customer can reset it.
        changes |= {"passwd": secrets.token_urlsafe(24), "active": "1"}
        root = self._ws.get_xml("customers", params={"schema": "blank"})
        customer = psxml.entity(root, "customer")
        psxml.set_fields(customer, changes)
        psxml.prepare_create(customer)
        created = psxml.entity(self._ws.send_xml("POST", "customers", root), "customer")
        _new_id(created)
        return _convert([psxml.row_from_xml(created)], "customer", psxml.customer_from_row)[0]

    # Orders

    def iter_orders(
        self, *, since: datetime | None = None, after_id: int | None = None, page_size: int = 100
    ) -> Iterator[RemoteOrder]:
        for page in self._changed_pages("orders", ORDER_DISPLAY, since, after_id, page_size):
            yield from self._orders(page)

    def fetch_orders(self, ids: Iterable[int]) -> list[RemoteOrder]:
        return self._orders(self._fetch_by_ids("orders", ids, ORDER_DISPLAY))

    # Helpers

    def _update(self, resource: str, singular: str, record_id: int, changes: Mapping[str, str]) -> ET.Element:
        """Change some fields of a record; returns the shop's answer, the whole entity.

        One PATCH of those fields where the shop takes it (its version comes with every
        answer; before the first one, the record is read); else the whole record read and
        PUT back, as a PUT wipes what it leaves out."""
        path = f"{resource}/{int(record_id)}"
        current = None
        if self._ws.version is None:
            current = self._ws.get_xml(path)
            self._languages.setdefault(resource, psxml.field_languages(psxml.entity(current, singular)))
        if self._ws.version is not None and self._ws.version >= PATCH_SINCE:
            document = psxml.patch_document(singular, record_id, changes, self._field_languages(resource, singular))
            return psxml.entity(self._ws.send_xml("PATCH", path, document), singular)
        root = current if current is not None else self._ws.get_xml(path)
        node = psxml.entity(root, singular)
        psxml.set_fields(node, changes)
        psxml.prepare_update(node)
        return psxml.entity(self._ws.send_xml("PUT", path, root), singular)

    def _field_languages(self, resource: str, singular: str) -> dict[str, list[str]]:
        """The resource's multilingual fields and the shop's languages, from the first record
        read, else from the resource's blank schema: once per connector."""
        if resource not in self._languages:
            blank = self._ws.get_xml(resource, params={"schema": "blank"})
            self._languages[resource] = psxml.field_languages(psxml.entity(blank, singular))
        return self._languages[resource]

    def _fetch_by_ids(self, resource: str, ids: Iterable[int], display: str) -> list[Row]:
        """Rows for ``ids`` in batches of 100, returned in the order of ``ids``."""
        wanted = list(dict.fromkeys(int(i) for i in ids))
        rows: dict[int, Row] = {}
        for batch in _batched(wanted):
            params = {"display": display, "filter[id]": psxml.id_filter(batch)}
            rows |= {int(row["id"]): row for row in self._ws.get_list(resource, params)}
        return [rows[i] for i in wanted if i in rows]

    def _changed_pages(
        self, resource: str, display: str, since: datetime | None, after_id: int | None, page_size: int
    ) -> Iterator[list[Row]]:
        """Pages of rows in ``(date_upd, id)`` order, read by keyset, never by offset.

        Each request starts at the last row read: ``filter[date_upd]=[its date,...]``,
        sorted by date then id; the rows of that second up to its id come again and are
        dropped. A record modified during the scan moves behind the cursor and is read
        again later, where with offsets the record after it would slide into a page
        already read and be lost. When the rows of one second fill pages (a bulk edit),
        the rest of that second is read by id (``filter[id]=>[last]``), then the scan
        goes on strictly after it. ``since`` is inclusive (PrestaShop's ``>[x]`` would
        lose a change made in the watermark's second); with ``after_id`` the scan starts
        after ``(since, after_id)``, where an interrupted scan stopped.
        """
        base = {"display": display, "date": "1"}
        moment = psxml.shop_datetime(since) if since is not None else None
        last_id = after_id if moment is not None else None
        repeated: int | None = None  # rows of the cursor's second the next page would send again
        strict = False
        while True:
            if last_id is not None and (repeated is None or 2 * repeated >= page_size):
                yield from self._second_by_id(resource, base, moment, last_id, page_size)
                strict, repeated = True, 0
            if moment is None:
                bounds = {}
            elif strict:
                bounds = {"filter[date_upd]": f">[{moment}]"}
            else:
                bounds = {"filter[date_upd]": f"[{moment},{FAR_FUTURE}]"}
            rows = self._ws.get_list(resource, {**base, **bounds, "sort": CHANGES_SORT, "limit": f"0,{page_size}"})
            page = [row for row in rows if not _at_or_before(row, moment, last_id)]
            if page:
                yield page
                moment, last_id = _date_text(page[-1]), int(page[-1]["id"])
                strict = False
                repeated = sum(1 for row in rows if _date_text(row) == moment)
            elif rows:
                repeated = None  # a full page of rows already read: finish their second by id
            if len(rows) < page_size:
                return

    def _second_by_id(self, resource: str, base: Row, moment: str, last_id: int, page_size: int) -> Iterator[list[Row]]:
        """The rows of one second after ``last_id``, by id."""
        while True:
            params = {
                **base,
                "filter[date_upd]": f"[{moment},{moment}]",
                "filter[id]": f">[{last_id}]",
                "sort": ID_SORT,
                "limit": f"0,{page_size}",
            }
            page = self._ws.get_list(resource, params)
            if page:
                yield page
                last_id = int(page[-1]["id"])
            if len(page) < page_size:
                return

    def _products(self, rows: list[Row], *, with_quantity: bool) -> list[RemoteProduct]:
        quantities = self._quantities([int(row["id"]) for row in rows]) if with_quantity else {}
        return _convert(rows, "product", lambda row: psxml.product_from_row(row, quantities.get(int(row["id"]))))

    def _quantities(self, product_ids: list[int]) -> dict[int, int]:
        """Stock of the products' own rows (``id_product_attribute`` 0), one request per 100."""
        quantities: dict[int, int] = {}
        for batch in _batched(product_ids):
            params = {
                "display": "[id,id_product,quantity]",
                "filter[id_product]": psxml.id_filter(batch),
                "filter[id_product_attribute]": "[0]",
            }
            rows = self._ws.get_list("stock_availables", params)
            with _malformed("stock_available"):
                for row in rows:
                    quantities.setdefault(int(row["id_product"]), int(row["quantity"]))
        return quantities

    def _written_product(self, product: ET.Element, quantity: int | None) -> RemoteProduct:
        """The product of a write's answer (the shop sends it whole); ``quantity`` is the
        stock just written, else the product's own ``quantity`` field, read from the stock
        rows only if a shop leaves that field out."""
        row = psxml.row_from_xml(product)
        with _malformed("product"):
            if quantity is None and str(row.get("quantity", "")).strip():
                quantity = int(row["quantity"])
            if quantity is None:
                quantity = self._quantities([int(row["id"])]).get(int(row["id"]))
        return _convert([row], "product", lambda r: psxml.product_from_row(r, quantity))[0]

    def _orders(self, rows: list[Row]) -> list[RemoteOrder]:
        """Orders with their customer's contact, fetched in one batch per page."""
        with _malformed("order"):
            customer_ids = {cid for row in rows if (cid := psxml.optional_id(row.get("id_customer"))) is not None}
        info = {
            c.id: {"email": c.email, "first_name": c.first_name, "last_name": c.last_name}
            for c in self.fetch_customers(sorted(customer_ids))
        }
        return _convert(rows, "order", lambda row: psxml.order_from_row(row, info))

    def _set_quantity(self, product_id: int, stock_id: int | None, quantity: int) -> int:
        """Write the product's own stock row's quantity; returns the shop's."""
        if stock_id is None:
            params = {"filter[id_product]": f"[{int(product_id)}]", "filter[id_product_attribute]": "[0]"}
            rows = self._ws.get_list("stock_availables", {"display": "[id]", **params})
            if not rows:
                raise PlatformNotFound(f"Product {product_id} has no stock row in the shop")
            stock_id = int(rows[0]["id"])
        answer = self._update("stock_availables", "stock_available", stock_id, {"quantity": str(quantity)})
        with _malformed("stock_available"):
            return int(answer.findtext("quantity") or "")


@contextmanager
def _malformed(kind: str) -> Iterator[None]:
    """Report a record the shop sent in an unexpected shape as a bad response."""
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
        raise PlatformBadResponse(f"The shop sent a malformed {kind} record ({exc!r})") from None


def _convert(rows: list[Row], kind: str, convert: Callable[[Row], Record]) -> list[Record]:
    with _malformed(kind):
        return [convert(row) for row in rows]


def _date_text(row: Row) -> str:
    return str(row.get("date_upd") or "")


def _at_or_before(row: Row, moment: str | None, last_id: int | None) -> bool:
    """A row the keyset cursor ``(moment, last_id)`` has already passed."""
    if moment is None or last_id is None:
        return False
    date = _date_text(row)
    with _malformed("record"):
        return date < moment or (date == moment and int(row["id"]) <= last_id)


def _new_id(created: ET.Element) -> int:
    """The id the shop gave a created entity."""
    with _malformed(created.tag):
        return int(created.findtext("id") or "")


def _batched(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), BATCH_SIZE):
        yield ids[start : start + BATCH_SIZE]
