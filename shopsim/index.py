"""The simulator's indexes, the ones a shop's database has: the primary key, ``date_upd``
(PrestaShop's tables index it) and ``ps_stock_available``'s ``id_product``.

A list request is answered the way a database would: the filter that an index can bound
gives the candidates by bisection, and when the requested order is the index's order the
rows are read in that order until the page is full, so a page costs O(log n + page size)
however many records the shop holds, not a scan and a sort of all of them.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from shopsim.schema import Resource, explicit_ids

_DATETIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
_DATE_RANGE = re.compile(rf"\[({_DATETIME}),({_DATETIME})\]")
_DATE_BOUND = re.compile(rf"([<>])\[({_DATETIME})\]")
_ID_RANGE = re.compile(r"\[(\d+),(\d+)\]")
_ID_BOUND = re.compile(r"([<>])\[(\d+)\]")
_AFTER_ANY_ID = float("inf")  # (date, inf) sorts after every (date, id)


@dataclass
class Bounds:
    """A range of an index: ``low``/``high`` (None: open), each inclusive or not."""

    low: Any = None
    low_inclusive: bool = True
    high: Any = None
    high_inclusive: bool = True

    def contains(self, value: Any) -> bool:
        if not isinstance(value, type(self.low if self.low is not None else self.high)):
            return False
        if self.low is not None and (value < self.low or (value == self.low and not self.low_inclusive)):
            return False
        return self.high is None or value < self.high or (value == self.high and self.high_inclusive)


def date_bounds(expression: str) -> Bounds | None:
    """``[from,to]``, ``>[x]`` or ``<[x]`` on a date, compared as text as a shop's SQL does
    (fixed-width dates sort as text); None for another form."""
    if match := _DATE_RANGE.fullmatch(expression):
        low, high = sorted(match.groups())
        return Bounds(low, True, high, True)
    if match := _DATE_BOUND.fullmatch(expression):
        operator, bound = match.groups()
        return Bounds(low=bound, low_inclusive=False) if operator == ">" else Bounds(high=bound, high_inclusive=False)
    return None


def id_bounds(expression: str) -> Bounds | None:
    """``[a,b]``, ``>[a]`` or ``<[a]`` on an id; None for another form."""
    if match := _ID_RANGE.fullmatch(expression):
        low, high = sorted(int(n) for n in match.groups())
        return Bounds(low, True, high, True)
    if match := _ID_BOUND.fullmatch(expression):
        operator, bound = match.group(1), int(match.group(2))
        return Bounds(low=bound, low_inclusive=False) if operator == ">" else Bounds(high=bound, high_inclusive=False)
    return None


@dataclass
class Candidates:
    """Record ids to test against the remaining filters, and whether they already come in
    the requested order (then a page stops reading once it is full)."""

    ids: Iterable[int]
    ordered: bool
    used_filter: str | None = None  # the filter the index answered, not tested again


@dataclass
class ResourceIndex:
    """The sorted indexes of one resource's records."""

    ids: list[int] = field(default_factory=list)
    dates: list[tuple[str, int]] | None = None  # (date_upd, id), for resources with date_upd
    by_product: dict[int, set[int]] | None = None  # id_product -> stock row ids

    @classmethod
    def of(cls, resource: Resource) -> ResourceIndex:
        return cls(
            dates=[] if resource.field("date_upd") else None,
            by_product={} if resource.name == "stock_availables" else None,
        )

    def rebuild(self, records: Mapping[int, Mapping[str, Any]]) -> None:
        """Index every record at once (after the generation of the demo data)."""
        self.ids = sorted(records)
        if self.dates is not None:
            self.dates = sorted((record["date_upd"], record_id) for record_id, record in records.items())
        if self.by_product is not None:
            self.by_product.clear()
            for record_id, record in records.items():
                self._add_product(record_id, record)

    def put(self, record_id: int, old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> None:
        """A record was created (``old`` None) or replaced."""
        if old is None:
            if not self.ids or record_id > self.ids[-1]:
                self.ids.append(record_id)
            else:
                insort(self.ids, record_id)
        if self.dates is not None:
            if old is not None:
                del self.dates[bisect_left(self.dates, (old["date_upd"], record_id))]
            insort(self.dates, (new["date_upd"], record_id))
        if self.by_product is not None:
            if old is not None and str(old.get("id_product", "")).isdigit():
                self.by_product.get(int(old["id_product"]), set()).discard(record_id)
            self._add_product(record_id, new)

    def remove(self, record_id: int, old: Mapping[str, Any]) -> None:
        """A record was deleted."""
        del self.ids[bisect_left(self.ids, record_id)]
        if self.dates is not None:
            del self.dates[bisect_left(self.dates, (old["date_upd"], record_id))]
        if self.by_product is not None and str(old.get("id_product", "")).isdigit():
            self.by_product.get(int(old["id_product"]), set()).discard(record_id)

    def _add_product(self, record_id: int, record: Mapping[str, Any]) -> None:
        if str(record.get("id_product", "")).isdigit():
            self.by_product.setdefault(int(record["id_product"]), set()).add(record_id)

    def candidates(self, filters: Mapping[str, str], order: list[tuple[str, bool]]) -> Candidates:
        """The ids the filters can match, from the best index; ``order`` is the requested
        sort (``[]``: by id, the simulator's default)."""
        if (wanted := explicit_ids(filters.get("id", ""))) is not None and wanted:
            return Candidates(wanted, ordered=not order, used_filter="id")
        if self.by_product is not None and (wanted := explicit_ids(filters.get("id_product", ""))) is not None:
            rows = sorted({i for pid in wanted for i in self.by_product.get(pid, ())})
            return Candidates(rows, ordered=not order, used_filter="id_product")
        key = _order_key(order)
        by_id = id_bounds(filters["id"]) if "id" in filters else None
        by_date = date_bounds(filters["date_upd"]) if self.dates is not None and "date_upd" in filters else None
        if key in ([("id", False)], [("id", True)]):
            return self._id_range(by_id, descending=key[0][1], ordered=True)
        if self.dates is not None and key in ([("date_upd", False), ("id", False)], [("date_upd", True), ("id", True)]):
            return self._date_range(by_date, descending=key[0][1], ordered=True)
        if by_date is not None and by_id is None:
            return self._date_range(by_date, descending=False, ordered=False)
        return self._id_range(by_id, descending=False, ordered=False)

    def _id_range(self, bounds: Bounds | None, *, descending: bool, ordered: bool) -> Candidates:
        if bounds is None:
            return Candidates(_walk(self.ids, 0, len(self.ids), descending), ordered)
        start = 0 if bounds.low is None else _bisect(self.ids, bounds.low, after=not bounds.low_inclusive)
        end = len(self.ids) if bounds.high is None else _bisect(self.ids, bounds.high, after=bounds.high_inclusive)
        return Candidates(_walk(self.ids, start, end, descending), ordered, used_filter="id")

    def _date_range(self, bounds: Bounds | None, *, descending: bool, ordered: bool) -> Candidates:
        dates = self.dates
        if bounds is None:
            return Candidates((i for _, i in _walk(dates, 0, len(dates), descending)), ordered)
        start = 0
        if bounds.low is not None:
            start = bisect_left(dates, (bounds.low, _AFTER_ANY_ID if not bounds.low_inclusive else -1))
        end = len(dates)
        if bounds.high is not None:
            end = bisect_left(dates, (bounds.high, _AFTER_ANY_ID if bounds.high_inclusive else -1))
        return Candidates((i for _, i in _walk(dates, start, end, descending)), ordered, used_filter="date_upd")


def _order_key(order: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    """The requested order up to its first unique key (the id), which decides every tie;
    ``[]`` is the simulator's default, by id."""
    key: list[tuple[str, bool]] = []
    for name, descending in order or [("id", False)]:
        key.append((name, descending))
        if name == "id":
            return key
    return [*key, ("id", False)]  # ties stay in id order (stable sorts of the id-ordered records)


def _bisect(ids: list[int], bound: int, *, after: bool) -> int:
    return bisect_right(ids, bound) if after else bisect_left(ids, bound)


def _walk(items: list, start: int, end: int, descending: bool) -> Iterator:
    """``items[start:end]`` one by one, without copying, in either direction."""
    if descending:
        return (items[i] for i in range(end - 1, start - 1, -1))
    return (items[i] for i in range(start, end))
