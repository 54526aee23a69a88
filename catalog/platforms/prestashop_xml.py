"""PrestaShop payloads: the XML documents of the webservice, and the conversion
of its records (XML or JSON) to and from the hub's values.

PrestaShop reads XML only, and a PUT replaces the whole entity: a field left
out of the body is wiped. So a PUT always starts from a complete document
(the entity, or ``?schema=blank`` for a new one), changes some fields and sends
the document back, without the fields the webservice refuses to set. PrestaShop 8
also takes PATCH, whose body carries only the fields that change.

Every value of a record is a string (``"24.710744"``, ``"1"``, ``""`` for
none); multilingual fields are ``[{"id": "1", "value": ...}, ...]`` in JSON,
or a plain string when the shop has one language.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from .base import CUSTOMER_FIELDS, PRODUCT_FIELDS, RemoteCustomer, RemoteOrder, RemoteProduct
from .errors import PlatformBadResponse, ShopError

XLINK_NS = "http://www.w3.org/1999/xlink"
ET.register_namespace("xlink", XLINK_NS)

# Fields with ``'setter' => false`` in PrestaShop, by entity: sending them back is error 93.
READ_ONLY_FIELDS = {"product": frozenset({"manufacturer_name", "quantity"})}
SHOP_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
CUSTOMER_FIELD_MAP = {"email": "email", "first_name": "firstname", "last_name": "lastname"}


# XML documents


def parse(body: bytes) -> ET.Element:
    """Parse a webservice document; raises ``xml.etree.ElementTree.ParseError``."""
    return ET.fromstring(body)


def to_bytes(root: ET.Element) -> bytes:
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def declination_ids(root: ET.Element) -> list[int]:
    """Image ids of ``/api/images/products/{id}``: ``<image><declination id=..>``."""
    return [int(node.get("id", "")) for node in root.iterfind("./image/declination") if node.get("id", "").isdigit()]


def entity(root: ET.Element, name: str) -> ET.Element:
    """The ``<product>`` (or other) element of a ``<prestashop>`` document."""
    node = root.find(name)
    if node is None:
        raise PlatformBadResponse(f"The shop's XML document has no <{name}> element")
    return node


def set_fields(node: ET.Element, values: Mapping[str, str]) -> None:
    """Set fields of an entity; a multilingual field gets the value in every language."""
    for name, value in values.items():
        field = node.find(name)
        if field is None:
            field = ET.SubElement(node, name)
        for target in field.findall("language") or [field]:
            target.text = value


def field_languages(node: ET.Element) -> dict[str, list[str]]:
    """The language ids of each multilingual field of an entity (or blank schema)."""
    return {
        child.tag: [language.get("id", "") for language in child.findall("language")]
        for child in node
        if child.find("language") is not None
    }


def patch_document(
    singular: str, record_id: int, values: Mapping[str, str], languages: Mapping[str, list[str]]
) -> ET.Element:
    """A PATCH body (PrestaShop 8): the entity's id and only the fields that change, a
    multilingual one in each of its ``languages`` (:func:`field_languages`)."""
    root = ET.Element("prestashop")
    node = ET.SubElement(root, singular)
    ET.SubElement(node, "id").text = str(int(record_id))
    for name in values:
        field = ET.SubElement(node, name)
        for language in languages.get(name, ()):
            ET.SubElement(field, "language", id=language)
    set_fields(node, values)
    return root


def prepare_update(node: ET.Element) -> None:
    """Drop what a PUT must not carry: read-only and computed (``notFilterable``) fields.

    Computed fields such as ``id_default_image`` or ``position_in_category``
    have setters with side effects; left out, they are simply not touched.
    """
    for child in list(node):
        if child.tag in READ_ONLY_FIELDS.get(node.tag, ()) or child.get("notFilterable") == "true":
            node.remove(child)


def prepare_create(node: ET.Element) -> None:
    """Turn a filled blank schema into a POST body.

    On top of :func:`prepare_update`: no ``id`` (error 91), no associations
    (the blank schema's empty placeholders are not valid), and no empty plain
    fields, so that the shop's defaults apply instead of empty strings.
    """
    prepare_update(node)
    for child in list(node):
        is_multilingual = child.find("language") is not None
        if child.tag in ("id", "associations") or (not is_multilingual and not (child.text or "").strip()):
            node.remove(child)


def row_from_xml(node: ET.Element) -> dict[str, Any]:
    """An entity element as the JSON output would give it: plain fields as text,
    multilingual ones as ``[{"id", "value"}]``, associations as lists of dicts."""
    row: dict[str, Any] = {}
    for child in node:
        languages = child.findall("language")
        if child.tag == "associations":
            row[child.tag] = {
                group.tag: [{leaf.tag: leaf.text or "" for leaf in item} for item in group] for group in child
            }
        elif languages:
            row[child.tag] = [{"id": lang.get("id", ""), "value": lang.text or ""} for lang in languages]
        else:
            row[child.tag] = child.text or ""
    return row


def stock_available_id(node: ET.Element) -> int | None:
    """The id of a product's own ``stock_available`` row (``id_product_attribute`` 0)."""
    for row in node.iterfind("./associations/stock_availables/stock_available"):
        if (row.findtext("id_product_attribute") or "0").strip() == "0":
            row_id = (row.findtext("id") or "").strip()
            return int(row_id) if row_id.isdigit() else None
    return None


def error_entries(body: bytes) -> list[ShopError]:
    """The errors of an XML ``<errors>`` or JSON ``{"errors": [...]}`` envelope.

    Empty for plain-text, empty or unparseable bodies (a 401 is plain text).
    """
    body = body.strip()
    try:
        if body.startswith(b"<"):
            return [
                _shop_error(e.findtext("code"), e.findtext("message")) for e in parse(body).iterfind("./errors/error")
            ]
        if body.startswith(b"{"):
            entries = json.loads(body).get("errors") or []
            return [_shop_error(e.get("code"), e.get("message")) for e in entries if isinstance(e, dict)]
    except (ET.ParseError, ValueError, AttributeError):
        pass
    return []


def _shop_error(code: Any, message: Any) -> ShopError:
    code_text = str(code or "").strip()
    return ShopError(int(code_text) if code_text.isdigit() else None, str(message or "").strip())


# Hub values -> shop fields


def product_changes(values: Mapping[str, Any]) -> tuple[dict[str, str], int | None]:
    """Hub product fields -> PrestaShop product fields, and the new stock quantity if any."""
    unknown = set(values) - PRODUCT_FIELDS
    if unknown:
        raise ValueError(f"Unknown product fields: {', '.join(sorted(unknown))}")
    changes: dict[str, str] = {}
    if "title" in values:
        changes["name"] = str(values["title"])
    if "description" in values:
        changes["description"] = str(values["description"] or "")
    if "price" in values:
        changes["price"] = f"{Decimal(str(values['price'])):.6f}"
    if "sku" in values:
        changes["reference"] = str(values["sku"] or "")
    if "status" in values:
        changes["active"] = _active_flag(values["status"])
    inventory = int(values["inventory"]) if values.get("inventory") is not None else None
    return changes, inventory


def _active_flag(status: Any) -> str:
    if status in ("active", True):
        return "1"
    if status in ("inactive", False):
        return "0"
    raise ValueError(f"Unknown product status {status!r}; use 'active' or 'inactive'.")


def customer_changes(values: Mapping[str, Any]) -> dict[str, str]:
    """Hub customer fields -> PrestaShop customer fields."""
    unknown = set(values) - CUSTOMER_FIELDS
    if unknown:
        raise ValueError(f"Unknown customer fields: {', '.join(sorted(unknown))}")
    return {CUSTOMER_FIELD_MAP[name]: str(value or "") for name, value in values.items()}


# Shop records -> dataclasses


def product_from_row(row: Mapping[str, Any], quantity: int | None) -> RemoteProduct:
    return RemoteProduct(
        id=int(row["id"]),
        name=first_language(row.get("name")),
        reference=str(row.get("reference") or ""),
        price=Decimal(str(row.get("price") or "0")),
        description=first_language(row.get("description")),
        active=_flag(row.get("active")),
        quantity=quantity,
        id_default_image=optional_id(row.get("id_default_image")),
        image_ids=tuple(int(item["id"]) for item in _association(row, "images")),
        date_upd=parse_datetime(row.get("date_upd")),
    )


def customer_from_row(row: Mapping[str, Any]) -> RemoteCustomer:
    return RemoteCustomer(
        id=int(row["id"]),
        email=str(row.get("email") or ""),
        first_name=str(row.get("firstname") or ""),
        last_name=str(row.get("lastname") or ""),
        active=_flag(row.get("active")),
        date_upd=parse_datetime(row.get("date_upd")),
    )


def order_from_row(row: Mapping[str, Any], customer_info: Mapping[int, dict[str, str]]) -> RemoteOrder:
    customer_id = optional_id(row.get("id_customer"))
    return RemoteOrder(
        id=int(row["id"]),
        reference=str(row.get("reference") or ""),
        customer_id=customer_id,
        status=str(row.get("current_state") or ""),
        total=Decimal(str(row.get("total_paid") or "0")),
        customer_info=dict(customer_info.get(customer_id or 0, {})),
        date_upd=parse_datetime(row.get("date_upd")),
    )


def first_language(value: Any) -> str:
    """The first language's text of a multilingual value (or the value, if a plain string)."""
    if isinstance(value, list):
        return str(value[0].get("value") or "") if value else ""
    return str(value or "")


def _association(row: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    """Items of an association; it may be absent, ``[]`` or ``{}`` when empty."""
    associations = row.get("associations") or {}
    return associations.get(name) or []


def _flag(value: Any) -> bool:
    return str(value or "0").strip() not in ("", "0")


def optional_id(value: Any) -> int | None:
    """An id where PrestaShop writes ``""`` or ``"0"`` for none (``id_default_image``, ``id_customer``)."""
    number = int(value) if str(value or "").strip() else 0
    return number or None


def parse_datetime(value: Any) -> datetime | None:
    """Shop dates are naive ``YYYY-MM-DD HH:MM:SS``; they are taken as UTC."""
    text = str(value or "").strip()
    if not text or text.startswith("0000-00-00"):
        return None
    return datetime.strptime(text, SHOP_DATETIME_FORMAT).replace(tzinfo=UTC)


def shop_datetime(moment: datetime) -> str:
    """A filter value for a shop date; naive datetimes are taken as UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime(SHOP_DATETIME_FORMAT)


def id_filter(ids: Iterable[int]) -> str:
    """``[1|2|3]``: PrestaShop's OR filter."""
    return "[" + "|".join(str(int(i)) for i in ids) + "]"
