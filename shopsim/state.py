"""In-memory state of the shop simulator: its records, images, request
counters and misbehaviour options, with the webservice's query and write
semantics (filters, sort, limit, PUT wiping omitted fields).

Every stored value is a string, as in PrestaShop; a multilingual value is a
``{language id: text}`` dict. The rules follow PrestaShop 1.7+'s webservice (docs/catalog.md).
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from shopsim.data import (
    DATETIME_FORMAT,
    customer_values,
    hash_password,
    now_text,
    order_values,
    product_values,
    render_image,
    stock_values,
)
from shopsim.index import ResourceIndex, date_bounds
from shopsim.schema import (
    CUSTOMERS,
    ORDERS,
    PRODUCTS,
    RESOURCES,
    STOCK_AVAILABLES,
    Field,
    Resource,
    SimError,
    compile_filter,
    field_sort_key,
    filterable_field,
    validate,
)

DEMO_API_KEY = "SIMULATORDEMOKEY0123456789ABCDEF"
DEFAULT_VERSION = "8.1.7"
IMAGE_MODES = ("normal", "corrupt", "html", "huge", "huge_chunked", "missing")


@dataclass
class SimImage:
    """A product image: a new ``version`` means new bytes; ``mode`` makes it misbehave."""

    id: int
    version: int = 1
    mode: str = "normal"


@dataclass
class Failure:
    """An injected failure: the next API request answers ``status`` with this body."""

    status: int = 503
    body: str = "error"  # error (PrestaShop envelope), html, empty
    retry_after: float | None = None
    method: str | None = None  # only requests with this method; None for any
    code: int = 0  # the PrestaShop error code in the envelope (85: a field value the shop refuses)
    after: bool = False  # the request is carried out, then its answer lost (a gateway timing out)


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
        version: str = DEFAULT_VERSION,
    ) -> None:
        self.lock = threading.RLock()
        self.languages = tuple(range(1, languages + 1))
        self.api_key, self.latency_ms, self.failure_rate = api_key, latency_ms, failure_rate
        self.version = version  # the PSWS-Version header; PATCH from 8.0 on, as PrestaShop
        self.fail_next: deque[Failure] = deque()
        self.stats = Stats()
        self.records: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in RESOURCES}
        self.images: dict[int, list[SimImage]] = {}
        self._rng = random.Random(seed)
        self._failure_rng = random.Random(seed + 1)
        self.auto_increment: dict[str, int] = {}  # resource -> the highest id a POST gave
        self._image_cache: dict[tuple[int, int, int], tuple[bytes, str]] = {}
        self._next_image_id = 1
        self.indexes: dict[str, ResourceIndex] = {}  # built at once after the generation
        self._generate(products, customers, orders, no_image_ratio)
        for name, resource in RESOURCES.items():
            self.indexes[name] = ResourceIndex.of(resource)
            self.indexes[name].rebuild(self.records[name])

    # Data generation

    def _generate(self, products: int, customers: int, orders: int, no_image_ratio: float) -> None:
        rng = self._rng
        for pid in range(1, products + 1):
            self._store(PRODUCTS, pid, product_values(pid, rng), {"categories": [{"id": "2"}]})
            self._store(STOCK_AVAILABLES, pid, stock_values(pid, rng.randint(0, 200)))
            with_images = rng.random() >= no_image_ratio
            self.images[pid] = [self._new_image() for _ in range(rng.randint(1, 3))] if with_images else []
        for cid in range(1, customers + 1):
            self._store(CUSTOMERS, cid, customer_values(cid, rng), {"groups": [{"id": "3"}]})
        for oid in range(1, orders + 1):
            order, rows = order_values(oid, rng, customers, products)
            self._store(ORDERS, oid, order, {"order_rows": rows})

    def _store(
        self,
        resource: Resource,
        record_id: int,
        values: Mapping[str, Any],
        associations: Mapping[str, list[dict[str, str]]] | None = None,
    ) -> None:
        record = self._new_record(resource, record_id, values)
        record["associations"] = dict(associations or {})
        self._put(resource, record_id, record)

    def _new_record(self, resource: Resource, record_id: int, values: Mapping[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {"id": str(record_id), "associations": {}}
        for f in resource.fields:
            if f.name != "id" and not f.computed:
                value = values.get(f.name, "")
                record[f.name] = {lang: (value or {}).get(lang, "") for lang in self.languages} if f.i18n else value
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
            view |= {
                "id_default_image": str(images[0].id) if images else "",
                "position_in_category": "0",
                "manufacturer_name": "Simulated Manufacturer",
                "type": "simple",
                "quantity": stock["quantity"] if stock else "0",
            }
            associations["images"] = [{"id": str(image.id)} for image in images]
            associations["stock_availables"] = [{"id": str(record_id), "id_product_attribute": "0"}] if stock else []
        view["associations"] = associations
        return view

    def query(
        self,
        resource: Resource,
        filters: Mapping[str, str],
        sort: list[tuple[str, bool]],
        limit: tuple[int, int | None],
        *,
        dates: bool,
    ) -> list[int]:
        """Ids matching PrestaShop's ``filter[...]``, ``sort`` and ``limit`` (already parsed),
        found through the resource's indexes (``shopsim.index``) as a shop's database would."""
        for name in filters:
            filterable_field(resource, name, dates=dates, code=32)
        sort_fields = [(filterable_field(resource, name, dates=dates, code=38), desc) for name, desc in sort]
        records = self.records[resource.name]
        candidates = self.indexes[resource.name].candidates(filters, sort)
        tests = [
            (name, _date_range(resource, name, expression) or compile_filter(expression))
            for name, expression in filters.items()
            if name != candidates.used_filter
        ]
        matches = (i for i in candidates.ids if i in records and all(test(records[i][name]) for name, test in tests))
        offset, count = limit
        end = None if count is None else offset + count
        if candidates.ordered:
            return list(islice(matches, offset, end))
        found = list(matches)
        for sort_field, descending in reversed(sort_fields):  # stable sorts, last key first
            found.sort(key=_record_key(records, sort_field), reverse=descending)
        return found[offset:end]

    def _put(self, resource: Resource, record_id: int, record: dict[str, Any]) -> None:
        """Store a record and keep its resource's indexes."""
        records = self.records[resource.name]
        if resource.name in self.indexes:
            self.indexes[resource.name].put(record_id, records.get(record_id), record)
        records[record_id] = record

    # Writing

    def write(self, resource: Resource, method: str, values: Mapping[str, Any], record_id: int | None) -> int:
        """Apply a PUT, PATCH or POST body (field -> text or {language: text}) the PrestaShop way."""
        with self.lock:
            if method == "POST":
                # MySQL's AUTO_INCREMENT: an id is never given twice, even after a DELETE.
                ids = self.indexes[resource.name].ids
                record_id = max(ids[-1] if ids else 0, self.auto_increment.get(resource.name, 0)) + 1
                self.auto_increment[resource.name] = record_id
                record = self._new_record(resource, record_id, {})
            elif record_id not in self.records[resource.name]:
                raise SimError(404, 92, "Invalid ID")
            else:
                record = dict(self.records[resource.name][record_id])
            for f in resource.fields:
                if f.name != "id":
                    self._write_field(record, f, values, partial=method == "PATCH")
            validate(resource, record)
            if resource.field("date_upd"):
                record["date_upd"] = now_text()
                if method == "POST":
                    record["date_add"] = record["date_upd"]
            self._put(resource, record_id, record)
            if resource is PRODUCTS and method == "POST":
                self._after_product_created(record_id, record)
            return record_id

    def delete(self, resource: Resource, record_id: int) -> None:
        """A DELETE: the record goes (a product with its stock rows and images)."""
        with self.lock:
            if record_id not in self.records[resource.name]:
                raise SimError(404, 92, "Invalid ID")
            self._remove(resource, record_id)
            if resource is PRODUCTS:
                stock = self.indexes["stock_availables"].by_product or {}
                for row_id in sorted(stock.get(record_id, ())):
                    self._remove(STOCK_AVAILABLES, row_id)
                self.images.pop(record_id, None)

    def _remove(self, resource: Resource, record_id: int) -> None:
        old = self.records[resource.name].pop(record_id)
        self.indexes[resource.name].remove(record_id, old)

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
                record[f.name] = hash_password(str(value))
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
        self._store(STOCK_AVAILABLES, product_id, stock_values(product_id, 0))
        self.images[product_id] = []

    def mutate(self, ids: Iterable[int] | None, count: int, fields: Mapping[str, Any]) -> list[int]:
        """Change products as a shop clerk would: given ``fields``, or a new price."""
        with self.lock:
            products = self.records["products"]
            chosen = (
                [i for i in ids if i in products]
                if ids is not None
                else self._rng.sample(sorted(products), min(count, len(products)))
            )
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
            self._image_cache[key] = render_image(*key)
        return self._image_cache[key]

    def set_image_mode(self, product_id: int, mode: str, image_id: int | None = None) -> SimImage:
        """Make an image (the cover by default) misbehave, change its bytes, or ``add`` one."""
        with self.lock:
            images = self.images[product_id]
            if mode == "add":
                images.append(self._new_image())
                self._touch(product_id)
                return images[-1]
            image = self.image(product_id, image_id or (images[0].id if images else 0))
            if mode == "change":
                image.version += 1
                self._touch(product_id)
            elif mode in IMAGE_MODES:
                image.mode = mode
            else:
                raise SimError(400, 0, f"Unknown image mode {mode!r}")
            return image

    def delete_image(self, product_id: int, image_id: int | None = None) -> None:
        with self.lock:
            images = self.images[product_id]
            images.remove(self.image(product_id, image_id or (images[0].id if images else 0)))
            self._touch(product_id)

    def _touch(self, product_id: int) -> None:
        """PrestaShop updates a product when its images change: its ``date_upd`` moves
        forward (here at least one second, so two changes in one second stay visible)."""
        record = self.records["products"][product_id]
        previous = datetime.strptime(record["date_upd"], DATETIME_FORMAT) if record["date_upd"] else None
        moment = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        if previous is not None and moment <= previous:
            moment = previous + timedelta(seconds=1)
        self._put(PRODUCTS, product_id, {**record, "date_upd": moment.strftime(DATETIME_FORMAT)})

    @property
    def accepts_patch(self) -> bool:
        """PrestaShop's webservice takes PATCH from version 8.0 on."""
        major = self.version.split(".", 1)[0]
        return major.isdigit() and int(major) >= 8

    # Injected failures

    def next_failure(self, method: str) -> Failure | None:
        with self.lock:
            for index, failure in enumerate(self.fail_next):
                if failure.method in (None, method):
                    del self.fail_next[index]
                    return failure
            if self.failure_rate and self._failure_rng.random() < self.failure_rate:
                return Failure()
            return None

    def config(self) -> dict[str, Any]:
        return {
            "latency_ms": self.latency_ms,
            "version": self.version,
            "failure_rate": self.failure_rate,
            "fail_next": len(self.fail_next),
            "api_key": self.api_key,
            "languages": list(self.languages),
        }

    def configure(self, options: Mapping[str, Any]) -> None:
        with self.lock:
            self.latency_ms = float(options.get("latency_ms", self.latency_ms))
            self.version = str(options.get("version", self.version))
            self.failure_rate = float(options.get("failure_rate", self.failure_rate))
            self.api_key = str(options.get("api_key", self.api_key))
            if "fail_next" in options:
                spec = dict(options["fail_next"])
                failure = Failure(
                    int(spec.get("status", 503)),
                    str(spec.get("body", "error")),
                    spec.get("retry_after"),
                    spec.get("method"),
                    int(spec.get("code", 0)),
                    bool(spec.get("after", False)),
                )
                self.fail_next.extend([failure] * int(spec.get("count", 1)))

    def raw(self, resource: Resource, record_id: int) -> dict[str, Any]:
        """A record's state for test assertions (``GET /_sim/<resource>/<id>``)."""
        with self.lock:
            view = self.view(resource, record_id)
            if resource is PRODUCTS:
                view["images"] = [vars(image).copy() for image in self.images.get(record_id, [])]
            return view


def _date_range(resource: Resource, name: str, expression: str) -> Callable[[Any], bool] | None:
    """A date range or bound as a test on the text (``shopsim.index.date_bounds``); None for a
    field that is not a date, or another form (:func:`compile_filter` then parses it)."""
    f = resource.field(name)
    bounds = date_bounds(expression) if f is not None and f.kind == "date" else None
    return bounds.contains if bounds is not None else None


def _record_key(records: Mapping[int, Mapping[str, Any]], f: Field) -> Callable[[int], Any]:
    """Sort key of record ids by one of their fields."""
    key = field_sort_key(f)
    return lambda record_id: key(records[record_id][f.name])
