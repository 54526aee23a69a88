"""What the simulated webservice knows about its resources: fields, their
flags (multilingual, required, read-only, computed), associations, and the
rules of PrestaShop's ``filter[...]`` expressions and field validation."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


class SimError(Exception):
    """A webservice error: rendered as the PrestaShop error envelope."""

    def __init__(self, status: int, code: int, message: str, *, more: tuple[tuple[int, str], ...] = ()) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.more = more  # further (code, message) entries: errors accumulate in PrestaShop


@dataclass(frozen=True)
class Field:
    """A field of a resource, with the webservice flags that change how it behaves."""

    name: str
    i18n: bool = False
    required: bool = False
    writable: bool = True  # False: PrestaShop's ``'setter' => false`` (error 93)
    computed: bool = False  # a getter: rendered notFilterable, not filterable (error 34)
    kind: str = "text"  # text, int, float, bool, date, email: checked on writes
    link: str | None = None  # xlink target of an id_* field


@dataclass(frozen=True)
class Association:
    """A list under ``<associations>``, e.g. ``images`` of ``image`` items with an ``id``."""

    name: str
    node: str
    fields: tuple[str, ...] = ("id",)
    link: str | None = None  # xlink target of an item, before its id


@dataclass(frozen=True)
class Resource:
    """A webservice resource (``/api/products``) and the methods its key may use."""

    name: str
    singular: str
    fields: tuple[Field, ...]
    associations: tuple[Association, ...] = ()
    methods: frozenset[str] = frozenset({"GET", "PUT", "PATCH", "POST", "DELETE"})

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


def _fields(spec: str, **options: Any) -> tuple[Field, ...]:
    return tuple(Field(name, **options) for name in spec.split())


PRODUCTS = Resource(
    "products",
    "product",
    (
        Field("id", kind="int"),
        Field("id_manufacturer", kind="int", link="manufacturers"),
        Field("id_category_default", kind="int", link="categories"),
        Field("id_default_image", computed=True, kind="int", link="images/products/{id}"),
        Field("id_tax_rules_group", kind="int", link="tax_rule_groups"),
        Field("position_in_category", computed=True, kind="int"),
        Field("manufacturer_name", computed=True, writable=False),
        Field("quantity", computed=True, writable=False, kind="int"),
        Field("type", computed=True),
        Field("reference"),
        Field("ean13"),
        Field("weight", kind="float"),
        Field("state", kind="int"),
        Field("price", required=True, kind="float"),
        Field("wholesale_price", kind="float"),
        Field("active", kind="bool"),
        Field("date_add", kind="date"),
        Field("date_upd", kind="date"),
        Field("name", i18n=True, required=True),
        Field("link_rewrite", i18n=True),
        Field("description", i18n=True),
        Field("description_short", i18n=True),
    ),
    (
        Association("categories", "category", link="categories"),
        Association("images", "image", link="images/products/{id}"),
        Association("stock_availables", "stock_available", ("id", "id_product_attribute"), link="stock_availables"),
    ),
)
STOCK_AVAILABLES = Resource(
    "stock_availables",
    "stock_available",
    (
        Field("id", kind="int"),
        *_fields("id_product id_product_attribute quantity depends_on_stock out_of_stock", required=True, kind="int"),
        *_fields("id_shop id_shop_group", kind="int"),
        Field("location"),
    ),
    methods=frozenset({"GET", "PUT", "PATCH"}),
)
CUSTOMERS = Resource(
    "customers",
    "customer",
    (
        Field("id", kind="int"),
        Field("id_default_group", kind="int", link="groups"),
        Field("id_lang", kind="int"),
        Field("secure_key"),
        Field("deleted", kind="bool"),
        Field("passwd", required=True),
        Field("lastname", required=True),
        Field("firstname", required=True),
        Field("email", required=True, kind="email"),
        Field("id_gender", kind="int"),
        Field("birthday"),
        Field("newsletter", kind="bool"),
        Field("note"),
        Field("active", kind="bool"),
        Field("is_guest", kind="bool"),
        Field("id_shop", kind="int"),
        Field("date_add", kind="date"),
        Field("date_upd", kind="date"),
    ),
    (Association("groups", "group", link="groups"),),
)
ORDERS = Resource(
    "orders",
    "order",
    (
        Field("id", kind="int"),
        *_fields("id_address_delivery id_address_invoice id_cart id_currency id_lang", kind="int"),
        Field("id_customer", kind="int", link="customers"),
        Field("id_carrier", kind="int"),
        Field("current_state", kind="int", link="order_states"),
        Field("module"),
        Field("valid", kind="bool"),
        Field("date_add", kind="date"),
        Field("date_upd", kind="date"),
        Field("payment"),
        *_fields(
            "total_paid total_paid_tax_incl total_paid_tax_excl total_paid_real total_products "
            "total_products_wt total_shipping conversion_rate",
            kind="float",
        ),
        Field("reference"),
    ),
    (
        Association(
            "order_rows",
            "order_row",
            (
                "id",
                "product_id",
                "product_attribute_id",
                "product_quantity",
                "product_name",
                "product_reference",
                "product_price",
            ),
        ),
    ),
    methods=frozenset({"GET"}),
)
RESOURCES = {r.name: r for r in (PRODUCTS, STOCK_AVAILABLES, CUSTOMERS, ORDERS)}


def filterable_field(resource: Resource, name: str, *, dates: bool, code: int) -> Field:
    """The field a filter or sort names; refused as PrestaShop does (code 32 for filters, 38 for sorts)."""
    f = resource.field(name)
    if f is None or (f.kind == "date" and name in ("date_add", "date_upd") and not dates):
        raise SimError(400, code, f'This filter does not exist. Did you mean: "{name}"? (date filters need date=1)')
    if f.computed:
        raise SimError(
            400, 34, f'The field "{name}" is dynamic. It is not possible to filter GET query with this field.'
        )
    return f


def validate(resource: Resource, record: Mapping[str, Any]) -> None:
    """PrestaShop's field validation after a write: codes 84 (empty required text) and 85."""
    for f in resource.fields:
        value = record.get(f.name)
        if f.i18n and f.required and not (value or {}).get(1):
            raise SimError(400, 84, f'Validation error: "Property {resource.singular.title()}->{f.name} is empty."')
        if isinstance(value, str) and value and not _valid(f.kind, value):
            raise SimError(400, 85, f'Validation error: "Property {resource.singular.title()}->{f.name} is not valid"')


def _valid(kind: str, value: str) -> bool:
    checks = {
        "int": lambda v: re.fullmatch(r"-?\d+", v),
        "bool": lambda v: v in ("0", "1"),
        "float": lambda v: re.fullmatch(r"-?\d+(\.\d+)?", v),
        "date": lambda v: re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", v),
        "email": lambda v: re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v),
    }
    return bool(checks.get(kind, lambda v: True)(value))


_FILTER = re.compile(r"^(.*)\[(.*)\](.*)$")
_RANGE = re.compile(r"^([\d.:\-\s]+),([\d.:\-\s]+)$")


def explicit_ids(expression: str) -> list[int] | None:
    """The ids of an ``[a|b]`` / ``[a]`` filter, to avoid scanning every record."""
    match = re.fullmatch(r"\[([\d|]+)\]", expression)
    return [int(i) for i in match.group(1).split("|") if i] if match else None


def compile_filter(expression: str) -> Callable[[Any], bool]:
    """PrestaShop's ``getSQLRetrieveFilter`` as a predicate on a stored value.

    A multilingual value matches when any of its languages does.
    """
    test = _value_test(expression)
    return lambda value: any(map(test, value.values())) if isinstance(value, dict) else test(value)


def _value_test(expression: str) -> Callable[[str], bool]:
    match = _FILTER.match(expression)
    if not match:
        return lambda value: _compare(value, expression) == 0
    prefix, inner, suffix = match.groups()
    if "%" in (prefix, suffix):
        pattern = re.compile(re.escape(prefix + inner + suffix).replace("%", ".*"), re.IGNORECASE)
        return lambda value: pattern.fullmatch(value) is not None
    if prefix == ">":
        return lambda value: _compare(value, inner) > 0
    if prefix == "<":
        return lambda value: _compare(value, inner) < 0
    if prefix == "!":
        excluded = {sort_key(v) for v in inner.split("|")}
        return lambda value: sort_key(value) not in excluded
    between = _RANGE.match(inner)
    if between and "|" not in inner:
        low, high = sorted(between.groups(), key=sort_key)  # numbers as numbers: [9950,10049]
        return lambda value: _compare(value, low) >= 0 and _compare(value, high) <= 0
    accepted = {sort_key(v) for v in inner.split("|")}
    return lambda value: sort_key(value) in accepted


def _compare(value: str, other: str) -> int:
    left, right = sort_key(value), sort_key(other)
    return (left > right) - (left < right)


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def field_sort_key(f: Field) -> Callable[[Any], Any]:
    """A sort key for the stored values of one field, cheaper than :func:`sort_key` where the kind allows."""
    if f.i18n:
        return lambda value: value.get(1, "").lower()
    if f.kind == "int":
        return lambda value: (0, int(value)) if value.isdigit() else sort_key(value)
    if f.kind in ("date", "bool"):
        return lambda value: value  # fixed-width digits: text order is time order
    return sort_key


def sort_key(value: Any) -> tuple[int, Any]:
    """Numbers compare as numbers and before text; a multilingual value by its first language."""
    return _text_key(str(value.get(1, "") if isinstance(value, dict) else value))


@functools.lru_cache(maxsize=1 << 16)  # the same ids and dates are compared on every list request
def _text_key(text: str) -> tuple[int, Any]:
    if _NUMBER.fullmatch(text):
        return (0, Decimal(text))
    return (1, text.lower())
