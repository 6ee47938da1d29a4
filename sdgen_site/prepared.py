"""Queries compiled once, for the lookups every request makes."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any
from weakref import WeakKeyDictionary

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import QuerySet


class PreparedQuery:
    """A read query the ORM builds and compiles once per database connection, then runs again
    with a new value: for the hot lookups where building and compiling the query costs more
    than running it. ``build`` makes the queryset from a marker value that stands for the
    value given each time; the ORM's own converters turn the columns into Python values.
    ``marker`` stands for the value in the built query: a string, or for a number column a
    number no real query parameter equals."""

    MARKER = "\x00prepared-query-value\x00"
    NUMBER_MARKER = -7_340_052_918_263

    def __init__(self, build: Callable[[Any], QuerySet], *, marker: str | int = MARKER) -> None:
        self.build = build
        self.marker = marker
        self.compiled: WeakKeyDictionary[Any, tuple[Any, str, str | None, list[Any], list[int], list[Any]]] = (
            WeakKeyDictionary())

    def rows(self, value: str | int) -> list[tuple[Any, ...]]:
        connection = connections[DEFAULT_DB_ALIAS]
        if connection not in self.compiled:
            compiler = self.build(self.marker).query.get_compiler(connection=connection)
            sql, params = compiler.as_sql()
            at = [index for index, param in enumerate(params) if param == self.marker]
            # What results_iter would work out again on every run.
            converters = compiler.get_converters([column[0] for column in compiler.select[:compiler.col_count]])
            qmark_sql = None
            if connection.vendor == "sqlite":
                with connection.cursor() as cursor:
                    qmark_sql = cursor.cursor.convert_query(sql)
            self.compiled[connection] = (compiler, sql, qmark_sql, list(params), at, converters)
        compiler, sql, qmark_sql, params, at, converters = self.compiled[connection]
        params = list(params)
        for index in at:
            params[index] = value
        with connection.cursor() as cursor:
            if qmark_sql is not None and not connection.queries_logged and not connection.execute_wrappers:
                # Django's SQLite cursor rewrites %s as ? with a regular expression on every
                # run (long texts here: a fifth of the instructions of a small API answer with
                # two such queries): the rewritten text is kept. What
                # Django's cursor does around a query is done here too (a broken transaction
                # refused, errors turned into Django's); logged or wrapped queries (query
                # counts in tests, instrumentation) go the usual way.
                connection.validate_no_broken_transaction()
                with connection.wrap_database_errors:
                    sqlite3.Cursor.execute(cursor.cursor, qmark_sql, params)
            else:
                cursor.execute(sql, params)
            fetched = cursor.fetchall()
        if not converters:
            return fetched
        return [tuple(row) for row in compiler.apply_converters(fetched, converters)]
