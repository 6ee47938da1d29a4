"""Many model rows in a few statements, for the sync's batches.

``bulk_create`` compiles SQL and prepares each value through its field for every object; for a
first sync of 100,000 sessions (a session, its stats, its search document and an event each) that
was most of the time spent. Here each field's conversion is chosen once, plain values (numbers,
text, foreign keys) pass as they are, and one multi-row statement is built per batch (on
PostgreSQL a plain insert is a COPY). No signals, as with ``bulk_create``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connections, models, router

_PLAIN = (models.IntegerField, models.CharField, models.TextField, models.BooleanField, models.FloatField,
          models.ForeignKey, models.AutoField, models.BigAutoField)


def _converter(field: models.Field, connection: Any) -> Callable[[Any], Any] | None:
    """How a value of ``field`` is handed to the driver; None: as it is."""
    if isinstance(field, _PLAIN):
        return None

    def prepare(value: Any) -> Any:
        return field.get_db_prep_save(value, connection)

    if isinstance(field, models.DateTimeField) and settings.USE_TZ:
        return _aware_datetimes(prepare, connection)
    return prepare


def _aware_datetimes(prepare: Callable[[Any], Any], connection: Any) -> Callable[[Any], Any]:
    """An aware datetime as the backend adapts it (Django's conversion checks and converts each
    value through five layers, 7 µs a value, and every session, stats row and event of a sync
    carries several: a first sync went 3–5 % faster without them on SQLite, 1–3 % on
    PostgreSQL); anything else through Django's."""
    if connection.vendor == "sqlite":  # text in the connection's zone, as Django's adapter writes it
        zone = connection.timezone

        def to_text(value: Any) -> Any:
            if type(value) is datetime and value.tzinfo is not None:
                return value.astimezone(zone).replace(tzinfo=None).isoformat(" ")
            return prepare(value)

        return to_text
    if connection.vendor == "postgresql":  # psycopg takes it as it is

        def as_it_is(value: Any) -> Any:
            return value if type(value) is datetime and value.tzinfo is not None else prepare(value)

        return as_it_is
    return prepare


def insert_objects(objs: Sequence[models.Model], *, returning_pk: bool = False,
                   update_conflicts_on: Sequence[str] = (), update_fields: Sequence[str] = ()) -> None:
    """INSERT ``objs`` (all of one model; on PostgreSQL, but for an upsert, by COPY); with
    ``returning_pk`` set each one's generated key.

    ``update_conflicts_on`` (unique fields) and ``update_fields``: an upsert, as
    ``bulk_create(update_conflicts=True)`` (SQLite and PostgreSQL share the syntax).
    """
    if not objs:
        return
    model = type(objs[0])
    connection = connections[router.db_for_write(model)]
    ops = connection.ops
    # Every column but a database-generated key (a one-to-one key, as SessionStats', is written).
    fields = [field for field in model._meta.concrete_fields if not field.db_returning]
    for field in fields:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            for obj in objs:
                field.pre_save(obj, add=True)
    converters = [(field.attname, _converter(field, connection)) for field in fields]
    if connection.vendor == "postgresql" and not update_conflicts_on:
        _copy(objs, connection, fields, converters, returning_pk=returning_pk)
        return
    table = ops.quote_name(model._meta.db_table)

    def column(field: models.Field | str) -> str:
        named = model._meta.get_field(field) if isinstance(field, str) else field
        assert isinstance(named, models.Field) and named.column
        return ops.quote_name(named.column)

    columns = ", ".join(column(field) for field in fields)
    suffix = ""
    if update_conflicts_on:
        target = ", ".join(column(name) for name in update_conflicts_on)
        updates = ", ".join(f"{column(name)} = EXCLUDED.{column(name)}" for name in update_fields)
        suffix = f" ON CONFLICT ({target}) DO UPDATE SET {updates}"
    if returning_pk:
        suffix += f" RETURNING {ops.quote_name(model._meta.pk.column)}"
    row_placeholder = f"({', '.join(['%s'] * len(fields))})"
    batch = max(1, ops.bulk_batch_size(fields, objs))
    with connection.cursor() as cursor:
        for start in range(0, len(objs), batch):
            chunk = objs[start:start + batch]
            params: list[Any] = []
            for obj in chunk:
                for attname, convert in converters:
                    value = getattr(obj, attname)
                    params.append(value if convert is None else convert(value))
            cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {', '.join([row_placeholder] * len(chunk))}"
                           f"{suffix}", params)
            if returning_pk:
                # Rows come back in the VALUES' order on both databases (bulk_create relies on it too).
                for obj, (pk,) in zip(chunk, cursor.fetchall(), strict=True):
                    obj.pk = pk
                    obj._state.adding = False
                    obj._state.db = connection.alias


def _copy(objs: Sequence[models.Model], connection: Any, fields: list[models.Field],
          converters: list[tuple[str, Callable[[Any], Any] | None]], *, returning_pk: bool) -> None:
    """PostgreSQL: ``insert_objects`` by COPY; generated keys are taken from the sequence first."""
    model = type(objs[0])
    pk = model._meta.pk
    assert pk is not None
    columns = [str(field.column) for field in fields]
    converters = [(attname, _json_as_text(field) if isinstance(field, models.JSONField) else convert)
                  for (attname, convert), field in zip(converters, fields, strict=True)]
    if returning_pk and pk.db_returning:
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                           [model._meta.db_table, pk.column, len(objs)])
            for obj, (key,) in zip(objs, cursor.fetchall(), strict=True):
                obj.pk = key
        columns.insert(0, str(pk.column))
        converters = [(pk.attname, None), *converters]
    copy_rows(connection, table=model._meta.db_table, columns=columns,
              rows=([getattr(obj, attname) if convert is None else convert(getattr(obj, attname))
                     for attname, convert in converters] for obj in objs))
    if returning_pk:
        for obj in objs:
            obj._state.adding = False
            obj._state.db = connection.alias


def json_text(value: Any, encoder: type[json.JSONEncoder] | None = None) -> str:
    """A JSON column's value as text, as Django hands it to SQLite and as COPY reads it."""
    return json.dumps(value, cls=encoder)


def _json_as_text(field: models.JSONField) -> Callable[[Any], Any]:
    """COPY takes a JSON column's value as its text (rows of three values, one of them wrapped in
    psycopg's Jsonb, took four times as long to write); None stays SQL NULL, as Django stores it."""
    encoder = field.encoder

    def as_text(value: Any) -> Any:
        return None if value is None else json_text(value, encoder)

    return as_text


def copy_rows(connection: Any, *, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """PostgreSQL: ``rows`` (values as the driver takes them) into ``table`` by COPY, which psycopg
    streams without building, and parsing again, one statement of thousands of placeholders (with
    it, and new sessions written with their change numbers, a first sync took about a quarter
    less time)."""
    ops = connection.ops
    names = ", ".join(ops.quote_name(column) for column in columns)
    with connection.cursor() as cursor:
        # COPY runs on the driver's cursor: its errors are turned into Django's here (IntegrityError…).
        with connection.wrap_database_errors, cursor.cursor.copy(f"COPY {ops.quote_name(table)} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
