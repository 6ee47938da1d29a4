"""Queries compiled once (sdgen_site/prepared.py): the same rows as the ORM gives, whether
Django's cursor runs them or (SQLite, queries not logged) the prepared text runs directly."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models.expressions import RawSQL
from django.db.transaction import TransactionManagementError

from sdgen_site.prepared import PreparedQuery
from sessions.models import Session

pytestmark = pytest.mark.django_db

BY_NAME = PreparedQuery(lambda name: Session.objects.filter(name=name).annotate(
    percent=RawSQL("'100%%'", [])).values_list("name", "images_actual", "created_at", "percent"))
BY_ID = PreparedQuery(lambda pk: Session.objects.filter(pk=pk).values_list("name", "is_missing"),
                      marker=PreparedQuery.NUMBER_MARKER)
BROKEN = PreparedQuery(lambda name: Session.objects.filter(name=name).annotate(
    x=RawSQL("SELECT 1 FROM no_such_table", [])).values_list("name", "x"))


def test_the_rows_are_the_orm_s_whichever_way_they_are_run(synced_results: Path, django_assert_num_queries) -> None:
    sessions = list(Session.objects.order_by("name"))
    expected = {s.name: [(s.name, s.images_actual, s.created_at, "100%")] for s in sessions}
    assert {s.name: BY_NAME.rows(s.name) for s in sessions} == expected
    assert BY_NAME.rows("no such session") == []
    assert BY_ID.rows(sessions[0].pk) == [(sessions[0].name, False)]
    with django_assert_num_queries(len(sessions)):  # logged: through Django's cursor, counted
        assert {s.name: BY_NAME.rows(s.name) for s in sessions} == expected


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the rewritten text is SQLite's")
def test_sqlite_runs_the_rewritten_text_when_queries_are_not_logged(synced_results: Path, monkeypatch) -> None:
    from django.db.backends.sqlite3.base import SQLiteCursorWrapper

    name = Session.objects.values_list("name", flat=True).first()
    BY_NAME.rows(name)  # compiled (and rewritten) for this connection
    rewrites = []
    original = SQLiteCursorWrapper.convert_query
    monkeypatch.setattr(SQLiteCursorWrapper, "convert_query",
                        lambda self, query, **kw: rewrites.append(query) or original(self, query, **kw))
    assert BY_NAME.rows(name)[0][0] == name
    assert rewrites == []


def test_errors_are_django_s_and_a_broken_transaction_is_refused(synced_results: Path) -> None:
    name = Session.objects.values_list("name", flat=True).first()
    with pytest.raises(DatabaseError) as raised, transaction.atomic():
        BROKEN.rows(name)
    assert raised.type.__module__ == "django.db.utils"  # Django's classes, as the 503 middleware expects
    with transaction.atomic():
        with pytest.raises(DatabaseError), transaction.atomic(savepoint=False):
            BROKEN.rows(name)
        with pytest.raises(TransactionManagementError):
            BY_NAME.rows(name)
