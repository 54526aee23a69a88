"""In-memory state of the shop simulator: resources, their records and the
webservice's query and write rules (filters, sort, limit, PUT wiping).

Every stored value is a string, as in PrestaShop; a multilingual value is a
``{language id: text}`` dict. The rules follow ``shared/prestashop-webservice.md``.
"""

from __future__ import annotations

import hashlib
import io
import random
import re
import threading
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from PIL import Image, ImageDraw

DEMO_API_KEY = "SIMULATORDEMOKEY0123456789ABCDEF"
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
EPOCH = datetime(2024, 1, 1, 8, 0, 0)
IMAGE_MODES = ("normal", "corrupt", "html", "huge", "huge_chunked", "missing")
FIRST_NAMES = ("Ada", "Bruno", "Chiara", "Dewi", "Elodie", "Farid", "Giulia", "Hugo", "Intan", "Jules")
LAST_NAMES = ("Rossi", "Martin", "Santoso", "Bernard", "Bianchi", "Wijaya", "Dubois", "Ferrari")


class SimError(Exception):
    """A webservice error: rendered as the PrestaShop error envelope."""

    def __init__(self, status: int, code: int, message: str, *, more: tuple[tuple[int, str], ...] = ()) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.more = more  # further (code, message) entries: errors accumulate in PrestaShop


@dataclass(frozen=True)
class Field:
    name: str
    i18n: bool = False
    required: bool = False
    writable: bool = True  # False: PrestaShop's ``'setter' => false`` (error 93)
    computed: bool = False  # a getter: rendered notFilterable, not filterable (error 34)
    kind: str = "text"  # text, int, float, bool, date, email: checked on writes
    link: str | None = None  # xlink target of an id_* field


@dataclass(frozen=True)
class Association:
    name: str
    node: str
    fields: tuple[str, ...] = ("id",)
    link: str | None = None  # xlink target of an item, before its id


@dataclass(frozen=True)
class Resource:
    name: str
    singular: str
    fields: tuple[Field, ...]
    associations: tuple[Association, ...] = ()
    methods: frozenset[str] = frozenset({"GET", "PUT", "PATCH", "POST"})

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


def _fields(spec: str, **options: Any) -> tuple[Field, ...]:
    return tuple(Field(name, **options) for name in spec.split())


PRODUCTS = Resource("products", "product", (
    Field("id", kind="int"),
    Field("id_manufacturer", kind="int", link="manufacturers"),
    Field("id_category_default", kind="int", link="categories"),
    Field("id_default_image", computed=True, kind="int", link="images/products/{id}"),
    Field("id_tax_rules_group", kind="int", link="tax_rule_groups"),
    Field("position_in_category", computed=True, kind="int"),
    Field("manufacturer_name", computed=True, writable=False),
    Field("quantity", computed=True, writable=False, kind="int"),
    Field("type", computed=True),
    Field("reference"), Field("ean13"), Field("weight", kind="float"), Field("state", kind="int"),
    Field("price", required=True, kind="float"), Field("wholesale_price", kind="float"),
    Field("active", kind="bool"), Field("date_add", kind="date"), Field("date_upd", kind="date"),
    Field("name", i18n=True, required=True), Field("link_rewrite", i18n=True),
    Field("description", i18n=True), Field("description_short", i18n=True),
), (Association("categories", "category", link="categories"), Association("images", "image", link="images/products/{id}"),
    Association("stock_availables", "stock_available", ("id", "id_product_attribute"), link="stock_availables")))
STOCK_AVAILABLES = Resource("stock_availables", "stock_available", (
    Field("id", kind="int"),
    *_fields("id_product id_product_attribute quantity depends_on_stock out_of_stock", required=True, kind="int"),
    *_fields("id_shop id_shop_group", kind="int"), Field("location"),
), methods=frozenset({"GET", "PUT", "PATCH"}))
CUSTOMERS = Resource("customers", "customer", (
    Field("id", kind="int"), Field("id_default_group", kind="int", link="groups"), Field("id_lang", kind="int"),
    Field("secure_key"), Field("deleted", kind="bool"), Field("passwd", required=True),
    Field("lastname", required=True), Field("firstname", required=True), Field("email", required=True, kind="email"),
    Field("id_gender", kind="int"), Field("birthday"), Field("newsletter", kind="bool"), Field("note"),
    Field("active", kind="bool"), Field("is_guest", kind="bool"), Field("id_shop", kind="int"),
    Field("date_add", kind="date"), Field("date_upd", kind="date"),
), (Association("groups", "group", link="groups"),))
ORDERS = Resource("orders", "order", (
    Field("id", kind="int"),
    *_fields("id_address_delivery id_address_invoice id_cart id_currency id_lang", kind="int"),
    Field("id_customer", kind="int", link="customers"), Field("id_carrier", kind="int"),
    Field("current_state", kind="int", link="order_states"), Field("module"), Field("valid", kind="bool"),
    Field("date_add", kind="date"), Field("date_upd", kind="date"), Field("payment"),
    *_fields("total_paid total_paid_tax_incl total_paid_tax_excl total_paid_real total_products "
             "total_products_wt total_shipping conversion_rate", kind="float"),
    Field("reference"),
), (Association("order_rows", "order_row", ("id", "product_id", "product_attribute_id", "product_quantity",
                                             "product_name", "product_reference", "product_price")),),
    methods=frozenset({"GET"}))
RESOURCES = {r.name: r for r in (PRODUCTS, STOCK_AVAILABLES, CUSTOMERS, ORDERS)}


@dataclass
class SimImage:
    id: int
    version: int = 1
    mode: str = "normal"


@dataclass
class Failure:
    """An injected failure: the next API request answers ``status`` with this body."""

    status: int = 503
    body: str = "error"  # error (PrestaShop envelope), html, empty
    retry_after: float | None = None


@dataclass
class Stats:
    """Request counters by kind (``products_list``, ``image_get``...) and the last requests."""

    counts: Counter[str] = field(default_factory=Counter)
    recent: deque[str] = field(default_factory=lambda: deque(maxlen=200))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, amount: int = 1) -> None:
        with self.lock:
            self.counts[kind] += amount

    def note(self, request_line: str) -> None:
        with self.lock:
            self.counts["total"] += 1
            self.recent.append(request_line)

    def reset(self) -> None:
        with self.lock:
            self.counts.clear()
            self.recent.clear()

    def as_dict(self) -> dict[str, Any]:
        with self.lock:
            return {"total": 0, **self.counts, "recent": list(self.recent)}


def now_text() -> str:
    return datetime.now(UTC).strftime(DATETIME_FORMAT)


class ShopSimulator:
    """A shop's data and behaviour options; thread-safe."""

    def __init__(
        self,
        *,
        products: int = 25,
        customers: int = 10,
        orders: int = 10,
        seed: int = 42,
        no_image_ratio: float = 0.1,
        languages: int = 2,
        api_key: str = DEMO_API_KEY,
        latency_ms: float = 0.0,
        failure_rate: float = 0.0,
    ) -> None:
        self.lock = threading.RLock()
        self.languages = tuple(range(1, languages + 1))
        self.api_key, self.latency_ms, self.failure_rate = api_key, latency_ms, failure_rate
        self.fail_next: deque[Failure] = deque()
        self.stats = Stats()
        self.records: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in RESOURCES}
        self.images: dict[int, list[SimImage]] = {}
        self._rng = random.Random(seed)
        self._failure_rng = random.Random(seed + 1)
        self._image_cache: dict[tuple[int, int, int], tuple[bytes, str]] = {}
        self._next_image_id = 1
        self._generate(products, customers, orders, no_image_ratio)

    # Data generation

    def _generate(self, products: int, customers: int, orders: int, no_image_ratio: float) -> None:
        rng = self._rng
        for pid in range(1, products + 1):
            self._add_product(pid, rng, with_images=rng.random() >= no_image_ratio)
        for cid in range(1, customers + 1):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            self._store(CUSTOMERS, cid, _dates(cid, rng) | {
                "id_default_group": "3", "id_lang": "1", "secure_key": f"{rng.getrandbits(128):032x}",
                "deleted": "0", "passwd": _hash_password(f"secret{cid}"), "lastname": last, "firstname": first,
                "email": f"{first}.{last}{cid}@example.com".lower(), "id_gender": str(rng.randint(1, 2)),
                "active": "1", "is_guest": "0", "id_shop": "1",
            }, {"groups": [{"id": "3"}]})
        for oid in range(1, orders + 1):
            self._add_order(oid, rng, customers, products)

    def _add_product(self, pid: int, rng: random.Random, *, with_images: bool) -> None:
        self._store(PRODUCTS, pid, _dates(pid, rng) | {
            "id_manufacturer": "1", "id_category_default": "2", "id_tax_rules_group": "1",
            "reference": f"REF{pid:05d}", "price": f"{rng.uniform(1, 500):.6f}", "state": "1",
            "wholesale_price": "0.000000", "weight": "0.000000", "active": "1" if rng.random() > 0.05 else "0",
            "name": {1: f"Product {pid}", 2: f"Produit {pid}"}, "link_rewrite": {1: f"product-{pid}", 2: f"produit-{pid}"},
            "description": {1: f"<p>Description of product {pid}.</p>", 2: f"<p>Description du produit {pid}.</p>"},
            "description_short": {1: "", 2: ""},
        }, {"categories": [{"id": "2"}]})
        self._store(STOCK_AVAILABLES, pid, {
            "id_product": str(pid), "id_product_attribute": "0", "id_shop": "1", "id_shop_group": "0",
            "quantity": str(rng.randint(0, 200)), "depends_on_stock": "0", "out_of_stock": "2",
        })
        self.images[pid] = [self._new_image() for _ in range(rng.randint(1, 3))] if with_images else []

    def _add_order(self, oid: int, rng: random.Random, customers: int, products: int) -> None:
        rows = []
        for row_id in range(1, rng.randint(1, 3) + 1):
            pid = rng.randint(1, max(products, 1))
            rows.append({"id": str(oid * 10 + row_id), "product_id": str(pid), "product_attribute_id": "0",
                         "product_quantity": str(rng.randint(1, 4)), "product_name": f"Product {pid}",
                         "product_reference": f"REF{pid:05d}", "product_price": f"{rng.uniform(1, 500):.6f}"})
        total = sum(Decimal(r["product_price"]) * int(r["product_quantity"]) for r in rows)
        self._store(ORDERS, oid, _dates(oid, rng) | {
            "id_customer": str(rng.randint(1, customers)) if customers else "0", "id_currency": "1", "id_lang": "1",
            "current_state": str(rng.randint(1, 12)), "module": "ps_checkpayment", "valid": "1",
            "payment": "Payment by check", "reference": "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ", k=9)),
            **dict.fromkeys(("total_paid", "total_paid_tax_incl", "total_paid_real", "total_products_wt"),
                            f"{total:.6f}"),
            "conversion_rate": "1.000000",
        }, {"order_rows": rows})

    def _store(self, resource: Resource, record_id: int, values: Mapping[str, Any],
               associations: Mapping[str, list[dict[str, str]]] | None = None) -> None:
        record = self._new_record(resource, record_id, values)
        record["associations"] = dict(associations or {})
        self.records[resource.name][record_id] = record

    def _new_record(self, resource: Resource, record_id: int, values: Mapping[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {"id": str(record_id), "associations": {}}
        for f in resource.fields:
            if f.name != "id" and not f.computed:
                default = dict.fromkeys(self.languages, "") if f.i18n else ""
                record[f.name] = values.get(f.name, default)
        return record

    def _new_image(self) -> SimImage:
        image = SimImage(self._next_image_id)
        self._next_image_id += 1
        return image

    # Reading

    def view(self, resource: Resource, record_id: int) -> dict[str, Any]:
        """A record with its computed fields and associations, ready to render."""
        record = self.records[resource.name][record_id]
        view = {f.name: record.get(f.name, "") for f in resource.fields}
        associations = dict(record["associations"])
        if resource is PRODUCTS:
            images = self.images.get(record_id, [])
            stock = self.records["stock_availables"].get(record_id)
            view |= {"id_default_image": str(images[0].id) if images else "", "position_in_category": "0",
                     "manufacturer_name": "Simulated Manufacturer", "type": "simple",
                     "quantity": stock["quantity"] if stock else "0"}
            associations["images"] = [{"id": str(image.id)} for image in images]
            associations["stock_availables"] = [{"id": str(record_id), "id_product_attribute": "0"}] if stock else []
        view["associations"] = associations
        return view

    def query(self, resource: Resource, filters: Mapping[str, str], sort: list[tuple[str, bool]],
              limit: tuple[int, int | None], *, dates: bool) -> list[int]:
        """Ids matching PrestaShop's ``filter[...]``, ``sort`` and ``limit`` (already parsed)."""
        for name in [*filters, *(name for name, _ in sort)]:
            self._check_filterable(resource, name, dates=dates, code=32 if name in filters else 38)
        records = self.records[resource.name]
        candidates = sorted(records)
        if "id" in filters:
            candidates = [i for i in _explicit_ids(filters["id"]) or candidates if i in records]
        matches = [i for i in candidates if all(_matches(records[i][n], v) for n, v in filters.items())]
        for name, descending in reversed(sort):
            matches.sort(key=lambda i, n=name: _sort_key(records[i][n]), reverse=descending)
        offset, count = limit
        return matches[offset:None if count is None else offset + count]

    @staticmethod
    def _check_filterable(resource: Resource, name: str, *, dates: bool, code: int) -> None:
        f = resource.field(name)
        if f is None or (f.kind == "date" and name in ("date_add", "date_upd") and not dates):
            raise SimError(400, code, f'This filter does not exist. Did you mean: "{name}"? (date filters need date=1)')
        if f.computed:
            raise SimError(400, 34, f'The field "{name}" is dynamic. It is not possible to filter GET query with this field.')

    # Writing

    def write(self, resource: Resource, method: str, values: Mapping[str, Any], record_id: int | None) -> int:
        """Apply a PUT, PATCH or POST body (field -> text or {language: text}) the PrestaShop way."""
        with self.lock:
            if method == "POST":
                record_id = max(self.records[resource.name], default=0) + 1
                record = self._new_record(resource, record_id, {})
            elif record_id not in self.records[resource.name]:
                raise SimError(404, 92, "Invalid ID")
            else:
                record = dict(self.records[resource.name][record_id])
            for f in resource.fields:
                if f.name != "id":
                    self._write_field(record, f, values, partial=method == "PATCH")
            _validate(resource, record)
            if resource.field("date_upd"):
                record["date_upd"] = now_text()
                if method == "POST":
                    record["date_add"] = record["date_upd"]
            self.records[resource.name][record_id] = record
            if resource is PRODUCTS and method == "POST":
                self._after_product_created(record_id, record)
            return record_id

    def _write_field(self, record: dict[str, Any], f: Field, values: Mapping[str, Any], *, partial: bool) -> None:
        if f.name in values:
            if not f.writable:
                raise SimError(400, 93, f'parameter "{f.name}" not writable. Please remove this attribute of this XML')
            value = values[f.name]
            if f.i18n:
                texts = value if isinstance(value, dict) else dict.fromkeys(self.languages, value)
                record[f.name] = {**record[f.name], **{k: v for k, v in texts.items() if k in self.languages}}
            elif f.name == "id_default_image":
                self._set_cover(int(record["id"]), str(value))
            elif f.name == "passwd" and value != record.get("passwd"):
                record[f.name] = _hash_password(str(value))
            elif not f.computed:
                record[f.name] = str(value)
        elif partial or f.computed:
            return
        elif f.required and not f.i18n:
            raise SimError(400, 41, f'parameter "{f.name}" required')
        else:  # PrestaShop sets every omitted field to null
            record[f.name] = dict.fromkeys(self.languages, "") if f.i18n else ""

    def _set_cover(self, product_id: int, image_id: str) -> None:
        images = self.images.get(product_id, [])
        cover = next((image for image in images if str(image.id) == image_id), None)
        if cover is not None:
            images.remove(cover)
            images.insert(0, cover)

    def _after_product_created(self, product_id: int, record: dict[str, Any]) -> None:
        for lang, slug in record["link_rewrite"].items():
            if not slug:
                record["link_rewrite"][lang] = re.sub(r"[^a-z0-9]+", "-", record["name"][lang].lower()).strip("-")
        self._store(STOCK_AVAILABLES, product_id, {
            "id_product": str(product_id), "id_product_attribute": "0", "id_shop": "1", "id_shop_group": "0",
            "quantity": "0", "depends_on_stock": "0", "out_of_stock": "2",
        })
        self.images[product_id] = []

    def mutate(self, ids: Iterable[int] | None, count: int, fields: Mapping[str, Any]) -> list[int]:
        """Change products as a shop clerk would: given ``fields``, or a new price."""
        with self.lock:
            products = self.records["products"]
            chosen = [i for i in ids if i in products] if ids is not None else \
                self._rng.sample(sorted(products), min(count, len(products)))
            for pid in chosen:
                values = {k: {True: "1", False: "0"}.get(v, v) if isinstance(v, bool) else v for k, v in fields.items()}
                values = values or {"price": f"{self._rng.uniform(1, 500):.6f}"}
                if "quantity" in values:
                    self.records["stock_availables"][pid]["quantity"] = str(values.pop("quantity"))
                self.write(PRODUCTS, "PATCH", values, pid)
            return chosen

    # Images

    def image(self, product_id: int, image_id: int) -> SimImage:
        image = next((i for i in self.images.get(product_id, []) if i.id == image_id), None)
        if image is None:
            raise SimError(400, 57, "This image id does not exist")
        return image

    def image_bytes(self, product_id: int, image: SimImage) -> tuple[bytes, str]:
        """A real JPEG (even ids) or PNG (odd ids), the same for the same product, image and version."""
        key = (product_id, image.id, image.version)
        if key not in self._image_cache:
            self._image_cache[key] = _render_image(*key)
        return self._image_cache[key]

    def set_image_mode(self, product_id: int, mode: str, image_id: int | None = None) -> SimImage:
        """Make an image (the cover by default) misbehave, change its bytes, or ``add`` one."""
        with self.lock:
            images = self.images[product_id]
            if mode == "add":
                images.append(self._new_image())
                return images[-1]
            image = self.image(product_id, image_id or (images[0].id if images else 0))
            if mode == "change":
                image.version += 1
            elif mode in IMAGE_MODES:
                image.mode = mode
            else:
                raise SimError(400, 0, f"Unknown image mode {mode!r}")
            return image

    def delete_image(self, product_id: int, image_id: int | None = None) -> None:
        with self.lock:
            images = self.images[product_id]
            images.remove(self.image(product_id, image_id or (images[0].id if images else 0)))

    # Injected failures

    def next_failure(self) -> Failure | None:
        with self.lock:
            if self.fail_next:
                return self.fail_next.popleft()
            if self.failure_rate and self._failure_rng.random() < self.failure_rate:
                return Failure()
            return None

    def config(self) -> dict[str, Any]:
        return {"latency_ms": self.latency_ms, "failure_rate": self.failure_rate,
                "fail_next": len(self.fail_next), "api_key": self.api_key, "languages": list(self.languages)}

    def configure(self, options: Mapping[str, Any]) -> None:
        with self.lock:
            self.latency_ms = float(options.get("latency_ms", self.latency_ms))
            self.failure_rate = float(options.get("failure_rate", self.failure_rate))
            self.api_key = str(options.get("api_key", self.api_key))
            if "fail_next" in options:
                spec = dict(options["fail_next"])
                failure = Failure(int(spec.get("status", 503)), str(spec.get("body", "error")), spec.get("retry_after"))
                self.fail_next.extend([failure] * int(spec.get("count", 1)))

    def raw(self, resource: Resource, record_id: int) -> dict[str, Any]:
        """A record's state for test assertions (``GET /_sim/<resource>/<id>``)."""
        with self.lock:
            view = self.view(resource, record_id)
            if resource is PRODUCTS:
                view["images"] = [vars(image).copy() for image in self.images.get(record_id, [])]
            return view


def _dates(n: int, rng: random.Random) -> dict[str, str]:
    added = EPOCH + timedelta(minutes=5 * n)
    updated = added + timedelta(seconds=rng.randint(0, 30 * 86400))
    return {"date_add": added.strftime(DATETIME_FORMAT), "date_upd": updated.strftime(DATETIME_FORMAT)}


def _hash_password(password: str) -> str:
    return "$sim$" + hashlib.sha256(password.encode()).hexdigest()


def _validate(resource: Resource, record: Mapping[str, Any]) -> None:
    for f in resource.fields:
        value = record.get(f.name)
        if f.i18n and f.required and not value.get(1):
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


def _explicit_ids(expression: str) -> list[int] | None:
    """The ids of an ``[a|b]`` / ``[a]`` filter, to avoid scanning every record."""
    match = re.fullmatch(r"\[([\d|]+)\]", expression)
    return [int(i) for i in match.group(1).split("|") if i] if match else None


def _matches(value: Any, expression: str) -> bool:
    """PrestaShop's ``getSQLRetrieveFilter`` on one value (any language for i18n fields)."""
    if isinstance(value, dict):
        return any(_matches(text, expression) for text in value.values())
    match = _FILTER.match(expression)
    if not match:
        return _compare(value, expression) == 0
    prefix, inner, suffix = match.groups()
    if "%" in (prefix, suffix):
        pattern = re.escape(prefix + inner + suffix).replace("%", ".*")
        return re.fullmatch(pattern, value, re.IGNORECASE) is not None
    if prefix == ">":
        return _compare(value, inner) > 0
    if prefix == "<":
        return _compare(value, inner) < 0
    if prefix == "!":
        return all(_compare(value, v) != 0 for v in inner.split("|"))
    if "|" in inner:
        return any(_compare(value, v) == 0 for v in inner.split("|"))
    between = _RANGE.match(inner)
    if between:
        low, high = sorted(between.groups())
        return _compare(value, low) >= 0 and _compare(value, high) <= 0
    return _compare(value, inner) == 0


def _compare(value: str, other: str) -> int:
    left, right = _sort_key(value), _sort_key(other)
    if type(left) is not type(right):
        left, right = str(value), str(other)
    return (left > right) - (left < right)


def _sort_key(value: Any) -> Any:
    if isinstance(value, dict):
        value = value.get(1, "")
    try:
        return Decimal(value)
    except (InvalidOperation, TypeError):
        return str(value).lower()


def _render_image(product_id: int, image_id: int, version: int) -> tuple[bytes, str]:
    rng = random.Random(f"{product_id}:{image_id}:{version}")
    size = (200, 200)
    gradient = Image.linear_gradient("L").resize(size)
    channels = [gradient.point(lambda v, shift=rng.randrange(256): (v + shift) % 256) for _ in range(2)]
    image = Image.merge("RGB", (channels[0], channels[1].rotate(90), Image.new("L", size, rng.randrange(256))))
    ImageDraw.Draw(image).text((12, 12), f"product {product_id}\nimage {image_id} v{version}", fill=(255, 255, 255))
    image_format = "PNG" if image_id % 2 else "JPEG"
    buffer = io.BytesIO()
    image.save(buffer, image_format)
    return buffer.getvalue(), f"image/{image_format.lower()}"
