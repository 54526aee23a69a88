"""Bulk inserts with PostgreSQL's ``COPY``: a first full sync creates every record of the shop,
with its sync state and its history row, and ``COPY`` takes rows several times faster than
``bulk_create`` (which prepares each value through the ORM and sends them as literal arrays)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import connection, models
from django.utils import timezone

# Values COPY takes as they are; any other, and a JSONField's, is prepared by its field.
_PLAIN = (str, int, float, Decimal, datetime, date, UUID, type(None))


def copy_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """``COPY table (columns) FROM STDIN``, in the caller's transaction."""
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def create_records(model: type[models.Model], objs: list[models.Model]) -> None:
    """Insert new model instances as ``bulk_create`` would (their pks and ``auto_now`` dates set
    on them; no signal), with ``COPY``: their ids are taken from the table's sequence first."""
    if not objs:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objs)
        return
    meta = model._meta
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(objs)],
        )
        ids = [row[0] for row in cursor.fetchall()]
    now = timezone.now()
    fields = [f for f in meta.concrete_fields if not f.generated]
    stamped = [f for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)]
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        for field in stamped:
            setattr(obj, field.attname, now)
        obj._state.adding, obj._state.db = False, connection.alias

    def values(obj: models.Model) -> list[Any]:
        row = []
        for field in fields:
            value = getattr(obj, field.attname)
            plain = isinstance(value, _PLAIN) and not isinstance(field, models.JSONField)
            row.append(value if plain else field.get_db_prep_save(value, connection))
        return row

    copy_rows(meta.db_table, [connection.ops.quote_name(f.column) for f in fields], map(values, objs))


class AnyOf(models.Lookup):
    """``column = ANY(%s)``, the values one array parameter: a filter by a batch's ids without
    an ``IN`` of hundreds of placeholders (which Django compiles and the driver parses again for
    each query). Used as an expression: ``filter(AnyOf(F("shop_id"), ids))``."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, params = self.process_lhs(compiler, connection)
        if connection.vendor != "postgresql":
            values = list(self.rhs)
            if not values:
                return "1 = 0", []
            return f"{lhs} IN ({', '.join(['%s'] * len(values))})", [*params, *values]
        return f"{lhs} = ANY(%s)", [*params, list(self.rhs)]


class DistinctFrom(models.Lookup):
    """``lhs IS DISTINCT FROM rhs``: unequal, a NULL on one side only included. Used as an
    expression: ``filter(DistinctFrom(F("updated_at"), Subquery(...)))``."""

    lookup_name = "distinct_from"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} IS DISTINCT FROM {rhs}", [*lhs_params, *rhs_params]
