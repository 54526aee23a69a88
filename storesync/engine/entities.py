"""Each entity's two faces in the seed's field names: the platform's models and the shop's
records (through the connector), normalised so that equal values compare equal.

Normal forms: prices and totals are strings with six decimals (``"12.500000"``), the
inventory an int, product status ``active``/``inactive``, ``customer_info`` a dict of
strings, every other field a string.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import models
from django.utils.translation import get_language

from catalog.models import Customer, Order, Product, ProductStatus
from catalog.platforms import EcommerceService, Extent, RemoteCustomer, RemoteOrder, RemoteProduct
from catalog.validation import field_problem
from storesync.constants import EntityType

SIX_PLACES = Decimal("0.000001")


class InvalidValue(ValueError):
    """A value that does not fit the field (``INVALID_DATA_FORMAT``)."""


def _decimal(value: Any) -> str:
    if isinstance(value, bool):
        raise InvalidValue("expected a number")
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise InvalidValue(f"{value!r} is not a number") from None
    if not number.is_finite():
        raise InvalidValue(f"{value!r} is not a finite number")
    return str(number.quantize(SIX_PLACES))


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise InvalidValue("expected an integer")
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise InvalidValue(f"{value!r} is not an integer") from None
    if not number.is_finite() or number != number.to_integral_value():
        raise InvalidValue(f"{value!r} is not an integer")
    return int(number)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        raise InvalidValue("expected text")
    return str(value)


def _status(value: Any) -> str:
    if value in (True, "active", "1", 1):
        return ProductStatus.ACTIVE.value
    if value in (False, "inactive", "0", 0):
        return ProductStatus.INACTIVE.value
    raise InvalidValue(f"{value!r} is not a product status (active or inactive)")


def _info(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidValue("expected an object")
    return {str(k): _text(v) for k, v in value.items()}


NORMALIZERS = {
    EntityType.PRODUCTS: {
        "title": _text,
        "description": _text,
        "price": _decimal,
        "inventory": _int,
        "sku": _text,
        "status": _status,
    },
    EntityType.ORDERS: {"status": _text, "total": _decimal, "customer_info": _info},
    EntityType.CUSTOMERS: {"email": _text, "first_name": _text, "last_name": _text},
}


def normalize(entity: str, name: str, value: Any) -> Any:
    """The normal form of a value; :class:`InvalidValue` if it cannot be one."""
    return NORMALIZERS[entity][name](value)


# What the shop requires beyond the catalogue's own field rules: its required fields.
SHOP_REQUIRED = {
    EntityType.PRODUCTS: frozenset({"title"}),
    EntityType.CUSTOMERS: frozenset({"email", "first_name", "last_name"}),
}


def validate(entity: str, values: Mapping[str, Any]) -> dict[str, str]:
    """Field -> problem for values that do not fit (normalising them first): the shop's
    required fields, then the catalogue model's field rules, the same as its API's and admin's."""
    adapter = ADAPTERS[entity]
    attributes = {name: attr for attr, name in adapter.attributes.items()}
    problems: dict[str, str] = {}
    language = None
    for name, value in values.items():
        try:
            normal = normalize(entity, name, value)
        except InvalidValue as exc:
            problems[name] = str(exc)
            continue
        if name in SHOP_REQUIRED.get(entity, ()) and not normal.strip():
            problems[name] = "must not be empty"
            continue
        attribute = attributes[name]
        if _repeats(adapter.model, attribute):
            language = language or get_language()
            problem = _remembered_problem(adapter.model, attribute, type(normal), normal, language)
        else:
            problem = field_problem(adapter.model, attribute, normal)
        if problem:
            problems[name] = problem
    return problems


@functools.cache
def _repeats(model: type[models.Model], attribute: str) -> bool:
    """Whether the field's values repeat across records (a status, a stock level, a price; not a
    title or a text): its checks are remembered per value (a first full sync checks them all)."""
    field = model._meta.get_field(attribute)
    return bool(field.choices) or not isinstance(field, (models.CharField, models.TextField, models.JSONField))


@functools.lru_cache(maxsize=4096)
def _remembered_problem(model, attribute: str, kind: type, value: Any, language: str | None) -> str | None:
    return field_problem(model, attribute, value)  # ``kind`` and ``language``: keys only (1 == 1.0 == True)


@dataclass(frozen=True)
class Remote:
    """A shop record in hub terms."""

    id: int
    values: dict[str, Any]
    modified: datetime | None
    record: Any  # the connector's dataclass


class EntityAdapter:
    entity: str
    model: type[models.Model]
    # platform model attribute -> hub field name
    attributes: dict[str, str]
    writable_in_store = True
    # The platform attribute that names the same record on both sides (products: the sku, the
    # shop's reference; customers: the e-mail): a record created on both sides is one record.
    identity: str | None = None
    identity_in_shop: str | None = None  # its name in the shop (``EcommerceService.find_ids``)

    def platform_values(self, obj: models.Model) -> dict[str, Any]:
        return {name: normalize(self.entity, name, getattr(obj, attr)) for attr, name in self.attributes.items()}

    def apply(self, obj: models.Model, values: Mapping[str, Any]) -> list[str]:
        """Set hub values on a platform object; returns the model fields changed."""
        changed = []
        for attr, name in self.attributes.items():
            if name in values:
                setattr(obj, attr, values[name])
                changed.append(attr)
        return changed

    def new_platform(self, store, remote: Remote, values: Mapping[str, Any]) -> models.Model:
        obj = self.model(store_id=store.pk, id_origin=remote.id, origin_date_upd=remote.modified)
        self.apply(obj, values)
        return obj

    def remote(self, record: Any) -> Remote:
        return Remote(record.id, self.store_values(record), record.date_upd, record)

    def store_values(self, record: Any) -> dict[str, Any]:
        raise NotImplementedError

    def iterate(
        self, service: EcommerceService, since: datetime | None, page_size: int, *, after_id: int | None = None
    ) -> Iterator[Any]:
        raise NotImplementedError

    def fetch(self, service: EcommerceService, ids: Iterable[int]) -> list[Remote]:
        raise NotImplementedError

    def extent(self, service: EcommerceService) -> Extent:
        return service.extent(self.entity)

    def ids(self, service: EcommerceService, page_size: int) -> Iterator[list[int]]:
        """Pages of the shop's ids of this entity, ascending (a reconciliation sweep)."""
        return service.iter_ids(self.entity, page_size=page_size)

    def delete_store(self, service: EcommerceService, shop_id: int) -> None:
        service.delete(self.entity, shop_id)

    def update_store(self, service: EcommerceService, shop_id: int, values: Mapping[str, Any]) -> Remote:
        raise NotImplementedError

    def create_store(self, service: EcommerceService, values: Mapping[str, Any]) -> Remote:
        raise NotImplementedError

    def find_in_store(self, service: EcommerceService, values: Mapping[str, Any]) -> Remote | None:
        """The shop record carrying these values' identity (the first one), if any."""
        value = str(values.get(self.identity or "") or "").strip()
        if self.identity_in_shop is None or not value:
            return None
        ids = service.find_ids(self.entity, self.identity_in_shop, value)
        found = self.fetch(service, ids[:1]) if ids else []
        return found[0] if found else None


class ProductAdapter(EntityAdapter):
    entity = EntityType.PRODUCTS
    model = Product
    identity = "sku"
    identity_in_shop = "reference"
    attributes = {
        "name": "title",
        "description": "description",
        "price": "price",
        "inventory": "inventory",
        "sku": "sku",
        "status": "status",
    }

    def store_values(self, record: RemoteProduct) -> dict[str, Any]:
        return {
            "title": record.name,
            "description": record.description,
            "price": _decimal(record.price),
            "inventory": int(record.quantity or 0),
            "sku": record.reference,
            "status": _status(record.active),
        }

    def iterate(self, service, since, page_size, *, after_id=None):
        return service.iter_products(since=since, after_id=after_id, page_size=page_size)

    def fetch(self, service, ids):
        return [self.remote(r) for r in service.fetch_products(ids)]

    def update_store(self, service, shop_id, values):
        return self.remote(service.update_product(shop_id, dict(values)))

    def create_store(self, service, values):
        return self.remote(service.create_product(dict(values)))


class CustomerAdapter(EntityAdapter):
    entity = EntityType.CUSTOMERS
    model = Customer
    attributes = {"email": "email", "first_name": "first_name", "last_name": "last_name"}
    identity = "email"
    identity_in_shop = "email"

    def store_values(self, record: RemoteCustomer) -> dict[str, Any]:
        return {"email": record.email, "first_name": record.first_name, "last_name": record.last_name}

    def iterate(self, service, since, page_size, *, after_id=None):
        return service.iter_customers(since=since, after_id=after_id, page_size=page_size)

    def fetch(self, service, ids):
        return [self.remote(r) for r in service.fetch_customers(ids)]

    def update_store(self, service, shop_id, values):
        return self.remote(service.update_customer(shop_id, dict(values)))

    def create_store(self, service, values):
        return self.remote(service.create_customer(dict(values)))


class OrderAdapter(EntityAdapter):
    entity = EntityType.ORDERS
    model = Order
    attributes = {"status": "status", "total": "total", "customer_info": "customer_info"}
    writable_in_store = False

    def store_values(self, record: RemoteOrder) -> dict[str, Any]:
        return {"status": record.status, "total": _decimal(record.total), "customer_info": _info(record.customer_info)}

    def new_platform(self, store, remote, values):
        obj = super().new_platform(store, remote, values)
        obj.reference = remote.record.reference[:64]
        return obj

    def iterate(self, service, since, page_size, *, after_id=None):
        return service.iter_orders(since=since, after_id=after_id, page_size=page_size)

    def fetch(self, service, ids):
        return [self.remote(r) for r in service.fetch_orders(ids)]


ADAPTERS: dict[str, EntityAdapter] = {
    adapter.entity: adapter for adapter in (ProductAdapter(), CustomerAdapter(), OrderAdapter())
}
