"""The lists' queries use their indexes, on both databases (EXPLAIN): a page or a search costs
what its rows cost, not what the library holds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sessions import selectors
from sessions.filters import LibraryImageFilter, SessionFilter
from sessions.models import Session
from sessions.search import engines
from sessions.services import known
from sessions.services.synced_folders import database_marks
from sessions.stats import STATS_VERSION

pytestmark = pytest.mark.django_db


def plan(queryset) -> str:
    """The plan of ``queryset``'s SQL, as text: SQLite's EXPLAIN QUERY PLAN lines, or PostgreSQL's
    JSON plan (with sequential scans and sorts discouraged: the tables here are tiny, and earlier
    tests leave the planner statistics of their own; the question is whether an index *can*
    serve the query, as it does at scale, where bench/scale.py measures it)."""
    return plan_of(*queryset.query.get_compiler(using="default").as_sql())


def plan_of(sql: str, params) -> str:
    """``plan`` of a query written as SQL."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            return "\n".join(row[-1] for row in cursor.fetchall())
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        return json.dumps(cursor.fetchone()[0])


def nodes(plan_json: str) -> Iterator[dict]:
    def walk(node: dict) -> Iterator[dict]:
        yield node
        for child in node.get("Plans", []):
            yield from walk(child)

    for root in json.loads(plan_json):
        yield from walk(root["Plan"])


def page_ids(filterset_class, query: str, base):
    filterset = filterset_class(QueryDict(query), queryset=base)
    assert filterset.is_valid(), filterset.errors
    return filterset.qs.prefetch_related(None).values_list("pk", flat=True)[900:1000]


def assert_walks_index(queryset, index: str, *, sorted_by_index: bool = True) -> None:
    """``index`` serves the query; with ``sorted_by_index``, its order is the list's (no sort).
    (PostgreSQL may still join a tiny table's matches by hash and sort them: it weighs the
    two plans by the table's size, which the tests cannot give it.)"""
    text = plan(queryset)
    if connection.vendor == "sqlite":
        assert f"USING INDEX {index}" in text or f"USING COVERING INDEX {index}" in text, text
        assert "TEMP B-TREE FOR ORDER BY" not in text, text
    else:
        assert any(node.get("Index Name") == index for node in nodes(text)), text
        if sorted_by_index:
            assert not any(node["Node Type"] in ("Sort", "Incremental Sort") for node in nodes(text)), text


@pytest.mark.parametrize(("ordering", "index"), [
    ("", "session_by_created"), ("-created_at", "session_by_created"), ("created_at", "session_by_created_asc"),
    ("-images_actual", "session_by_images"), ("images_actual", "session_by_images_asc"),
    ("-updated_at", "session_by_updated"), ("updated_at", "session_by_updated_asc"),
    ("-completion_percentage", "session_by_completion"), ("completion_percentage", "session_by_completion_asc"),
])
def test_a_deep_page_of_sessions_walks_its_order_s_index(synced_results: Path, ordering: str, index: str) -> None:
    assert_walks_index(page_ids(SessionFilter, f"ordering={ordering}", selectors.sessions_with_details()), index)


def test_a_page_of_images_walks_the_newest_first_index(synced_results: Path) -> None:
    assert_walks_index(page_ids(LibraryImageFilter, "", selectors.library_images()), "image_newest_first")


def test_a_dense_search_walks_the_order_and_a_rare_one_looks_up(synced_results: Path, monkeypatch) -> None:
    monkeypatch.setattr(engines, "DENSE_AT", 2)  # "blurry" is in every session; "angry" in one
    assert_walks_index(page_ids(SessionFilter, "q=blurry", selectors.sessions_with_details()), "session_by_created")
    assert_walks_index(page_ids(LibraryImageFilter, "q=blurry", selectors.library_images()), "image_newest_first",
                       sorted_by_index=False)
    # A rare one hands its few ids over as such: looked up by primary key, a few rows sorted.
    rare = plan(page_ids(SessionFilter, "q=angry", selectors.sessions_with_details()))
    if connection.vendor == "sqlite":
        assert "PRIMARY KEY" in rare and "gen_sessions_session_fts" not in rare, rare
    else:
        assert "gen_sessions_session_fts" not in rare and "gen_sessions_sessionsearch" not in rare, rare


@pytest.mark.parametrize(("index", "term"), [(engines.SESSIONS, "angry"), (engines.IMAGE_TEXTS, "angry"),
                                             (engines.SESSION_OWN_WORDS, "random")])
def test_every_search_reads_its_full_text_index(synced_results: Path, index: str, term: str) -> None:
    from sessions.search.query import parse_query

    subquery = engines.matching_ids(index, include=parse_query(term).include)
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {subquery.sql}", subquery.params)
            text = "\n".join(row[-1] for row in cursor.fetchall())
            assert "VIRTUAL TABLE INDEX" in text, text
        else:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN (FORMAT JSON) {subquery.sql}", subquery.params)
            text = json.dumps(cursor.fetchone()[0])
            assert any(node["Node Type"] == "Bitmap Index Scan" for node in nodes(text)), text


def test_stats_of_another_version_are_found_by_their_index(synced_results: Path) -> None:
    """Every whole sync asks which sessions have stats of another version (none, but after an
    upgrade): a look in an index, not a read of every stats row."""
    text = plan_of(known._OUTDATED_SQL, [STATS_VERSION, STATS_VERSION])
    if connection.vendor == "sqlite":
        assert "USING INDEX stats_of_version" in text or "USING COVERING INDEX stats_of_version" in text, text
        assert "SCAN st" not in text, text
    else:
        assert any(node.get("Index Name") == "stats_of_version" for node in nodes(text)), text


def test_the_newest_session_write_is_read_from_an_index(db: None) -> None:
    """Every whole sync reads it to know whether the database moved since the last one. (A
    library of a few rows is read whole by either database: it takes a few thousand, with the
    planner's statistics of them, for the index to be the way.)"""
    now = timezone.now()
    Session.objects.bulk_create(
        Session(name=f"20250101_{number:06d}-plan", status="completed", status_source="watchdog",
                status_changed_at=now, created_at=now, last_activity_at=now, first_seen_at=now,
                updated_at=now - timedelta(seconds=number))
        for number in range(3000))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    with CaptureQueriesContext(connection) as queries:
        database_marks()
    sql = next(query["sql"] for query in queries.captured_queries if "MAX(" in query["sql"].upper())
    text = plan_of(sql, [])
    if connection.vendor == "sqlite":
        assert "USING INDEX session_by_updated" in text or "USING COVERING INDEX session_by_updated" in text, text
    else:
        assert any(node.get("Index Name", "").startswith("session_by_updated") for node in nodes(text)), text
