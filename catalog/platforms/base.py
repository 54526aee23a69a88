"""The connector interface every e-commerce platform implements.

Connectors return the plain frozen dataclasses below, never Django models: the
services decide what to store. Values sent *to* a connector are keyed by the
hub's field names: products ``title``, ``description``, ``price``,
``inventory``, ``sku``, ``status``; customers ``email``, ``first_name``,
``last_name``.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, BinaryIO, ClassVar, Self

PRODUCT_FIELDS = frozenset({"title", "description", "price", "inventory", "sku", "status"})
CUSTOMER_FIELDS = frozenset({"email", "first_name", "last_name"})


@dataclass(frozen=True)
class RemoteProduct:
    """A product as the shop knows it. Fields not requested keep their defaults."""

    id: int
    name: str = ""
    reference: str = ""
    price: Decimal = Decimal("0")
    description: str = ""
    active: bool = False
    quantity: int | None = None
    id_default_image: int | None = None
    image_ids: tuple[int, ...] = ()
    date_upd: datetime | None = None


@dataclass(frozen=True)
class RemoteCustomer:
    id: int
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    active: bool = False
    date_upd: datetime | None = None


@dataclass(frozen=True)
class RemoteOrder:
    id: int
    reference: str = ""
    customer_id: int | None = None
    status: str = ""
    total: Decimal = Decimal("0")
    customer_info: dict[str, str] = field(default_factory=dict)
    date_upd: datetime | None = None


@dataclass(frozen=True)
class Extent:
    """Where a shop's records of one kind end: the highest id and the latest ``date_upd``
    (None when there are none)."""

    last_id: int | None
    last_modified: datetime | None


@dataclass(frozen=True)
class ImageFetch:
    """The outcome of an image download; the bytes went to the caller's file."""

    not_modified: bool
    size: int
    content_type: str
    sha1: str | None = None
    etag: str | None = None
    last_modified: str | None = None


class EcommerceService(abc.ABC):
    """A client for one shop. Not thread-safe; use one instance per thread."""

    platform: ClassVar[str]
    sensitive_parameters: ClassVar[tuple[str, ...]] = ("api_key",)

    def __init__(self, base_url: str, api_key: str, *, timeout: float | None = None) -> None:
        self.base_url = base_url
        self._api_key = api_key
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.base_url!r}>"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @abc.abstractmethod
    def close(self) -> None:
        """Release network resources."""

    @abc.abstractmethod
    def check_connection(self) -> None:
        """Raise a :class:`~catalog.platforms.errors.PlatformError` unless the shop answers."""

    @abc.abstractmethod
    def extent(self, entity: str) -> Extent:
        """The highest id and the latest change of ``products``, ``customers`` or ``orders``:
        where a read of them all by id ends, and the watermark of such a read."""

    @abc.abstractmethod
    def iter_ids(self, entity: str, *, page_size: int = 1000, after_id: int | None = None) -> Iterator[list[int]]:
        """Pages of the ids of ``products``, ``customers`` or ``orders`` (ids only, no
        record), ascending, read by keyset on the id: a reconciliation sweep's reading."""

    @abc.abstractmethod
    def delete(self, entity: str, record_id: int) -> None:
        """Delete a product or a customer; one already gone is no error."""

    def count_changed(self, entity: str, since: datetime, *, limit: int) -> int:
        """How many ``products``, ``customers`` or ``orders`` changed at or after ``since``,
        counted up to ``limit`` (a platform may read only their ids). Base: a scan."""
        count = 0
        for _ in getattr(self, f"iter_{entity}")(since=since):
            count += 1
            if count >= limit:
                break
        return count

    # Products

    @abc.abstractmethod
    def find_ids(self, entity: str, field: str, value: str) -> list[int]:
        """The ids of the ``products`` or ``customers`` whose ``field`` (a product's
        ``reference``, a customer's ``email``) is exactly ``value``: how a create whose answer
        was lost is found again instead of being made twice."""

    @abc.abstractmethod
    def fetch_products(self, ids: Iterable[int], *, fields: Sequence[str] | None = None) -> list[RemoteProduct]:
        """The products with these ids that exist, in the order of ``ids``.

        ``fields`` names :class:`RemoteProduct` attributes to fetch (``id`` is
        implied); ``None`` fetches all of them.
        """

    @abc.abstractmethod
    def iter_products(
        self, *, since: datetime | None = None, after_id: int | None = None, page_size: int = 100
    ) -> Iterator[RemoteProduct]:
        """Every product, or those modified at or after ``since``, in ``(date_upd, id)`` order.

        With ``after_id``, only those after ``(since, after_id)`` in that order: where an
        interrupted scan resumes. The same holds for customers and orders.
        """

    @abc.abstractmethod
    def list_product_images(self, product_id: int) -> list[int]:
        """The ids of a product's images, in the shop's order."""

    @abc.abstractmethod
    def download_image(
        self,
        product_id: int,
        image_id: int,
        dest: BinaryIO,
        *,
        max_bytes: int,
        local_sha1: str | None = None,
    ) -> ImageFetch:
        """Stream an image into ``dest``; nothing is written when it has not changed.

        ``dest`` may hold a partial download when an error is raised.
        """

    @abc.abstractmethod
    def update_product(self, product_id: int, values: Mapping[str, Any]) -> RemoteProduct:
        """Write hub fields (:data:`PRODUCT_FIELDS`) to a product and return it fresh."""

    @abc.abstractmethod
    def create_product(self, values: Mapping[str, Any]) -> RemoteProduct:
        """Create a product from hub fields and return it with its new id."""

    # Customers

    @abc.abstractmethod
    def iter_customers(
        self, *, since: datetime | None = None, after_id: int | None = None, page_size: int = 100
    ) -> Iterator[RemoteCustomer]:
        """Every customer, or those modified at or after ``since``."""

    @abc.abstractmethod
    def fetch_customers(self, ids: Iterable[int]) -> list[RemoteCustomer]:
        """The customers with these ids that exist, in the order of ``ids``."""

    @abc.abstractmethod
    def update_customer(self, customer_id: int, values: Mapping[str, Any]) -> RemoteCustomer:
        """Write hub fields (:data:`CUSTOMER_FIELDS`) to a customer and return it fresh."""

    @abc.abstractmethod
    def create_customer(self, values: Mapping[str, Any]) -> RemoteCustomer:
        """Create a customer from hub fields and return it with its new id."""

    # Orders (read only: orders flow from the shop to the platform)

    @abc.abstractmethod
    def iter_orders(
        self, *, since: datetime | None = None, after_id: int | None = None, page_size: int = 100
    ) -> Iterator[RemoteOrder]:
        """Every order, or those modified at or after ``since``."""

    @abc.abstractmethod
    def fetch_orders(self, ids: Iterable[int]) -> list[RemoteOrder]:
        """The orders with these ids that exist, in the order of ``ids``."""
